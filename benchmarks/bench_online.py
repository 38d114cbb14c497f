"""Online TSM latency: one streamed frame vs one eighth of an offline 8-frame clip forward (same weights, graph mode).

    python benchmarks/bench_online.py                     # R50 at 224 and R18 at 112 (a smaller configuration)
    python benchmarks/bench_online.py --configs 50x224 --repeats 20 --out benchmarks/results/online_cpu.md

The target is streaming <= 1.1x the offline per-frame cost: the caches add one slice and one concat per block.
"""
import argparse
import os
import platform
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import src  # noqa: E402,F401  (runtime defaults before MindSpore starts)
import mindspore as ms  # noqa: E402

from src.models import create_model, create_streaming_model  # noqa: E402
from src.runtime import init_context  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_model import timed_runs  # noqa: E402

NUM_SEGMENTS = 8


def median_ms(fn, repeats, warmup=2):
    return 1000 * float(np.median(timed_runs(fn, warmup, repeats)))


def measure(depth, size, repeats):
    """(offline ms per frame, streaming ms per frame) for one configuration."""
    offline = create_model('tsm_online', depth=depth, num_classes=174, num_segments=NUM_SEGMENTS)
    streaming = create_streaming_model(depth=depth, num_classes=174)
    offline.set_train(False)
    streaming.set_train(False)
    clip = ms.Tensor(np.random.default_rng(0).standard_normal((1, 3 * NUM_SEGMENTS, size, size)).astype(np.float32))
    frame = ms.Tensor(np.random.default_rng(1).standard_normal((1, 3, size, size)).astype(np.float32))
    caches = streaming.initial_caches(1, size, size)
    offline_ms = median_ms(lambda: offline(clip).asnumpy(), repeats) / NUM_SEGMENTS
    streaming_ms = median_ms(lambda: streaming(frame, *caches)[0].asnumpy(), repeats)
    return offline_ms, streaming_ms


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--configs', default='50x224,18x112', help='comma-separated DEPTHxSIZE')
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--device_target', default='CPU', choices=('CPU', 'GPU', 'Ascend'))
    parser.add_argument('--out', default='')
    args = parser.parse_args(argv)
    init_context(args.device_target, 'graph')
    rows = ['| configuration | offline 8-frame clip / 8, ms | streaming, ms a frame | ratio |', '|---|---|---|---|']
    for config in args.configs.split(','):
        depth, size = (int(v) for v in config.split('x'))
        offline_ms, streaming_ms = measure(depth, size, args.repeats)
        rows.append(f'| ResNet-{depth}, {size}x{size} | {offline_ms:.1f} | {streaming_ms:.1f} | '
                    f'{streaming_ms / offline_ms:.2f}x |')
    cpu = next((line.split(':', 1)[1].strip() for line in open('/proc/cpuinfo') if line.startswith('model name')),
               platform.processor()) if os.path.exists('/proc/cpuinfo') else platform.processor()
    text = '\n'.join(rows) + (f'\n\n{args.device_target}: {cpu}, {os.cpu_count()} cores, MindSpore {ms.__version__}, '
                              f'load average {os.getloadavg()[0]:.1f}, median of {args.repeats} after warm-up.\n')
    print(text)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text)


if __name__ == '__main__':
    main()
