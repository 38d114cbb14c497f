"""The demo: TSM learns what TSN cannot, on synthetic videos whose classes differ only in temporal order (CPU).

    python run_demo.py                  # generate data, train TSM and TSN, evaluate both, print the table
    python run_demo.py --quick          # a shorter run (fewer videos and epochs; the slow test runs this)
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
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.abspath(__file__))
ARCHS = ('tsm', 'tsn', 'tin', 'tsm_mobilenetv2')  # each has configs/demo_<arch>.yaml
LABELS = {'tsm_mobilenetv2': 'TSM-MobileNetV2'}  # table and plot; the others: the arch in capitals
# (videos per class train/val, frames per video, frame height, width, epochs)
SIZES = {'full': ((64, 16), 16, 56, 72, None), 'quick': ((64, 8), 16, 56, 72, 10)}
TARGETS = {'tsm': ('>=', 90.0), 'tsn': ('<=', 60.0), 'tin': ('>=', 90.0), 'tsm_mobilenetv2': ('>=', 90.0)}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--output_dir', default=os.path.join(ROOT, 'outputs', 'demo'))
    parser.add_argument('--quick', action='store_true', help='fewer held-out videos and epochs (about 6 minutes)')
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


def demo_size(args):
    """(videos per class (train, val), frames, height, width, epochs or None) after --quick and the overrides."""
    size = SIZES['quick' if args.quick else 'full']
    if args.videos_per_class:
        size = (tuple(int(v) for v in args.videos_per_class.split(',')), *size[1:])
    if args.epochs:
        size = (*size[:-1], args.epochs)
    return size


def make_data(root, size, seed):
    """Generate the demo videos once per (size, seed); returns the list file paths."""
    sys.path.insert(0, ROOT)
    from src.data import make_demo_dataset

    videos, frames, height, width, _ = size
    stamp = os.path.join(root, 'demo.json')
    params = {'videos_per_class': list(videos), 'num_frames': frames, 'height': height, 'width': width, 'seed': seed}
    if os.path.isfile(stamp) and json.load(open(stamp)) == params:
        return {split: os.path.join(root, f'{split}_videofolder.txt') for split in ('train', 'val')}
    paths = make_demo_dataset(root, videos_per_class=videos, num_frames=frames, height=height, width=width,
                              seed=seed)
    with open(stamp, 'w') as f:
        json.dump(params, f)
    return paths


PROGRESS = re.compile(r'epoch (\d+)/(\d+) step (\d+)/(\d+) loss (\S+) .*?(?:ETA (\S+))?$')
VALIDATION = re.compile(r'epoch (\d+) validation: top1 ([\d.]+)')


class Console:
    """What the user sees while a model trains: a progress bar on a terminal, and one line per epoch.

    Reads train.py's log lines as they come (every line also goes to the log file)."""

    def __init__(self, name, stream=sys.stdout):
        self.name, self.stream, self.tty = name.upper(), stream, stream.isatty()
        self.loss, self.eta, self.epochs = float('nan'), '?', 0

    def feed(self, line):
        if (match := PROGRESS.search(line)):
            epoch, self.epochs, step, steps = (int(g) for g in match.groups()[:4])
            self.loss, self.eta = float(match.group(5)), match.group(6) or self.eta
            if self.tty:
                done = ((epoch - 1) * steps + step) / (self.epochs * steps)
                bar = '#' * int(30 * done) + '.' * (30 - int(30 * done))
                self.stream.write(f'\r{self.name} [{bar}] epoch {epoch}/{self.epochs} loss {self.loss:.3f} '
                                  f'ETA {self.eta}  ')
                self.stream.flush()
        elif (match := VALIDATION.search(line)):
            epoch, top1 = int(match.group(1)), float(match.group(2))
            self.stream.write(('\r' if self.tty else '') + f'{self.name} epoch {epoch}/{self.epochs}: loss '
                              f'{self.loss:.3f}, held-out top-1 {top1:5.1f} %, ETA {self.eta}' + ' ' * 20 + '\n')
            self.stream.flush()


def run(command, log_path, console=None):
    """Run one step, its output to log_path (and through `console`); returns seconds taken, or exits with the
    log's tail."""
    print('$ ' + ' '.join(command), flush=True)
    start = time.time()
    with open(log_path, 'w') as log:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT, text=True)
        for line in proc.stdout:
            log.write(line)
            if console is not None:
                console.feed(line.rstrip('\n'))
        code = proc.wait()
    if code:
        with open(log_path) as log:
            tail = ''.join(log.readlines()[-30:])
        sys.exit(f'failed (exit {code}); last lines of {log_path}:\n{tail}')
    return time.time() - start


def train_and_eval(arch, args, data_root, paths, epochs, name=None, overrides=()):
    """Train `configs/demo_<arch>.yaml` (+ train.py `overrides`) into <output_dir>/<name>, evaluate the last epoch."""
    name = name or arch
    out = os.path.join(args.output_dir, name)
    os.makedirs(out, exist_ok=True)
    common = ['--config_path', os.path.join(ROOT, 'configs', f'demo_{arch}.yaml'), '--data_root', data_root,
              '--val_list', paths['val'], '--seed', str(args.seed), *overrides]
    extra = ['--epochs', str(epochs)] if epochs else []
    train_time = run([args.python, os.path.join(ROOT, 'train.py'), *common, '--train_list', paths['train'],
                      '--output_dir', out, '--overwrite', 'True', *extra],  # a rerun moves the last one aside
                     os.path.join(out, 'train.log'), Console(name))
    ckpts = sorted((int(m.group(1)), n) for n in os.listdir(os.path.join(out, 'checkpoints'))  # <config arch>-e<N>
                   if (m := re.fullmatch(r'[a-z_]+-e(\d+)\.ckpt', n)))
    ckpt = os.path.join(out, 'checkpoints', ckpts[-1][1])  # the last epoch: no model selection on held-out data
    eval_time = run([args.python, os.path.join(ROOT, 'eval.py'), *common, '--ckpt', ckpt, '--output_dir', out,
                     '--out', os.path.join(out, 'eval.json')], os.path.join(out, 'eval.log'))
    with open(os.path.join(out, 'eval.json')) as f:
        metrics = {k: v for k, v in json.load(f).items() if k != 'videos'}
    # the demo model's name as arch (eval.json's arch is the config's: tsm for tsm_mobilenetv2)
    return {**metrics, 'arch': arch, 'name': name, 'train_s': train_time, 'eval_s': eval_time}


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
    args = parse_args(argv)
    start = time.time()
    size = demo_size(args)
    data_root = os.path.join(args.output_dir, 'data')
    print(f'generating the demo videos in {data_root}', flush=True)
    paths = make_data(data_root, size, args.seed)
    results = [train_and_eval(arch, args, os.path.join(data_root, 'frames'), paths, size[-1]) for arch in args.archs]
    total = time.time() - start
    save_results(os.path.join(args.output_dir, 'results.json'), results, {'size': list(size), 'seed': args.seed})
    print(table(results, total))
    png = plot_curves(args.output_dir, results, os.path.join(args.output_dir, 'curves.png'))
    print(f'held-out top-1 per epoch: {png}')
    return results


if __name__ == '__main__':
    main()
