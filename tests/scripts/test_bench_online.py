"""The online latency benchmark runs and reports one row a configuration with positive times."""
import os
import re
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'benchmarks'))

import bench_online  # noqa: E402


@pytest.mark.slow
def test_bench_online_reports_each_configuration(tmp_path, run_in_mode):
    out = tmp_path / 'online.md'  # main switches to GRAPH_MODE itself; run_in_mode gives this process PyNative back
    run_in_mode('graph', lambda: bench_online.main(['--configs', '18x32', '--repeats', '1', '--out', str(out)]))
    rows = [line for line in out.read_text().split('\n') if line.startswith('| ResNet')]
    assert len(rows) == 1
    offline_ms, streaming_ms, ratio = re.match(r'\| ResNet-18, 32x32 \| ([\d.]+) \| ([\d.]+) \| ([\d.]+)x \| - \|',
                                               rows[0]).groups()
    assert float(offline_ms) > 0 and float(streaming_ms) > 0
    assert abs(float(ratio) - float(streaming_ms) / float(offline_ms)) < 0.05 * float(ratio)  # 1 round, 1 decimal


def test_configurations_name_registered_online_models():
    assert bench_online.network('50') == ('ResNet-50', 'tsm_online_r50', {'depth': 50})
    assert bench_online.network('mobilenetv2') == ('MobileNetV2', 'tsm_online_mobilenetv2', {})


def test_each_streamed_frame_is_compared_with_resnet50_at_its_size():
    rows = bench_online.table_rows({('ResNet-50', 224): (140.0, 150.0, 1.05), ('MobileNetV2', 224): (20.0, 30.0, 1.4),
                                    ('MobileNetV2', 112): (8.0, 9.0, 1.125)})
    assert rows[2:] == ['| ResNet-50, 224x224 | 140.0 | 150.0 | 1.05x | 1.00x |',
                        '| MobileNetV2, 224x224 | 20.0 | 30.0 | 1.40x | 0.20x |',
                        '| MobileNetV2, 112x112 | 8.0 | 9.0 | 1.12x | - |']
