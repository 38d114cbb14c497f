"""The online latency benchmark runs and reports one row a configuration with positive times."""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'benchmarks'))

import bench_online  # noqa: E402


def test_bench_online_reports_each_configuration(tmp_path, capsys):
    out = tmp_path / 'online.md'
    bench_online.main(['--configs', '18x32', '--repeats', '1', '--out', str(out)])
    rows = [line for line in out.read_text().split('\n') if line.startswith('| ResNet')]
    assert len(rows) == 1
    offline_ms, streaming_ms, ratio = re.match(r'\| ResNet-18, 32x32 \| ([\d.]+) \| ([\d.]+) \| ([\d.]+)x \|', rows[0]).groups()
    assert float(offline_ms) > 0 and float(streaming_ms) > 0
    assert abs(float(ratio) - float(streaming_ms) / float(offline_ms)) < 0.05 * float(ratio)  # 1-decimal times
