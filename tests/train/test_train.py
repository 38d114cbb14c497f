"""train.py end to end on a tiny demo set: outputs, checkpoints, kill -9 and --resume, the configs it ships.

The runs (slow) are PyNative with 1-2 steps per epoch: a TSM-R18 graph takes longer to compile than those steps
take to run, and their point is the process (kill -9, exit status, one error line, resuming), not graph mode. train.py
in graph mode: test_train_distributed.py. The refusals run train.main() in this process: they stop before training.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from src.config import get_config, load_yaml
from src.data import make_demo_dataset
from src.train_utils import create_lr_schedule, scale_lr

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
TINY = ['--device_target', 'CPU', '--arch', 'tsm', '--depth', '18', '--num_classes', '4', '--num_segments', '2',
        '--crop_size', '32', '--scale_size', '32', '--batch_size', '4', '--num_parallel_workers', '1',
        '--lr_schedule', 'cosine', '--base_lr', '0.01', '--lr_batch_size', '4', '--warmup_epochs', '1',
        '--log_every', '1']
PYNATIVE = ('--mode', 'pynative')  # no graph compilation
ONE_STEP = ('--batch_size', '12')  # the 12 training videos in one step per epoch
TWO_STEPS = ('--batch_size', '6')


@pytest.fixture(scope='session')
def tiny_demo(tmp_path_factory):
    """4 classes (move, zoom), 3 train + 2 val videos per class, 8 frames of 32 x 40."""
    root = tmp_path_factory.mktemp('demo')
    paths = make_demo_dataset(str(root), videos_per_class=(3, 2), num_frames=8, height=32, width=40,
                              motions=('move', 'zoom'))
    return ['--data_root', str(root / 'frames'), '--train_list', paths['train'], '--val_list', paths['val'],
            '--class_names', paths['category']]


def train_command(out, data, *extra):
    return [sys.executable, os.path.join(ROOT, 'train.py'), *TINY, *data, '--output_dir', str(out), *extra]


def records(out):
    with open(os.path.join(out, 'train_log.jsonl')) as f:
        return [json.loads(line) for line in f]


@pytest.mark.slow  # two train.py runs
def test_kill_9_then_resume_last_continues_at_the_next_epoch(tmp_path, tiny_demo):
    out = tmp_path / 'run'
    ckpts = out / 'checkpoints'
    run = (*PYNATIVE, *TWO_STEPS, '--epochs', '2', '--keep_checkpoints', '1')
    proc = subprocess.Popen(train_command(out, tiny_demo, *run),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=str(tmp_path))
    deadline = time.time() + 240
    while not (ckpts / 'tsm-e1.ckpt').exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, 'training finished before it could be killed'
    done = max(int(n[len('tsm-e'):-len('.ckpt')]) for n in os.listdir(ckpts) if n.startswith('tsm-e'))
    assert done == 1 and not [n for n in os.listdir(ckpts) if 'tmp' in n]
    result = subprocess.run(train_command(out, tiny_demo, *run, '--resume', 'last'), capture_output=True, text=True,
                            cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert '1 epochs (2 steps) done' in result.stderr
    log = records(out)
    resumed = [r for r in log if r['type'] == 'train' and r['epoch'] > done]
    assert [r['global_step'] for r in resumed] == [3, 4]
    lr = create_lr_schedule(scale_lr(0.01, 6, 4), 2, 2, schedule='cosine', warmup_epochs=1)
    for r in resumed:  # the schedule continues where it stopped
        assert r['lr'] == pytest.approx(float(lr[r['global_step'] - 1]), rel=1e-5)
    assert sorted(n for n in os.listdir(ckpts) if n.endswith('.ckpt')) == ['tsm-best.ckpt', 'tsm-e2.ckpt']  # keep 1
    val = [r for r in log if r['type'] == 'val']
    assert [r['epoch'] for r in val][-1] == 2 and all(r['num_videos'] == 8 for r in val)
    best = json.load(open(ckpts / 'tsm-best.json'))
    assert best['top1'] == max(r['top1'] for r in val)
    assert load_yaml(str(out / 'config.yaml'))['resume'] == 'last'


def test_train_refuses_missing_data_and_resume_without_checkpoint(tmp_path, tiny_demo, monkeypatch):
    import train

    monkeypatch.setattr(train, 'setup_logging', lambda *args: None)  # pytest keeps its own log handlers
    monkeypatch.setattr(train.ms, 'set_seed', lambda seed: None)  # and the other tests their process-wide seeds
    monkeypatch.setattr(train.ds.config, 'set_seed', lambda seed: None)

    def refusal(*args):
        """train.py's exit message (SystemExit: status 1, the message on stderr); 1 epoch if it did train."""
        monkeypatch.setattr(sys, 'argv', ['train.py', *args, *PYNATIVE, '--epochs', '1'])
        with pytest.raises(SystemExit) as exit_:
            train.main()
        assert isinstance(exit_.value.code, str), exit_.value.code
        return exit_.value.code

    assert '--data_root and --train_list are required' in refusal(*TINY)
    assert '--resume last: no checkpoint in' in refusal(*train_command(tmp_path, tiny_demo, '--resume', 'last')[2:])
    (tmp_path / 'checkpoints').mkdir(exist_ok=True)
    (tmp_path / 'checkpoints' / 'tsm-e3.ckpt').write_bytes(b'an earlier run')
    assert f'output_dir {tmp_path} already holds a run (checkpoints/tsm-e3.ckpt)' in \
        refusal(*train_command(tmp_path, tiny_demo)[2:])
    assert (tmp_path / 'checkpoints' / 'tsm-e3.ckpt').read_bytes() == b'an earlier run'


