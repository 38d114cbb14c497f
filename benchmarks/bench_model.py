"""TSN vs TSM speed and memory in one run: forward (inference, GRAPH_MODE), one train step, and the shift op alone.

Every (configuration, arch) runs in a fresh subprocess, so its peak RSS is its own; TSN and TSM subprocesses
alternate (A B A B ...) so that load drift on a shared machine hits both. Times are medians (and minima) over all
timed runs after warm-up. Writes a markdown table to stdout and `--out`.

    python benchmarks/bench_model.py                       # full run, 8 frames x 224, batch 1 and 8
    python benchmarks/bench_model.py --depth 18 --image_size 32 --repeats 1 --rounds 1 --warmup 0   # smoke test
"""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the checkout's src/ for `python benchmarks/bench_model.py` from anywhere (an entry script's only path change)
sys.path.insert(0, str(ROOT))

from src.runtime import apply_runtime_defaults  # noqa: E402
from timing import machine_info, median, run_timed, spawn, timed_runs  # noqa: E402  (benchmarks/timing.py)

ARCHS = ('tsn', 'tsm')


def build_step(job):
    """The callable one timed run executes: a forward, or a train step (forward + backward + SGD update)."""
    import numpy as np
    import mindspore as ms
    from mindspore import nn
    from src.models import create_model
    from src.models.fold_bn import fold_batchnorm

    shift = {key: job[key] for key in ('shift_div', 'shift_place') if key in job}  # else create_model's defaults
    net = create_model(job['arch'], depth=job['depth'], num_classes=job['num_classes'],
                       num_segments=job['num_segments'], **shift)
    rng = np.random.default_rng(0)
    shape = (job['batch'], 3 * job['num_segments'], job['image_size'], job['image_size'])
    clips = ms.Tensor(rng.standard_normal(shape).astype(np.float32))
    if job['kind'] == 'forward':
        net.set_train(False)
        if job.get('fold_bn'):
            fold_batchnorm(net)  # what eval.py / export.py run
        return lambda: net(clips).asnumpy()
    labels = ms.Tensor(rng.integers(0, job['num_classes'], job['batch']).astype(np.int32))
    optimizer = nn.SGD(net.trainable_params(), learning_rate=0.01, momentum=0.9)
    train_step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.CrossEntropyLoss()), optimizer)
    train_step.set_train(True)
    return lambda: train_step(clips, labels).asnumpy()


def shift_input_shapes(job):
    """`(N*T, C, H, W)` of every TemporalShift input of a TSM net at batch 1, read by PyNative forward hooks."""
    import numpy as np
    import mindspore as ms
    from src.models import TemporalShift, create_model

    ms.set_context(mode=ms.PYNATIVE_MODE)
    net = create_model('tsm', depth=job['depth'], num_classes=job['num_classes'], num_segments=job['num_segments'])
    net.set_train(False)
    shapes = []
    for cell in net.cells_and_names():
        if isinstance(cell[1], TemporalShift):
            cell[1].register_forward_pre_hook(lambda _, args: shapes.append(tuple(args[0].shape)))
    size = job['image_size']
    net(ms.Tensor(np.zeros((1, 3 * job['num_segments'], size, size), np.float32)))
    ms.set_context(mode=ms.GRAPH_MODE)
    return shapes


def run_shift_job(job):
    """Time the shift alone on the real block inputs, against a plain copy of the same tensors (the floor)."""
    import numpy as np
    import mindspore as ms
    from mindspore import nn
    from src.models import TemporalShift

    class ApplyEach(nn.Cell):
        def __init__(self, ops_):
            super().__init__()
            self.ops = nn.CellList(ops_)

        def construct(self, *xs):
            return tuple(op(x) for op, x in zip(self.ops, xs))

    class Copy(nn.Cell):
        def construct(self, x):
            return x * 1.0

    shapes = shift_input_shapes(job)
    rng = np.random.default_rng(0)
    xs = [ms.Tensor(rng.standard_normal((job['batch'] * s[0],) + s[1:]).astype(np.float32)) for s in shapes]
    cells = {'shift': ApplyEach([TemporalShift(job['num_segments']) for _ in shapes]),
             'copy': ApplyEach([Copy() for _ in shapes])}
    steps = {name: (lambda cell=cell: [out.asnumpy() for out in cell(*xs)][-1]) for name, cell in cells.items()}
    times = {name: [] for name in steps}
    for name, step in steps.items():
        timed_runs(step, max(job['warmup'], 1), 0)  # compile
    for _ in range(job['repeats']):  # interleaved
        for name, step in steps.items():
            times[name] += timed_runs(step, 0, 1)
    from timing import peak_rss_mb
    return {'times': times, 'num_shifts': len(shapes), 'peak_rss_mb': peak_rss_mb()}


def run_job(job):
    """Worker entry: one configuration in this fresh process; returns times and peak memory."""
    import mindspore as ms

    ms.set_device(job['device_target'])
    ms.set_context(mode=ms.GRAPH_MODE)
    if job['kind'] == 'shift':
        return run_shift_job(job)
    return run_timed(build_step(job), job['warmup'], job['repeats'])


