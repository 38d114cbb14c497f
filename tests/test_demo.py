"""The main job, shortened: TSM must beat TSN clearly on videos that differ only in temporal order."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_quick_demo_tsm_beats_tsn(tmp_path):
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'run_demo.py'), '--quick', '--output_dir',
                             str(tmp_path)], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    with open(tmp_path / 'results.json') as f:
        results = {r['arch']: r for r in json.load(f)['results']}
    assert '| TSM |' in result.stdout and '| TSN |' in result.stdout
    assert results['tsm']['num_videos'] == results['tsn']['num_videos'] > 0
    assert results['tsn']['top1'] <= 62.5  # per-frame model: chance within each pair (<= 50 % expected)
    assert results['tsm']['top1'] >= results['tsn']['top1'] + 25
