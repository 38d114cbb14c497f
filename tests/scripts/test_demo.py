"""The main job: run_demo.py end to end, where TSM learns the temporal order that TSN cannot see."""
import json
import io
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


@pytest.mark.slow
def test_quick_demo_tsm_beats_tsn_by_a_clear_margin(tmp_path):
    """`run_demo.py --quick`: data, train, eval and table for both models; 32 px crops and 6 epochs instead of the
    full demo's 48 px and 12."""
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'run_demo.py'), '--quick', '--output_dir',
                             str(tmp_path)], capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    with open(tmp_path / 'results.json') as f:
        results = {r['arch']: r for r in json.load(f)['results']}
    assert '| TSM |' in result.stdout and '| TSN |' in result.stdout and 'total wall time' in result.stdout
    assert results['tsm']['num_videos'] == results['tsn']['num_videos'] == 6 * 8
    assert all('1 crop(s) of 32, short side 40, 4 frames' in r['protocol'] for r in results.values())
    tsm, tsn = results['tsm']['top1'], results['tsn']['top1']
    assert tsm >= tsn + 20 and tsn <= 60, (tsm, tsn)
    for arch in ('tsm', 'tsn'):
        assert len(json.load(open(tmp_path / arch / 'eval.json'))['videos']) == 6 * 8
        assert (tmp_path / arch / 'curves.png').stat().st_size > 10000  # every training run plots its curves
    # the console talked: one line per epoch and model, then the table, then the plot
    for arch in ('TSM', 'TSN'):
        assert [int(e) for e in re.findall(rf'^{arch} epoch (\d+)/6: loss [\d.]+, held-out top-1 +[\d.]+ %, ETA',
                                           result.stdout, re.M)] == list(range(1, 7))
    assert result.stdout.rstrip().endswith(f'held-out top-1 per epoch: {tmp_path / "curves.png"}')
    assert (tmp_path / 'curves.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_run_demo_archs_option_accepts_only_known_models():
    sys.path.insert(0, ROOT)
    import run_demo

    assert run_demo.parse_args(['--archs', 'tin,tsm']).archs == ['tin', 'tsm']
    assert run_demo.parse_args(['--archs', 'tsm,tsm_mobilenetv2']).archs == ['tsm', 'tsm_mobilenetv2']
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


def test_console_shows_a_line_per_epoch_and_a_bar_on_a_terminal():
    from src.demo_steps import Console

    lines = ['2026-12-01 10:00:00,000 INFO epoch 1/2 step 1/3 loss 1.3900 lr 0.01 grad_norm 1 scale 1 skipped 0',
             '2026-12-01 10:00:01,000 INFO epoch 1/2 step 3/3 loss 1.2000 lr 0.01 grad_norm 1 scale 1 skipped 0 '
             '5.0 clips/s ETA 0:00:07',
             '2026-12-01 10:00:02,000 INFO epoch 1 validation: top1 62.50 top5 100.00 mean class 62.50 (8 videos, 1 s)']

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    for stream, bar in ((io.StringIO(), False), (Terminal(), True)):
        console = Console('tsm', stream)
        for line in lines:
            console.feed(line)
        text = stream.getvalue()
        assert 'TSM epoch 1/2: loss 1.200, held-out top-1  62.5 %, ETA 0:00:07' in text
        assert ('[###############...............] epoch 1/2 loss 1.200 ETA 0:00:07' in text) == bar


def test_the_table_names_mobilenet_v2_and_applies_its_target():
    sys.path.insert(0, ROOT)
    import run_demo

    row = {'top1': 87.5, 'top5': 100.0, 'mean_class_acc': 87.5, 'train_s': 600.0, 'eval_s': 12.0, 'num_videos': 96}
    text = run_demo.table([{**row, 'arch': 'tsm_mobilenetv2'}, {**row, 'arch': 'tsn'}], 1200.0)
    assert '| TSM-MobileNetV2 | 87.5 | 100.0 | 87.5 | >= 90 MISSED | 10.0 min | 12 s |' in text
    assert '| TSN | 87.5 | 100.0 | 87.5 | <= 60 MISSED |' in text