def measure_pair(base_job, rounds):
    """TSN and TSM of one configuration, alternating subprocesses; pooled times and the highest peak RSS."""
    pooled = {arch: {'times': [], 'peak_rss_mb': 0.0} for arch in ARCHS}
    for _ in range(rounds):
        for arch in ARCHS:
            result = spawn(dict(base_job, arch=arch))
            pooled[arch]['times'] += result['times']
            pooled[arch]['peak_rss_mb'] = max(pooled[arch]['peak_rss_mb'], result['peak_rss_mb'])
    return pooled


def load_average():
    return ' / '.join(f'{value:.2f}' for value in os.getloadavg())


def model_rows(args, base):
    """One row per (kind, batch): median/min ms, clips/s, overhead %, peak RSS for TSN and TSM."""
    rows = []
    configs = [('forward', batch) for batch in args.batch_sizes] + [('train step', args.train_batch_size)]
    for kind, batch in configs:
        pooled = measure_pair(dict(base, kind=kind.split()[0], batch=batch), args.rounds)
        tsn, tsm = (median(pooled[arch]['times']) for arch in ARCHS)
        tsn_min, tsm_min = (min(pooled[arch]['times']) for arch in ARCHS)
        rows.append([f'{kind}, batch {batch}', f'{tsn * 1e3:.1f}', f'{tsm * 1e3:.1f}', f'{batch / tsn:.2f}',
                     f'{batch / tsm:.2f}', f'{(tsm / tsn - 1) * 100:+.1f}', f'{(tsm_min / tsn_min - 1) * 100:+.1f}',
                     f"{pooled['tsn']['peak_rss_mb']:.0f}", f"{pooled['tsm']['peak_rss_mb']:.0f}"])
    return rows


def shift_rows(args, base, forward_rows):
    """The shift op alone per batch size, as a share of the TSN forward of the same batch."""
    rows = []
    for batch, forward_row in zip(args.batch_sizes, forward_rows):
        result = spawn(dict(base, kind='shift', batch=batch))
        shift, copy = (median(result['times'][name]) for name in ('shift', 'copy'))
        tsn_ms = float(forward_row[1])
        rows.append([f"{result['num_shifts']} shifts, batch {batch}", f'{shift * 1e3:.1f}', f'{copy * 1e3:.1f}',
                     f'{shift * 1e3 / tsn_ms * 100:.1f}', f'{copy * 1e3 / tsn_ms * 100:.1f}'])
    return rows


def find_torch_python(requested):
    """The interpreter for the PyTorch jobs: `requested`, else this one if it has torch and torchvision; or None."""
    candidates = [requested] if requested else [sys.executable]
    for python in candidates:
        probe = subprocess.run([python, '-c', 'import torch, torchvision'], capture_output=True, check=False)
        if probe.returncode == 0:
            return python
        if requested:
            raise SystemExit(f"--torch_python {requested}: cannot import torch and torchvision")
    return None


COMPARED = (('ours', 'MindSpore, AVX2 cap'), ('torch_avx2', 'PyTorch, AVX2'), ('torch_default', 'PyTorch, default ISA'))


def comparison_rows(args, base, torch_python):
    """Ours (forward: BN folded, as eval/export run) against PyTorch at the same ISA and at its default, per arch;
    the three alternate round by round. Cells: median ms (min)."""
    rows, versions = [], {}
    configs = [('forward', batch) for batch in args.batch_sizes] + [('train', args.train_batch_size)]
    for kind, batch in configs:
        for arch in ARCHS:
            job = dict(base, arch=arch, kind=kind, batch=batch, threads=os.cpu_count())
            times = {name: [] for name, _ in COMPARED}
            for _ in range(args.rounds):
                times['ours'] += spawn(dict(job, fold_bn=kind == 'forward'))['times']
                for isa in ('AVX2', 'default'):
                    result = spawn(dict(job, framework='torch', isa=isa), torch_python)
                    times[f'torch_{isa.lower()}'] += result['times']
                    versions[isa] = f"torch {result['torch']} at {result['isa']}"
            med = {name: median(t) for name, t in times.items()}
            rows.append([f"{'forward' if kind == 'forward' else 'train step'}, batch {batch}", arch.upper()]
                        + [f'{med[name] * 1e3:.0f} ({min(times[name]) * 1e3:.0f})' for name, _ in COMPARED]
                        + [f"{med['ours'] / med['torch_avx2']:.3f}", f"{med['ours'] / med['torch_default']:.3f}"])
    return rows, versions


def table(header, rows):
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    return lines + ['| ' + ' | '.join(row) + ' |' for row in rows]


