"""The shift study on the demo dataset: how much to shift, and where (the paper's Table 1 / Figure 3 questions).

    python benchmarks/shift_study.py                     # 6 variants x seed 0, full demo size (about 30 min on 2 cores)
    python benchmarks/shift_study.py --seeds 0,1 --variants tsn,1/4,1/4-inplace

Every variant trains TSM-ResNet-18 from scratch with `configs/demo_tsm.yaml` (TSN: `demo_tsn.yaml`) on the same
generated videos (run_demo.py's data and steps: src/demo_steps.py), evaluates the last epoch on the held-out videos,
and is timed for inference: one clip forward (GRAPH_MODE, a fresh process per variant, variants alternating) at the
study's own size and at the SSv2 size (ResNet-50, 8 x 224). Fractions are of all channels shifted: 1/4 is 1/8 each
way (the default, shift_div 8); "all" is half each way (shift_div 2). Writes results.json under --output_dir, a
markdown table to --out and, if matplotlib is installed (optional), a plot next to it. Each finished run is kept
(<output_dir>/<variant>-seed<k>/eval.json): a rerun after an interruption skips the runs already done.
"""
import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the checkout's src/ for `python benchmarks/shift_study.py` from anywhere (an entry script's only path change)
sys.path.insert(0, str(ROOT))

import timing  # noqa: E402  (benchmarks/timing.py, next to this script: bench_model.py's timing worker)

from src.demo_steps import demo_size, make_data, train_and_eval  # noqa: E402
from src.runtime import apply_runtime_defaults  # noqa: E402

# name -> (fraction of channels shifted, arch, shift_div, shift_place)
VARIANTS = {
    'tsn': (0.0, 'tsn', 8, 'blockres'),
    '1/8': (1 / 8, 'tsm', 16, 'blockres'),
    '1/4': (1 / 4, 'tsm', 8, 'blockres'),
    '1/2': (1 / 2, 'tsm', 4, 'blockres'),
    'all': (1.0, 'tsm', 2, 'blockres'),
    '1/4-inplace': (1 / 4, 'tsm', 8, 'block'),
}
LATENCY_SIZES = {'demo': (18, 4, 48), 'ssv2': (50, 8, 224)}  # (depth, segments, crop)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--variants', default=','.join(VARIANTS), help=f'comma-separated, of {",".join(VARIANTS)}')
    parser.add_argument('--seeds', default='0', help='comma-separated training seeds (the data uses the first)')
    parser.add_argument('--output_dir', default=str(ROOT / 'outputs' / 'shift_study'),
                        help='the data, one folder per variant and seed, and results.json go here')
    parser.add_argument('--out', default=str(ROOT / 'benchmarks' / 'results' / 'shift_study.md'),
                        help='the markdown table (the plot goes next to it, .png)')
    parser.add_argument('--quick', action=argparse.BooleanOptionalAction, default=False,
                        help="run_demo.py's quick size")
    parser.add_argument('--epochs', type=int, default=None, help='override the epochs of the demo configs')
    parser.add_argument('--videos_per_class', default=None, help='override the data size: TRAIN,VAL')
    parser.add_argument('--latency', default='demo,ssv2', help=f'inference sizes to time, of {",".join(LATENCY_SIZES)}'
                        ' (empty: none)')
    parser.add_argument('--repeats', type=int, default=5, help='timed forwards per variant and size')
    parser.add_argument('--early_epoch', type=int, default=6, help='also report held-out top-1 after this epoch '
                        '(learning speed; the demo configs evaluate every epoch)')
    parser.add_argument('--python', default=sys.executable, help='interpreter for train.py / eval.py')
    args = parser.parse_args(argv)
    args.variants, args.latency = args.variants.split(','), [s for s in args.latency.split(',') if s]
    try:
        args.seeds = [int(s) for s in args.seeds.split(',')]
    except ValueError:
        parser.error(f'--seeds takes comma-separated integers, got {args.seeds!r}')
    unknown = set(args.variants) - set(VARIANTS) or set(args.latency) - set(LATENCY_SIZES)
    if unknown:
        parser.error(f'unknown variant or latency size {sorted(unknown)}')
    if len(set(args.variants)) < len(args.variants) or len(set(args.seeds)) < len(args.seeds):
        parser.error('--variants and --seeds must not repeat an entry')
    return args


