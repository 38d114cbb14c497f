"""benchmarks/shift_study.py: variants, the table and plot it writes, resuming, the latency jobs, and one tiny
end-to-end run (slow)."""
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


def test_finished_runs_are_kept_and_changed_settings_are_trained_again(tmp_path, monkeypatch):
    """train_variants with the demo's steps made up: each (seed, variant) trains its config with its shift options
    once; a rerun reads the kept results back; other settings (here the epochs) train again."""
    calls = []

    def train_and_eval(arch, *, output_dir, data_root, paths, seed, size, name, overrides, python):
        assert (data_root, paths, python) == (str(tmp_path / 'data' / 'frames'), {'val': 'v.txt'}, 'py')
        assert size[4] is None  # the demo configs' crop
        epochs = size[-1]
        calls.append((arch, name, seed, epochs, overrides))
        os.makedirs(tmp_path / name, exist_ok=True)
        (tmp_path / name / 'train_log.jsonl').write_text(f'{{"type": "val", "epoch": {epochs}, "top1": 75.0}}\n')
        return {'top1': float(len(calls)), 'num_videos': 6}

    monkeypatch.setattr(shift_study, 'train_and_eval', train_and_eval)
    monkeypatch.setattr(shift_study, 'make_data', lambda root, size, seed: {'val': 'v.txt'})
    argv = ['--variants', 'tsn,1/2,1/4-inplace', '--seeds', '3,1', '--epochs', '2', '--output_dir', str(tmp_path),
            '--python', 'py']
    results = shift_study.train_variants(shift_study.parse_args(argv))
    shifts = {'tsn': ['--shift_div', '8', '--shift_place', 'blockres'],
              '1_2': ['--shift_div', '4', '--shift_place', 'blockres'],
              '1_4-inplace': ['--shift_div', '8', '--shift_place', 'block']}
    expected = [('tsn' if name == 'tsn' else 'tsm', f'{name}-seed{seed}', seed, 2, shifts[name])
                for seed in (3, 1) for name in shifts]
    assert calls == expected
    assert results['1/2'] == [{'top1': 2.0, 'num_videos': 6, 'curve': [(2, 75.0)]},
                              {'top1': 5.0, 'num_videos': 6, 'curve': [(2, 75.0)]}]
    again = shift_study.train_variants(shift_study.parse_args(argv))  # an interrupted or repeated study
    assert len(calls) == 6 and json.loads(json.dumps(results)) == again
    shift_study.train_variants(shift_study.parse_args(argv + ['--epochs', '3']))
    assert calls[6:] == [(arch, name, seed, 3, overrides) for arch, name, seed, _, overrides in expected]


def test_latency_jobs_alternate_the_variants_and_run_in_the_benchmark_worker(monkeypatch):
    """Two rounds per size, variants alternating, medians in ms; the jobs are what bench_model.py's worker builds
    (the worker process itself: tests/scripts/test_bench_model.py)."""
    import bench_model
    jobs = []

    def spawn(job):
        jobs.append(job)
        return {'times': [0.001 * len(jobs)]}

    monkeypatch.setattr(shift_study.timing, 'spawn', spawn)
    args = shift_study.parse_args(['--variants', 'tsn,1/4-inplace', '--latency', 'demo,ssv2', '--repeats', '3'])
    latency = shift_study.time_variants(args)
    assert [(j['depth'], j['num_segments'], j['image_size'], j['arch'], j['shift_div'], j['shift_place'])
            for j in jobs] == 2 * [(18, 4, 48, 'tsn', 8, 'blockres'), (18, 4, 48, 'tsm', 8, 'block')] + 2 * [
                (50, 8, 224, 'tsn', 8, 'blockres'), (50, 8, 224, 'tsm', 8, 'block')]
    assert all((j['kind'], j['batch'], j['repeats'], j['warmup']) == ('forward', 1, 3, 1) for j in jobs)
    assert latency == {'demo': {'tsn': pytest.approx(2.0), '1/4-inplace': pytest.approx(3.0)},
                       'ssv2': {'tsn': pytest.approx(6.0), '1/4-inplace': pytest.approx(7.0)}}
    assert bench_model.build_step(jobs[1])().shape == (1, 174)  # an in-place TSM-R18 forward (this process: PyNative)


@pytest.mark.slow
def test_tiny_study_end_to_end_and_resumed(tmp_path):
    """One variant, one epoch on a tiny demo set: trained by train.py, evaluated by eval.py, tabulated (no latency:
    its jobs are checked above); a rerun keeps the finished run."""
    out = tmp_path / 'table.md'
    argv = ['--variants', '1/2', '--videos_per_class', '3,1', '--epochs', '1', '--latency', '',
            '--output_dir', str(tmp_path / 'study'), '--out', str(out)]
    shift_study.main(argv)
    saved = json.load(open(tmp_path / 'study' / 'results.json'))
    assert [r['num_videos'] for r in saved['results']['1/2']] == [6]
    assert [e for e, _ in saved['results']['1/2'][0]['curve']] == [1]  # the last epoch is always validated
    assert saved['latency_ms'] == {}
    rows = out.read_text().splitlines()
    assert rows[0].endswith('| first epoch >= 90 % per seed |') and rows[2].startswith('| 1/2 | 0.5 | residual |')
    assert '6 held-out demo videos' in rows[4] and (tmp_path / 'table.png').is_file()
    log = tmp_path / 'study' / '1_2-seed0' / 'train.log'
    stamp = log.stat().st_mtime_ns
    results, _ = shift_study.main(argv)  # interrupted or repeated: finished runs are not trained again
    assert log.stat().st_mtime_ns == stamp and results['1/2'][0]['top1'] == saved['results']['1/2'][0]['top1']
