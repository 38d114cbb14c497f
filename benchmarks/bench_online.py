"""Online TSM latency: one streamed frame vs one eighth of an offline 8-frame clip forward (same weights, graph mode),
and each streamed frame against ResNet-50's, in one run.

    python benchmarks/bench_online.py          # R50 and MobileNetV2 at 224, R18 at 112 (a smaller configuration)
    python benchmarks/bench_online.py --configs 50x224,mobilenetv2x224 --repeats 20 \\
        --out benchmarks/results/online_cpu.md

A configuration is BACKBONExSIZE: a ResNet depth (18, 34, 50, 101) or mobilenetv2. The target is streaming <= 1.1x
the offline per-frame cost: the caches add one slice and one concat per shifted block.
"""
import argparse
import os
import platform
import sys

import numpy as np

# the checkout's src/ for `python benchmarks/bench_online.py` from anywhere (an entry script's only path change)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import mindspore as ms  # noqa: E402

from src.models import create_model, create_streaming_model  # noqa: E402
from src.runtime import apply_runtime_defaults, init_context  # noqa: E402
from timing import timed_runs  # noqa: E402  (benchmarks/timing.py, next to this script)

NUM_SEGMENTS = 8


def network(backbone):
    """(table label, registered online model, overrides) of a configuration's backbone: a ResNet depth or
    `mobilenetv2`."""
    if backbone == 'mobilenetv2':
        return 'MobileNetV2', 'tsm_online_mobilenetv2', {}
    return f'ResNet-{int(backbone)}', 'tsm_online_r50', {'depth': int(backbone)}


def measure(name, overrides, size, repeats, warmup=2):
    """(offline ms a frame, streaming ms a frame, median of the rounds' ratios) of the registered online model `name`
    at `size`. Each round times one offline 8-frame clip, then 8 streamed frames (caches carried, logits read every
    frame), so both see the same load on a shared machine; times are medians over the rounds."""
    offline = create_model(name, num_segments=NUM_SEGMENTS, **overrides)
    streaming = create_streaming_model(name, **overrides)
    offline.set_train(False)
    streaming.set_train(False)
    clip = ms.Tensor(np.random.default_rng(0).standard_normal((1, 3 * NUM_SEGMENTS, size, size)).astype(np.float32))
    frames = [ms.Tensor(f) for f in np.random.default_rng(1).standard_normal((NUM_SEGMENTS, 1, 3, size, size))
              .astype(np.float32)]
    caches = streaming.initial_caches(1, size, size)

    def stream_clip():
        state = caches
        for frame in frames:
            logits, *state = streaming(frame, *state)
            logits.asnumpy()

    rounds = [(timed_runs(lambda: offline(clip).asnumpy(), warmup if i == 0 else 0, 1)[0],
               timed_runs(stream_clip, warmup if i == 0 else 0, 1)[0]) for i in range(repeats)]
    offline_s, streaming_s = (np.median([r[k] for r in rounds]) for k in (0, 1))
    ratio = float(np.median([s / o for o, s in rounds]))
    return 1000 * offline_s / NUM_SEGMENTS, 1000 * streaming_s / NUM_SEGMENTS, ratio


def table_rows(measured):
    """Markdown rows of {(label, size): (offline ms a frame, streaming ms a frame, ratio)}, each streamed frame also
    against ResNet-50's at the same size when that was measured."""
    rows = ['| configuration | offline 8-frame clip / 8, ms | streaming, ms a frame | ratio (median of rounds) | '
            'streaming vs ResNet-50 at that size |', '|---|---|---|---|---|']
    for (label, size), (offline_ms, streaming_ms, ratio) in measured.items():
        resnet = measured.get(('ResNet-50', size))
        versus = f'{streaming_ms / resnet[1]:.2f}x' if resnet else '-'
        rows.append(f'| {label}, {size}x{size} | {offline_ms:.1f} | {streaming_ms:.1f} | {ratio:.2f}x | {versus} |')
    return rows


def main(argv=None):
    apply_runtime_defaults()  # first: before any MindSpore operation, whatever the import order
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--configs', default='50x224,mobilenetv2x224,18x112',
                        help='comma-separated BACKBONExSIZE (BACKBONE: a ResNet depth or mobilenetv2)')
    parser.add_argument('--repeats', type=int, default=10, help='timed rounds per configuration')
    parser.add_argument('--device_target', default='CPU', choices=('CPU', 'GPU', 'Ascend'), help='where to run')
    parser.add_argument('--out', default='', help='also write the markdown table here')
    args = parser.parse_args(argv)
    init_context(args.device_target, 'graph')
    measured = {}
    for config in args.configs.split(','):
        backbone, size = config.split('x')
        label, name, overrides = network(backbone)
        measured[label, int(size)] = measure(name, overrides, int(size), args.repeats)
    rows = table_rows(measured)
    cpu = next((line.split(':', 1)[1].strip() for line in open('/proc/cpuinfo') if line.startswith('model name')),
               platform.processor()) if os.path.exists('/proc/cpuinfo') else platform.processor()
    text = '\n'.join(rows) + (f'\n\n{args.device_target}: {cpu}, {os.cpu_count()} cores, MindSpore {ms.__version__}, '
                              f'load average {os.getloadavg()[0]:.1f}, medians of {args.repeats} rounds after '
                              f'warm-up.\n')
    print(text)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text)


if __name__ == '__main__':
    main()