@pytest.mark.slow  # two train.py runs
def test_a_zero_byte_frame_in_training_is_one_error_line_or_a_counted_skip(tmp_path, tiny_demo):
    """Issue 12: the pipeline's error reaches the user as one line naming the frame (exit 1, no traceback); with
    --skip_bad_samples the video is replaced and counted."""
    data = dict(zip(tiny_demo[::2], tiny_demo[1::2]))
    frames = tmp_path / 'frames'
    shutil.copytree(data['--data_root'], frames)
    with open(data['--train_list']) as f:
        video = f.readline().split()[0]
    for name in os.listdir(frames / video):
        (frames / video / name).write_bytes(b'')  # every frame: whichever the random sampling draws
    env = {k: v for k, v in os.environ.items() if k != 'TSM_DEBUG'}
    extra = ('--data_root', str(frames), '--epochs', '1', '--eval_every', '0', '--seed', '0', *PYNATIVE, *ONE_STEP)
    result = subprocess.run(train_command(tmp_path / 'stop', tiny_demo, *extra), capture_output=True, text=True,
                            env=env, timeout=600)
    errors = [line for line in result.stderr.splitlines() if 'error' in line.lower()]
    assert result.returncode == 1 and len(errors) == 1 and 'Traceback' not in result.stderr, result.stderr[-3000:]
    assert re.fullmatch(rf"train\.py: error: {re.escape(str(frames))}/{video}/00000[1-8]\.jpg: empty frame file "
                        r"\(0 bytes\)", errors[0])
    result = subprocess.run(train_command(tmp_path / 'skip', tiny_demo, *extra, '--skip_bad_samples', 'True'),
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.search(rf"skipped bad sample: .*/{video}/00000[1-8]\.jpg: empty frame file", result.stderr)
    assert 'skipped 1 bad samples in total' in result.stderr
    assert [r['epoch'] for r in records(tmp_path / 'skip') if 'epoch' in r][-1] == 1


def test_demo_configs_differ_only_in_the_model_and_output_dir():
    tsm, tsn, tin, mobilenet = (load_yaml(os.path.join(ROOT, 'configs', f'demo_{name}.yaml'))
                                for name in ('tsm', 'tsn', 'tin', 'tsm_mobilenetv2'))
    assert {k for k in tsm.keys() | tsn.keys() if tsm.get(k) != tsn.get(k)} == {'arch', 'output_dir'}
    assert {k for k in tsm.keys() | tin.keys() if tsm.get(k) != tin.get(k)} == {'arch', 'output_dir'}
    assert {k for k in tsm.keys() | mobilenet.keys() if tsm.get(k) != mobilenet.get(k)} == \
        {'backbone', 'depth', 'output_dir'}  # no ResNet depth
    assert get_config(['--config_path', os.path.join(ROOT, 'configs', 'demo_tin.yaml')]).shift_div == 4  # registry
    assert (tsm['arch'], tsn['arch'], tsm['device_target'], mobilenet['backbone']) == ('tsm', 'tsn', 'CPU',
                                                                                       'mobilenetv2')


@pytest.mark.slow  # a train.py run
def test_tin_trains_its_offset_and_weight_networks(tmp_path, tiny_demo):
    """A TIN run feeds gradients to every block's offset and weight networks through the real training loop.

    Two steps: each residual branch ends in a zero-initialised BN scale, so the first step's gradients stop there
    (SGD's momentum then holds the gradients of both). 4 segments: with 2, the offset network's 2 hidden ReLUs can
    all be dead in a block, its gradients zero there."""
    from src.checkpoint import read_params

    result = subprocess.run(train_command(tmp_path, tiny_demo, '--arch', 'tin', '--shift_div', '4', '--epochs', '1',
                                          '--num_segments', '4', *PYNATIVE, *TWO_STEPS, '--eval_every', '0',
                                          '--weight_decay', '0'),  # with decay, momenta are non-zero without grads
                            capture_output=True, text=True, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    params = read_params(tmp_path / 'checkpoints' / 'tin-e1.ckpt')
    for net in ('offset_net.fc2', 'offset_net.fc1', 'offset_net.conv', 'weight_net.conv'):
        for kind in ('weight', 'bias'):
            momenta = [v for k, v in params.items() if k.startswith('moments.') and k.endswith(f'{net}.{kind}')]
            assert len(momenta) == 8, (net, kind)  # one per BasicBlock of ResNet-18
            assert all(np.abs(v).max() > 0 for v in momenta), (net, kind)  # SGD momentum = accumulated gradients
    weight_bias = [v for k, v in params.items() if k.startswith('base_model.') and k.endswith('weight_net.conv.bias')]
    assert all((v != 0).all() for v in weight_bias)  # moved from their zero initialisation
    losses = [r['loss'] for r in records(tmp_path) if r['type'] == 'train']
    assert losses and np.isfinite(losses).all()
