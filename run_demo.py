"""The demo: TSM learns what TSN cannot, on synthetic videos whose classes differ only in temporal order (CPU).

    python run_demo.py                  # generate data, train TSM and TSN, evaluate both, print the table
    python run_demo.py --quick          # a shorter run (smaller crops, fewer videos and epochs; the test runs this)
    python run_demo.py --archs tsm,tsn,tin   # also TIN (temporal interlace, configs/demo_tin.yaml)
    python run_demo.py --archs tsm,tsn,tsm_mobilenetv2   # also MobileNetV2-TSM (configs/demo_tsm_mobilenetv2.yaml)

Classes come in pairs, a video of one played backwards is a video of the other (left->right / right->left, ...),
so a per-frame model (TSN) is at chance within each pair (<= 50 % top-1) while TSM can separate them. Every step is
a plain command (printed as it runs) writing under --output_dir: data/, tsm/ and tsn/ (train.log, checkpoints,
eval.json), results.json (the latest result of every model run on the same data: `--archs tin` adds TIN's) and
curves.png (held-out top-1 per epoch of the models of this run). While a model trains, the console shows a line per
epoch (loss, held-out top-1, ETA) and, on a terminal, a progress bar.
"""
import argparse
import json
import os
import sys
import time

from src.demo_steps import ARCHS, REPO, demo_size, make_data, train_and_eval
from src.runtime import apply_runtime_defaults

LABELS = {'tsm_mobilenetv2': 'TSM-MobileNetV2'}  # table and plot; the others: the arch in capitals
TARGETS = {'tsm': ('>=', 90.0), 'tsn': ('<=', 60.0), 'tin': ('>=', 90.0), 'tsm_mobilenetv2': ('>=', 90.0)}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--output_dir', default=os.path.join(REPO, 'outputs', 'demo'),
                        help='data/, one folder per model, results.json and curves.png go here')
    parser.add_argument('--quick', action=argparse.BooleanOptionalAction, default=False,
                        help='32 px crops, fewer held-out videos, 6 epochs (about 7 minutes on 2 cores)')
    parser.add_argument('--python', default=sys.executable, help='interpreter for train.py / eval.py')
    parser.add_argument('--seed', type=int, default=0, help='seed of the generated videos and of training')
    parser.add_argument('--epochs', type=int, default=None, help='override the epochs of the demo configs')
    parser.add_argument('--videos_per_class', default=None, help='override the data size: TRAIN,VAL (e.g. 8,4)')
    parser.add_argument('--archs', default='tsm,tsn', help=f'comma-separated models to train, of {",".join(ARCHS)}')
    args = parser.parse_args(argv)
    args.archs = args.archs.split(',')
    if not set(args.archs) <= set(ARCHS) or len(set(args.archs)) < len(args.archs):
        parser.error(f'--archs takes a comma-separated subset of {",".join(ARCHS)}, got {",".join(args.archs)}')
    return args


def table(results, total):
    lines = ['| model | top-1 % | top-5 % | mean class % | target | train | eval |', '|---|---|---|---|---|---|---|']
    for r in results:
        op, value = TARGETS[r['arch']]
        ok = r['top1'] >= value if op == '>=' else r['top1'] <= value
        label = LABELS.get(r['arch'], r['arch'].upper())
        lines.append(f"| {label} | {r['top1']:.1f} | {r['top5']:.1f} | {r['mean_class_acc']:.1f} | "
                     f"{op} {value:.0f} {'ok' if ok else 'MISSED'} | {r['train_s'] / 60:.1f} min | "
                     f"{r['eval_s']:.0f} s |")
    lines.append(f'\n{results[0]["num_videos"]} held-out videos; total wall time {total / 60:.1f} min')
    return '\n'.join(lines)


def plot_curves(output_dir, results, png_path):
    """Held-out top-1 per epoch of every model of this run (from their train_log.jsonl) in one PNG."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for r in results:
        with open(os.path.join(output_dir, r['name'], 'train_log.jsonl')) as f:
            val = [json.loads(line) for line in f if '"val"' in line]
        ax.plot([v['epoch'] for v in val], [v['top1'] for v in val], marker='o',
                label=LABELS.get(r['arch'], r['arch'].upper()))
    ax.set(xlabel='epoch', ylabel='held-out top-1 (%)', ylim=(0, 102), title='TSM learns temporal order, TSN cannot')
    ax.legend()
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)
    return png_path


def save_results(path, results, settings):
    """Write this run's results into `path`, keeping other models' results from earlier runs on the same data."""
    settings, saved = json.loads(json.dumps(settings)), {}  # tuples become lists, as read back
    if os.path.isfile(path):
        with open(path) as f:
            saved = json.load(f)
    kept = [r for r in saved.get('results', []) if saved.get('settings') == settings and
            r['name'] not in {new['name'] for new in results}]
    with open(path, 'w') as f:
        json.dump({'settings': settings, 'results': kept + results}, f, indent=1)


def main(argv=None):
    apply_runtime_defaults()  # first: also the defaults of the train.py / eval.py runs (GLOG_v before their import)
    args = parse_args(argv)
    start = time.time()
    size = demo_size(args.quick, args.videos_per_class, args.epochs)
    data_root = os.path.join(args.output_dir, 'data')
    print(f'generating the demo videos in {data_root}', flush=True)
    paths = make_data(data_root, size, args.seed)
    results = [train_and_eval(arch, output_dir=args.output_dir, data_root=os.path.join(data_root, 'frames'),
                              paths=paths, seed=args.seed, size=size, python=args.python)
               for arch in args.archs]
    total = time.time() - start
    save_results(os.path.join(args.output_dir, 'results.json'), results, {'size': list(size), 'seed': args.seed})
    print(table(results, total))
    png = plot_curves(args.output_dir, results, os.path.join(args.output_dir, 'curves.png'))
    print(f'held-out top-1 per epoch: {png}')
    return results


if __name__ == '__main__':
    main()
