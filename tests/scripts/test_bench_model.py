"""The model benchmark script end to end at a tiny size: every row present, every cell a number."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
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


def test_bench_model_writes_the_full_table(tmp_path):
    out = tmp_path / 'model.md'
    cmd = [sys.executable, str(ROOT / 'benchmarks/bench_model.py'), '--depth', '18', '--image_size', '32',
           '--repeats', '1', '--rounds', '1', '--warmup', '0', '--batch_sizes', '1,2', '--train_batch_size', '1',
           '--out', str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = out.read_text()
    assert text == proc.stdout.rstrip('\n') + '\n'

    rows = table_rows(text, 'configuration')
    assert [row[0] for row in rows] == ['forward, batch 1', 'forward, batch 2', 'train step, batch 1']
    for row in rows:
        assert len(row) == 9 and all(NUMBER.match(cell) for cell in row[1:]), row
        tsn_ms, tsm_ms, tsn_clips, tsm_clips = (float(cell) for cell in row[1:5])
        batch = int(row[0].rsplit(' ', 1)[1])
        assert abs(tsn_clips - batch / tsn_ms * 1e3) <= 0.01 * tsn_clips + 0.01
        rounding = 100 * tsm_ms / tsn_ms * (0.05 / tsm_ms + 0.05 / tsn_ms) + 0.05  # times printed to 0.1 ms
        assert abs(float(row[5]) - (tsm_ms / tsn_ms - 1) * 100) <= rounding  # overhead from the printed medians
        assert float(row[7]) > 100 and float(row[8]) > 100  # MB: MindSpore alone needs more than this

    shifts = table_rows(text, 'shift op')
    assert [row[0] for row in shifts] == ['8 shifts, batch 1', '8 shifts, batch 2']  # ResNet-18: 8 blocks
    assert all(len(row) == 5 and all(NUMBER.match(cell) for cell in row[1:]) for row in shifts)

    machine = dict(row[:2] for row in table_rows(text, 'machine'))
    assert machine['cores'].isdigit() and machine['mindspore'].startswith('2.')
    assert machine['ONEDNN_MAX_CPU_ISA'] == os.environ.get('ONEDNN_MAX_CPU_ISA', 'AVX2')  # src's default
    assert 'load average at end' in machine
