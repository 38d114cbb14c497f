"""benchmarks/bench_train_engine.py on a tiny network: the three drivers are timed and tabled.

PyNative mode (the script's --mode): the same drivers, steps and table without three graph compilations of the train
step (~25 s each on 2 cores); the train step in GRAPH_MODE, under Model.train with sinking, is train.py's and is tested
in tests/train."""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


@pytest.mark.slow
def test_bench_train_engine_tables_three_drivers(tmp_path):
    out = tmp_path / 'engine.md'
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'benchmarks', 'bench_train_engine.py'), '--image_size',
                             '32', '--num_segments', '2', '--num_classes', '4', '--batch_size', '1', '--steps', '1',
                             '--epochs', '2', '--rounds', '1', '--mode', 'pynative', '--out', str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = re.findall(r'^\| ([^|]+) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|$', out.read_text(), re.M)
    assert [r[0] for r in rows] == ['python loop, loss read every step', 'Model.train, no sinking',
                                    'Model.train, dataset sinking']
    assert all(float(r[1]) > 0 for r in rows) and rows[0][3] == '1.000'
    assert out.read_text().startswith('# Train-step time by training driver (CPU, PyNative mode, TSM-R18, 2 x 32, '
                                      'batch 1, 1 steps x 1 timed epochs, 1 rounds)')
