"""Train-step time of three ways to drive training, in one run: a Python loop that reads the loss back every step
(what train.py did before), `Model.train` without dataset sinking, and `Model.train` with sinking (train.py's
default). Synthetic uint8 clips from memory, so the data pipeline costs next to nothing; the first epoch
(graph compilation) is not timed; the three alternate, round after round, so load drift hits each alike.

On CPU MindSpore runs `dataset_sink_mode=True` step by step (mindspore/train/model.py: "The CPU cannot support
dataset sink mode currently"), so the last two measure the same path there; on Ascend/GPU sinking feeds a whole
epoch per call through the device queue. Run it with --device_target Ascend to see that difference.

    python benchmarks/bench_train_engine.py                          # TSM-R18, 8 x 112, batch 2, 3 rounds
    python benchmarks/bench_train_engine.py --depth 50 --image_size 224 --device_target Ascend
"""
import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the checkout's src/ for `python benchmarks/bench_train_engine.py` from anywhere (an entry script's only path change)
sys.path.insert(0, str(ROOT))

import mindspore as ms  # noqa: E402
import mindspore.dataset as ds  # noqa: E402
import numpy as np  # noqa: E402
from mindspore.train import Callback, Model  # noqa: E402

from src.models import create_model  # noqa: E402
from src.runtime import apply_runtime_defaults, init_context  # noqa: E402
from src.train_utils import create_lr_schedule, create_optimizer, create_train_step  # noqa: E402

WAYS = ('python loop, loss read every step', 'Model.train, no sinking', 'Model.train, dataset sinking')


class EpochTimer(Callback):
    def __init__(self):
        super().__init__()
        self.times, self.start = [], None

    def on_train_epoch_begin(self, run_context):
        self.start = time.perf_counter()

    def on_train_epoch_end(self, run_context):
        self.times.append(time.perf_counter() - self.start)


def synthetic_dataset(args):
    rng = np.random.default_rng(0)
    clips = rng.integers(0, 256, (args.steps * args.batch_size, args.num_segments * 3, args.image_size,
                                  args.image_size), dtype=np.uint8)
    labels = rng.integers(0, args.num_classes, len(clips)).astype(np.int32)
    return ds.NumpySlicesDataset((clips, labels), ['clip', 'label'], shuffle=False).batch(args.batch_size)


def python_loop(train_step, dataset, epochs):
    """Per-epoch times of the old loop: one call per batch, the loss read back (a host sync) after each."""
    times = []
    iterator = dataset.create_tuple_iterator(num_epochs=epochs)
    for _ in range(epochs):
        start = time.perf_counter()
        for batch in iterator:
            float(train_step(*batch)[0].asnumpy())
        times.append(time.perf_counter() - start)
    return times


def measure(way, args):
    """Seconds per step of one way: median over the timed epochs (all but the first)."""
    ms.set_seed(0)
    net = create_model('tsm', depth=args.depth, num_classes=args.num_classes, num_segments=args.num_segments)
    lr = create_lr_schedule(0.01, args.steps, args.epochs)
    train_step = create_train_step(net, create_optimizer(net, lr), amp_level='O0')
    dataset = synthetic_dataset(args)
    if way == WAYS[0]:
        times = python_loop(train_step, dataset, args.epochs)
    else:
        timer = EpochTimer()
        Model(train_step).train(args.epochs, dataset, callbacks=[timer], dataset_sink_mode=way == WAYS[2])
        times = timer.times
    return float(np.median(times[1:])) / args.steps


def main(argv=None):
    apply_runtime_defaults()  # first: before any MindSpore operation, whatever the import order
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--device_target', default='CPU', choices=['CPU', 'GPU', 'Ascend'], help='where to run')
    parser.add_argument('--depth', type=int, default=18, choices=[18, 34, 50, 101], help='ResNet depth')
    parser.add_argument('--image_size', type=int, default=112, help='clip height and width')
    parser.add_argument('--num_segments', type=int, default=8, help='frames per clip')
    parser.add_argument('--num_classes', type=int, default=174, help='classifier outputs')
    parser.add_argument('--batch_size', type=int, default=2, help='clips per step')
    parser.add_argument('--steps', type=int, default=6, help='steps per epoch')
    parser.add_argument('--epochs', type=int, default=3, help='per measurement; the first is not timed')
    parser.add_argument('--rounds', type=int, default=3, help='times each way is measured (alternating)')
    parser.add_argument('--mode', default='graph', choices=['graph', 'pynative'],
                        help="execution mode: graph (train.py's, what the comparison is about) or pynative (no graph "
                             "compilation: a quick smoke run of the script, as its test does)")
    parser.add_argument('--out', default=str(ROOT / 'benchmarks' / 'results' / 'train_engine_cpu.md'),
                        help='the markdown table')
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error('--epochs must be at least 2 (the first one compiles)')
    init_context(args.device_target, args.mode)
    results = {way: [] for way in WAYS}
    for _ in range(args.rounds):
        for way in WAYS:
            results[way].append(measure(way, args))
    where = args.device_target + ('' if args.mode == 'graph' else ', PyNative mode')
    lines = [f'# Train-step time by training driver ({where}, TSM-R{args.depth}, {args.num_segments} x '
             f'{args.image_size}, batch {args.batch_size}, {args.steps} steps x {args.epochs - 1} timed epochs, '
             f'{args.rounds} rounds)', '',
             f'Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, MindSpore '
             f'{ms.__version__}, load average {os.getloadavg()[0]:.2f} at the end.', '',
             '| driver | s/step, median of rounds | min | vs python loop |', '|---|---|---|---|']
    base = float(np.median(results[WAYS[0]]))
    for way in WAYS:
        med = float(np.median(results[way]))
        lines.append(f'| {way} | {med:.3f} | {min(results[way]):.3f} | {med / base:.3f} |')
    text = '\n'.join(lines) + '\n'
    sys.stdout.write(text)
    if args.out:
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out + '.tmp', 'w') as f:
            f.write(text)
        os.replace(args.out + '.tmp', args.out)


if __name__ == '__main__':
    main()