def comparison_report(args, rows, versions, loads):
    lines = ['', f'## Against PyTorch (torchvision ResNet-{args.depth} + our temporal shift in torch, same shapes, '
             f'{os.cpu_count()} threads each)', '']
    lines += table(['configuration', 'arch'] + [f'{label} ms' for _, label in COMPARED]
                   + ['ours / PyTorch AVX2', 'ours / PyTorch default'], rows)
    lines += ['', f"Cells: median ms (min) over {args.rounds} round(s) x {args.repeats} timed run(s) after "
              f"{args.warmup} warm-up run(s), the three alternating round by round; ratios of medians. "
              f"PyTorch: {versions.get('AVX2', '?')} (ONEDNN_MAX_CPU_ISA=AVX2, ATEN_CPU_CAPABILITY=avx2) and "
              f"{versions.get('default', '?')} (nothing set). Ours forward: BatchNorm folded into the convolutions "
              "(src/models/fold_bn.py). Load average (1/5/15 min) before / after: "
              f'{loads[0]} / {loads[1]}.']
    return '\n'.join(lines) + '\n'


def report(args, machine, rows, shifts, loads):
    size = f'{args.num_segments} frames x {args.image_size}'
    lines = [f'## TSN vs TSM-R{args.depth} on {args.device_target} ({size}, GRAPH_MODE)', '']
    lines += table(['configuration', 'TSN ms', 'TSM ms', 'TSN clips/s', 'TSM clips/s', 'shift overhead % (median)',
                    'shift overhead % (min)', 'TSN peak RSS MB', 'TSM peak RSS MB'], rows)
    lines += ['', 'Shift op alone on the real inputs of every shifted block (GRAPH_MODE, one graph), against a plain '
              'copy of the same tensors (`x * 1.0`: the floor for any out-of-place shift):', '']
    lines += table(['shift op', 'shift ms', 'copy ms', 'shift % of TSN forward', 'copy % of TSN forward'], shifts)
    lines += ['', f'Times: median over {args.rounds} subprocess(es) per arch x {args.repeats} timed run(s) after '
              f'{args.warmup} warm-up run(s), TSN/TSM alternating. Train step: forward + backward + SGD(momentum) '
              'update, inference-mode forward otherwise. Peak RSS: VmHWM of the worker process (host memory).', '',
              '| machine | |', '|---|---|']
    lines += [f'| {key} | {value} |' for key, value in machine.items()]
    lines += [f'| load average (1/5/15 min) at start | {loads[0]} |', f'| load average at end | {loads[1]} |']
    return '\n'.join(lines) + '\n'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--device_target', default='CPU', choices=['CPU', 'GPU', 'Ascend'], help='where to run')
    parser.add_argument('--depth', type=int, default=50, choices=[18, 34, 50, 101], help='ResNet depth')
    parser.add_argument('--image_size', type=int, default=224, help='clip height and width')
    parser.add_argument('--num_segments', type=int, default=8, help='frames per clip')
    parser.add_argument('--num_classes', type=int, default=174, help='classifier outputs')
    parser.add_argument('--batch_sizes', type=lambda s: [int(b) for b in s.split(',')], default=[1, 8],
                        help='comma-separated forward batch sizes')
    parser.add_argument('--train_batch_size', type=int, default=2, help='clips per train step')
    parser.add_argument('--repeats', type=int, default=5, help='timed runs per worker subprocess')
    parser.add_argument('--warmup', type=int, default=2, help='untimed runs per worker after compilation')
    parser.add_argument('--rounds', type=int, default=2, help='worker subprocesses per arch (TSN/TSM alternate)')
    parser.add_argument('--out', default=str(ROOT / 'benchmarks/results/model_cpu.md'), help='the markdown report')
    parser.add_argument('--torch_python', default='',
                        help='interpreter with torch + torchvision for the comparison (default: this one if it has '
                             'them; otherwise the comparison is skipped)')
    parser.add_argument('--skip_tsn_tsm', action=argparse.BooleanOptionalAction, default=False,
                        help='only the comparison with PyTorch')
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if min(args.batch_sizes + [args.train_batch_size, args.repeats, args.rounds, args.image_size]) < 1:
        parser.error('batch sizes, repeats, rounds and image_size must be positive')
    return args


def main(argv=None):
    apply_runtime_defaults()  # first: before any MindSpore operation, also in a --worker
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(run_job(json.loads(args.worker))))
        return
    base = {key: getattr(args, key) for key in
            ('device_target', 'depth', 'image_size', 'num_segments', 'num_classes', 'repeats', 'warmup')}
    start_load = load_average()
    text = ''
    if not args.skip_tsn_tsm:
        rows = model_rows(args, base)
        shifts = shift_rows(args, base, rows)
        text = report(args, machine_info(args.device_target), rows, shifts, (start_load, load_average()))
    torch_python = find_torch_python(args.torch_python) if args.device_target == 'CPU' else None
    if torch_python:
        start_load = load_average()
        rows, versions = comparison_rows(args, base, torch_python)
        text += comparison_report(args, rows, versions, (start_load, load_average()))
    else:
        text += '\n(No comparison with PyTorch: torch and torchvision are not installed; see --torch_python.)\n'
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)


if __name__ == '__main__':
    main()