def train_variants(args):
    """{variant: [eval result per seed]}: each variant trained and evaluated by the demo's steps.

    A run whose `done.json` records the same data size and settings is not repeated.
    """
    size = demo_size(args.quick, args.videos_per_class, args.epochs)
    data_root = os.path.join(args.output_dir, 'data')
    paths = make_data(data_root, size, args.seeds[0])
    results = {name: [] for name in args.variants}
    for seed in args.seeds:
        for name in args.variants:
            _, arch, shift_div, place = VARIANTS[name]
            tag = f"{name.replace('/', '_')}-seed{seed}"
            done = os.path.join(args.output_dir, tag, 'done.json')
            settings = json.loads(json.dumps({'size': size, 'seed': seed, 'arch': arch, 'shift_div': shift_div,
                                              'shift_place': place}))  # as read back from done.json
            if os.path.isfile(done) and json.load(open(done))['settings'] == settings:
                logging.info('%s: done before, kept (%s)', tag, done)
                results[name].append(json.load(open(done))['result'])
                continue
            overrides = ['--shift_div', str(shift_div), '--shift_place', place]
            result = train_and_eval(arch, output_dir=args.output_dir, data_root=os.path.join(data_root, 'frames'),
                                    paths=paths, seed=seed, size=size, name=tag, overrides=overrides,
                                    python=args.python)
            result['curve'] = val_curve(os.path.join(args.output_dir, tag, 'train_log.jsonl'))
            with open(done, 'w') as f:
                json.dump({'settings': settings, 'result': result}, f, indent=1)
            results[name].append(result)
    return results


def val_curve(log_path):
    """[(epoch, held-out top-1)] of a training run's periodic validation (train_log.jsonl)."""
    with open(log_path) as f:
        records = [json.loads(line) for line in f]
    return [(r['epoch'], r['top1']) for r in records if r['type'] == 'val']


def top1_after(curve, epoch):
    """Held-out top-1 of the last validation at or before `epoch` (None if there was none)."""
    earlier = [top1 for e, top1 in curve if e <= epoch]
    return earlier[-1] if earlier else None


def first_epoch_reaching(curve, top1):
    """The first validated epoch with held-out top-1 >= `top1`, or None."""
    return next((e for e, t in curve if t >= top1), None)


def mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else float('nan')


def time_variants(args):
    """{size: {variant: median forward ms}}, one fresh process per (variant, size), variants alternating."""
    latency = {}
    for size in args.latency:
        depth, segments, crop = LATENCY_SIZES[size]
        times = {name: [] for name in args.variants}
        for _ in range(2):  # two rounds, so load drift on a shared machine hits every variant
            for name in args.variants:
                _, arch, shift_div, place = VARIANTS[name]
                job = {'device_target': 'CPU', 'kind': 'forward', 'batch': 1, 'arch': arch, 'depth': depth,
                       'num_segments': segments, 'image_size': crop, 'num_classes': 174, 'shift_div': shift_div,
                       'shift_place': place, 'warmup': 1, 'repeats': args.repeats}
                times[name] += timing.spawn(job)['times']
        latency[size] = {name: 1e3 * timing.median(t) for name, t in times.items()}
    return latency


