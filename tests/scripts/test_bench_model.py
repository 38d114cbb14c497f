"""The model benchmark script: its tables from known worker results (in this process), and end to end at a tiny size
(slow): every row present, every cell a number."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'benchmarks'))

import bench_model  # noqa: E402
NUMBER = re.compile(r'^[+-]?\d+(\.\d+)?$')


def table_rows(text, first_header):
    """The body rows (lists of cells) of the markdown table whose header starts with `first_header`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f'| {first_header} |'))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith('|'):
            break
        rows.append([cell.strip() for cell in line.strip('|').split('|')])
    return rows


def test_tables_are_the_medians_of_alternating_workers(tmp_path, monkeypatch):
    """Worker results made up (seconds per run): TSN / TSM rounds alternate, each row's medians, minima, clips/s,
    overheads and peak memory, the shift op as a share of the TSN forward of its batch."""
    forward = {'tsn': [0.010, 0.030], 'tsm': [0.025, 0.035]}  # medians 20 / 30 ms, minima 10 / 25 ms
    rss = {'tsn': [300, 310], 'tsm': [320, 305]}
    jobs = []

    def spawn(job):
        jobs.append(job)
        if job['kind'] == 'shift':
            return {'times': {'shift': [0.002 * job['batch']], 'copy': [0.001 * job['batch']]}, 'num_shifts': 8,
                    'peak_rss_mb': 1.0}
        run = sum(1 for j in jobs if (j['kind'], j['batch'], j['arch']) == (job['kind'], job['batch'], job['arch']))
        scale = job['batch'] * (5 if job['kind'] == 'train' else 1)
        return {'times': [forward[job['arch']][run - 1] * scale], 'peak_rss_mb': rss[job['arch']][run - 1]}

    monkeypatch.setattr(bench_model, 'spawn', spawn)
    monkeypatch.setattr(bench_model, 'find_torch_python', lambda requested: None)
    out = tmp_path / 'model.md'
    bench_model.main(['--depth', '18', '--image_size', '32', '--num_segments', '4', '--repeats', '1', '--rounds', '2',
                      '--warmup', '0', '--batch_sizes', '1,2', '--train_batch_size', '1', '--out', str(out)])
    assert [(j['kind'], j['batch'], j.get('arch')) for j in jobs] == [
        (kind, batch, arch) for kind, batch in (('forward', 1), ('forward', 2), ('train', 1))
        for arch in ('tsn', 'tsm') * 2] + [('shift', 1, None), ('shift', 2, None)]
    assert all((j['depth'], j['image_size'], j['num_segments'], j['repeats'], j['warmup']) == (18, 32, 4, 1, 0)
               for j in jobs)
    text = out.read_text()
    assert table_rows(text, 'configuration') == [
        ['forward, batch 1', '20.0', '30.0', '50.00', '33.33', '+50.0', '+150.0', '310', '320'],
        ['forward, batch 2', '40.0', '60.0', '50.00', '33.33', '+50.0', '+150.0', '310', '320'],
        ['train step, batch 1', '100.0', '150.0', '10.00', '6.67', '+50.0', '+150.0', '310', '320']]
    assert table_rows(text, 'shift op') == [['8 shifts, batch 1', '2.0', '1.0', '10.0', '5.0'],
                                            ['8 shifts, batch 2', '4.0', '2.0', '10.0', '5.0']]
    assert 'No comparison with PyTorch' in text


@pytest.mark.slow
def test_bench_model_writes_the_full_table(tmp_path):
    out = tmp_path / 'model.md'
    cmd = [sys.executable, str(ROOT / 'benchmarks/bench_model.py'), '--depth', '18', '--image_size', '32',
           '--repeats', '1', '--rounds', '1', '--warmup', '0', '--batch_sizes', '1', '--train_batch_size', '1',
           '--out', str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = out.read_text()
    assert text == proc.stdout.rstrip('\n') + '\n'

    rows = table_rows(text, 'configuration')
    assert [row[0] for row in rows] == ['forward, batch 1', 'train step, batch 1']
    for row in rows:
        assert len(row) == 9 and all(NUMBER.match(cell) for cell in row[1:]), row
        tsn_ms, tsm_ms, tsn_clips, tsm_clips = (float(cell) for cell in row[1:5])
        batch = int(row[0].rsplit(' ', 1)[1])
        assert abs(tsn_clips - batch / tsn_ms * 1e3) <= 0.01 * tsn_clips + 0.01
        rounding = 100 * tsm_ms / tsn_ms * (0.05 / tsm_ms + 0.05 / tsn_ms) + 0.05  # times printed to 0.1 ms
        assert abs(float(row[5]) - (tsm_ms / tsn_ms - 1) * 100) <= rounding  # overhead from the printed medians
        assert float(row[7]) > 100 and float(row[8]) > 100  # MB: MindSpore alone needs more than this

    shifts = table_rows(text, 'shift op')
    assert [row[0] for row in shifts] == ['8 shifts, batch 1']  # ResNet-18: 8 blocks
    assert all(len(row) == 5 and all(NUMBER.match(cell) for cell in row[1:]) for row in shifts)

    machine = dict(row[:2] for row in table_rows(text, 'machine'))
    assert machine['cores'].isdigit() and machine['mindspore'].startswith('2.')
    assert machine['ONEDNN_MAX_CPU_ISA'] == os.environ.get('ONEDNN_MAX_CPU_ISA', 'AVX2')  # src's default
    assert 'load average at end' in machine
