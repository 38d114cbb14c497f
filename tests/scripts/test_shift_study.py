"""benchmarks/shift_study.py: variants, the table and plot it writes, and one tiny end-to-end run."""
import json
import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))

import shift_study  # noqa: E402


def test_variants_cover_the_study_and_map_to_shift_div():
    fractions = {name: v[0] for name, v in shift_study.VARIANTS.items()}
    assert fractions == {'tsn': 0, '1/8': 1 / 8, '1/4': 1 / 4, '1/2': 1 / 2, 'all': 1, '1/4-inplace': 1 / 4}
    for name, (fraction, arch, shift_div, place) in shift_study.VARIANTS.items():
        if arch == 'tsm':  # shift_div d shifts 1/d of the channels each way: 2/d in all
            assert 2 / shift_div == fraction
    assert shift_study.VARIANTS['1/4'][3] == 'blockres' and shift_study.VARIANTS['1/4-inplace'][3] == 'block'
    for bad in (['--variants', 'tsn,1/3'], ['--variants', 'tsn,tsn'], ['--seeds', '0,x']):
        with pytest.raises(SystemExit):
            shift_study.parse_args(bad)


ARGS = ['--variants', 'tsn,1/4,1/4-inplace', '--seeds', '0,1', '--latency', 'demo', '--early_epoch', '4']
RESULTS = {'tsn': [{'top1': 40.0, 'num_videos': 96, 'curve': [(2, 30.0), (4, 41.0)]}, {'top1': 44.0, 'curve': []}],
           '1/4': [{'top1': 100.0, 'curve': [(2, 30.0), (4, 60.0), (6, 95.0)]},
                   {'top1': 98.0, 'curve': [(2, 91.0), (4, 99.0)]}],
           '1/4-inplace': [{'top1': 90.0, 'curve': [(2, 50.0), (3, 70.0), (6, 90.0)]}, {'top1': 80.0}]}
LATENCY = {'demo': {'tsn': 20.0, '1/4': 22.5, '1/4-inplace': 23.0}}


def test_summary_table_reports_final_and_early_accuracy():
    lines = shift_study.summarise(shift_study.parse_args(ARGS), RESULTS, LATENCY).splitlines()
    assert lines[2] == '| TSN | 0 | - | 42.0 | 40.0 / 44.0 | 41.0 | - / - | 20.0 |'
    assert lines[3] == '| 1/4 | 0.25 | residual | 99.0 | 100.0 / 98.0 | 79.5 | 6 / 2 | 22.5 |'
    assert lines[4] == '| 1/4-inplace | 0.25 | in-place | 85.0 | 90.0 / 80.0 | 70.0 | 6 / - | 23.0 |'
    assert '96 held-out demo videos' in lines[6]


def test_plot_is_written_when_matplotlib_is_installed(tmp_path):
    pytest.importorskip('matplotlib', reason='matplotlib is optional (pip install matplotlib)')
    path = shift_study.plot(shift_study.parse_args(ARGS), RESULTS, LATENCY, str(tmp_path / 'study.png'))
    assert os.path.getsize(path) > 10000


def test_validation_curve_is_read_from_the_training_log(tmp_path):
    log = tmp_path / 'train_log.jsonl'
    log.write_text('{"type": "train", "epoch": 1, "loss": 1.0}\n{"type": "val", "epoch": 2, "top1": 50.0}\n'
                   '{"type": "val", "epoch": 4, "top1": 92.5}\n')
    curve = shift_study.val_curve(str(log))
    assert curve == [(2, 50.0), (4, 92.5)]
    assert shift_study.first_epoch_reaching(curve, 90.0) == 4 and shift_study.first_epoch_reaching(curve, 95) is None
    assert shift_study.top1_after(curve, 3) == 50.0 and shift_study.top1_after(curve, 1) is None


@pytest.mark.slow
def test_tiny_study_end_to_end_and_resumed(tmp_path):
    """Two variants, one epoch on a tiny demo set: trained, evaluated, timed, tabulated; a rerun keeps the runs."""
    out = tmp_path / 'table.md'
    argv = ['--variants', 'tsn,1/2', '--videos_per_class', '3,1', '--epochs', '1', '--latency', 'demo',
            '--repeats', '1', '--output_dir', str(tmp_path / 'study'), '--out', str(out)]
    shift_study.main(argv)
    saved = json.load(open(tmp_path / 'study' / 'results.json'))
    assert [r['num_videos'] for r in saved['results']['1/2']] == [6]
    assert [e for e, _ in saved['results']['1/2'][0]['curve']] == [1]  # the last epoch is always validated
    assert all(t > 0 for t in saved['latency_ms']['demo'].values())
    rows = out.read_text().splitlines()[2:4]
    assert rows[0].startswith('| TSN | 0 | - |') and rows[1].startswith('| 1/2 | 0.5 | residual |')
    log = tmp_path / 'study' / '1_2-seed0' / 'train.log'
    stamp = log.stat().st_mtime_ns
    results, _ = shift_study.main(argv)  # interrupted or repeated: finished runs are not trained again
    assert log.stat().st_mtime_ns == stamp and results['1/2'][0]['top1'] == saved['results']['1/2'][0]['top1']
