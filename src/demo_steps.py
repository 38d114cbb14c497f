"""The demo's steps as plain commands (run_demo.py, benchmarks/shift_study.py): the synthetic videos generated once per
size and seed, then a demo config trained by train.py and its last epoch evaluated by eval.py, each in a subprocess
whose log goes to a file and, while it trains, to a console line per epoch.

The steps run the entry scripts of this checkout (REPO: train.py, eval.py, configs/demo_<arch>.yaml).
"""
import json
import os
import re
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the checkout holding train.py and configs/
ARCHS = ('tsm', 'tsn', 'tin', 'tsm_mobilenetv2')  # each has configs/demo_<arch>.yaml
# (videos per class train/val, frames per video, frame height, width, (crop, short side) or None, epochs or None);
# None: the demo configs' (48 px crops of frames scaled to 56, 12 epochs). On 32 px crops a step costs about 2/3 and
# TSM learns the order sooner (100 % held-out top-1 from epoch 4 of 6, measured), so the quick run is 6 epochs.
SIZES = {'full': ((64, 16), 16, 56, 72, None, None), 'quick': ((64, 8), 16, 56, 72, (32, 40), 6)}


def demo_size(quick=False, videos_per_class=None, epochs=None):
    """(videos per class (train, val), frames, height, width, (crop, short side) or None, epochs or None): the
    full or quick size, then the overrides (`videos_per_class`: 'TRAIN,VAL'; `epochs`: replaces the size's)."""
    size = SIZES['quick' if quick else 'full']
    if videos_per_class:
        size = (tuple(int(v) for v in videos_per_class.split(',')), *size[1:])
    if epochs:
        size = (*size[:-1], epochs)
    return size


def make_data(root, size, seed):
    """Generate the demo videos once per (size, seed); returns the list file paths."""
    from src.data import make_demo_dataset  # here: the steps' own process needs no MindSpore until data is made

    videos, frames, height, width = size[:4]
    stamp = os.path.join(root, 'demo.json')
    params = {'videos_per_class': list(videos), 'num_frames': frames, 'height': height, 'width': width, 'seed': seed}
    if os.path.isfile(stamp):
        with open(stamp) as f:
            if json.load(f) == params:
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
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=REPO, text=True)
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


def train_and_eval(arch, *, output_dir, data_root, paths, seed, size, name=None, overrides=(), python=sys.executable):
    """Train `configs/demo_<arch>.yaml` (+ the crop and epochs of `size`, then train.py `overrides`) into
    <output_dir>/<name> (default: arch) with `python`, evaluate the last epoch; returns eval.py's metrics with the
    arch, name and both steps' seconds."""
    name = name or arch
    out = os.path.join(output_dir, name)
    os.makedirs(out, exist_ok=True)
    crop, epochs = size[4:]
    crop = ['--crop_size', str(crop[0]), '--scale_size', str(crop[1])] if crop else []
    common = ['--config_path', os.path.join(REPO, 'configs', f'demo_{arch}.yaml'), '--data_root', data_root,
              '--val_list', paths['val'], '--seed', str(seed), *crop, *overrides]
    extra = ['--epochs', str(epochs)] if epochs else []
    train_time = run([python, os.path.join(REPO, 'train.py'), *common, '--train_list', paths['train'],
                      '--output_dir', out, '--overwrite', *extra],  # a rerun moves the last one aside
                     os.path.join(out, 'train.log'), Console(name))
    ckpts = sorted((int(m.group(1)), n) for n in os.listdir(os.path.join(out, 'checkpoints'))  # <config arch>-e<N>
                   if (m := re.fullmatch(r'[a-z_]+-e(\d+)\.ckpt', n)))
    ckpt = os.path.join(out, 'checkpoints', ckpts[-1][1])  # the last epoch: no model selection on held-out data
    eval_time = run([python, os.path.join(REPO, 'eval.py'), *common, '--ckpt', ckpt, '--output_dir', out,
                     '--out', os.path.join(out, 'eval.json')], os.path.join(out, 'eval.log'))
    with open(os.path.join(out, 'eval.json')) as f:
        metrics = {k: v for k, v in json.load(f).items() if k != 'videos'}
    # the demo model's name as arch (eval.json's arch is the config's: tsm for tsm_mobilenetv2)
    return {**metrics, 'arch': arch, 'name': name, 'train_s': train_time, 'eval_s': eval_time}
