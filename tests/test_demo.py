"""The main job: run_demo.py end to end, where TSM learns the temporal order that TSN cannot see."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.slow
def test_quick_demo_tsm_beats_tsn_by_a_clear_margin(tmp_path):
    """`run_demo.py --quick`: data, train, eval and table for both models; a shorter schedule than the full demo."""
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'run_demo.py'), '--quick', '--output_dir',
                             str(tmp_path)], capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    with open(tmp_path / 'results.json') as f:
        results = {r['arch']: r for r in json.load(f)['results']}
    assert '| TSM |' in result.stdout and '| TSN |' in result.stdout and 'total wall time' in result.stdout
    assert results['tsm']['num_videos'] == results['tsn']['num_videos'] == 6 * 8
    tsm, tsn = results['tsm']['top1'], results['tsn']['top1']
    assert tsm >= tsn + 20 and tsn <= 60, (tsm, tsn)
    for arch in ('tsm', 'tsn'):
        assert len(json.load(open(tmp_path / arch / 'eval.json'))['videos']) == 6 * 8


def test_run_demo_archs_option_accepts_only_known_models():
    sys.path.insert(0, ROOT)
    import run_demo

    assert run_demo.parse_args(['--archs', 'tin,tsm']).archs == ['tin', 'tsm']
    assert run_demo.parse_args([]).archs == ['tsm', 'tsn']
    for bad in ('tsm,i3d', 'tsm,tsm', ''):
        with pytest.raises(SystemExit):
            run_demo.parse_args(['--archs', bad])
    for arch in run_demo.ARCHS:  # every model it offers has its demo config
        assert os.path.isfile(os.path.join(ROOT, 'configs', f'demo_{arch}.yaml'))


def test_results_of_later_runs_join_those_on_the_same_data(tmp_path):
    sys.path.insert(0, ROOT)
    import run_demo

    path, same, other = str(tmp_path / 'results.json'), {'size': [(64, 8), 16], 'seed': 0}, {'size': [2], 'seed': 0}
    run_demo.save_results(path, [{'name': 'tsm', 'top1': 90.0}, {'name': 'tsn', 'top1': 40.0}], same)
    run_demo.save_results(path, [{'name': 'tin', 'top1': 80.0}, {'name': 'tsn', 'top1': 45.0}], same)
    assert {r['name']: r['top1'] for r in json.load(open(path))['results']} == {'tsm': 90.0, 'tsn': 45.0, 'tin': 80.0}
    run_demo.save_results(path, [{'name': 'tin', 'top1': 70.0}], other)  # other data: earlier results dropped
    assert json.load(open(path)) == {'settings': other, 'results': [{'name': 'tin', 'top1': 70.0}]}