def summarise(args, results, latency):
    """Markdown table: held-out top-1 (final and early, mean and per seed), epochs to 90 %, latency per size."""
    sizes = [f'{size} ({"R%d, %d x %d" % LATENCY_SIZES[size]}) ms' for size in args.latency]
    early = args.early_epoch
    header = ['variant', 'channels shifted', 'place', 'top-1 % (mean)', 'top-1 % per seed',
              f'top-1 % after epoch {early} (mean)', 'first epoch >= 90 % per seed', *sizes]
    rows = []
    for name in args.variants:
        fraction, arch, _, place = VARIANTS[name]
        top1 = [r['top1'] for r in results[name]]
        curves = [r.get('curve', []) for r in results[name]]
        reached = [first_epoch_reaching(c, 90.0) for c in curves]
        rows.append([name.upper() if arch == 'tsn' else name, f'{fraction:.3g}',
                     '-' if arch == 'tsn' else ('residual' if place == 'blockres' else 'in-place'),
                     f'{mean(top1):.1f}', ' / '.join(f'{t:.1f}' for t in top1),
                     f'{mean([top1_after(c, early) for c in curves]):.1f}',
                     ' / '.join('-' if e is None else str(e) for e in reached),
                     *(f'{latency[s][name]:.1f}' for s in args.latency)])
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(row) + ' |' for row in rows]
    first = results[args.variants[0]][0]
    lines += ['', f"{first['num_videos']} held-out demo videos (6 classes, chance 16.7 %), ResNet-18 from scratch, "
              f"seeds {', '.join(map(str, args.seeds))}, top-1 of the last epoch; '-': never reached. Latency: median "
              f"one-clip forward (batch 1) on {timing.machine_info('CPU')['cpu']}, {os.cpu_count()} cores."]
    return '\n'.join(lines) + '\n'


def plot(args, results, latency, path):
    """Top-1 against the fraction shifted (residual; in-place marked apart), latency on a second axis."""
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        logging.warning('matplotlib is not installed: no plot (pip install matplotlib)')
        return None
    figure, axis = plt.subplots(figsize=(6, 3.6))
    residual = [n for n in args.variants if VARIANTS[n][3] == 'blockres']
    early = args.early_epoch
    final = {n: mean([r['top1'] for r in results[n]]) for n in args.variants}
    after = {n: mean([top1_after(r.get('curve', []), early) for r in results[n]]) for n in args.variants}
    for values, style, label in ((final, 'o-', 'final'), (after, 'o:', f'after epoch {early}')):
        axis.plot([VARIANTS[n][0] for n in residual], [values[n] for n in residual], style, color='C0',
                  label=f'top-1 {label}, residual')
        inplace = [n for n in args.variants if n not in residual]
        axis.plot([VARIANTS[n][0] for n in inplace], [values[n] for n in inplace], style[0], color='C3',
                  fillstyle='full' if label == 'final' else 'none', label=f'top-1 {label}, in-place')
    axis.set_xlabel('fraction of channels shifted (0 = TSN)')
    axis.set_ylabel('demo top-1 %')
    axis.set_ylim(0, 105)
    if args.latency:
        size = args.latency[-1]
        twin = axis.twinx()
        twin.plot([VARIANTS[n][0] for n in residual], [latency[size][n] for n in residual], 'x--', color='C2',
                  label=f'latency {size}')
        twin.set_ylabel(f'{size} forward ms (batch 1)')
        twin.set_ylim(0, 1.3 * max(latency[size].values()))
    figure.legend(loc='upper center', ncol=3, fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0, 1, 0.9))
    figure.savefig(path, dpi=100)
    return path


def main(argv=None):
    apply_runtime_defaults()  # first: also the defaults of the train.py / eval.py / timing runs it starts
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')
    start = time.time()
    results = train_variants(args)
    latency = time_variants(args)
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, 'results.json'), 'w') as f:
        json.dump({'results': results, 'latency_ms': latency, 'total_s': time.time() - start}, f, indent=1)
    text = summarise(args, results, latency)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    figure = plot(args, results, latency, str(Path(args.out).with_suffix('.png')))
    if figure:
        logging.info('plot: %s', figure)
    return results, latency


if __name__ == '__main__':
    main()
