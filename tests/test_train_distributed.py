"""Data parallel on CPU with msrun (2 workers): identical weights on both ranks, distributed eval = single eval."""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from src.data import make_demo_dataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ['--device_target', 'CPU', '--arch', 'tsm', '--depth', '18', '--num_classes', '4', '--num_segments', '4',
        '--crop_size', '32', '--scale_size', '32', '--batch_size', '2', '--num_parallel_workers', '1',
        '--log_every', '1']
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which('msrun', path=os.path.dirname(sys.executable)) is None,
                                 reason="msrun is not installed next to this interpreter")]


def env():
    """msrun starts a bare `python`: this interpreter's directory first on PATH."""
    return {**os.environ, 'PATH': os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', '')}


def worker_logs(log_dir):
    names = sorted(n for n in os.listdir(log_dir) if re.fullmatch(r'worker_\d+\.log', n))
    return [open(os.path.join(log_dir, n)).read() for n in names]


def test_msrun_training_keeps_ranks_identical_and_distributed_eval_equals_single(tmp_path):
    paths = make_demo_dataset(str(tmp_path / 'data'), videos_per_class=(3, 3), num_frames=8, height=32, width=40,
                              motions=('move', 'zoom'))  # 12 train videos (3 steps of 2 x 2), 12 val videos
    data = ['--data_root', str(tmp_path / 'data' / 'frames'), '--val_list', paths['val']]
    out = tmp_path / 'run'
    result = subprocess.run(['bash', os.path.join(ROOT, 'scripts', 'run_distribute_train.sh'), 'msrun', '2', 'CPU',
                             os.path.join(ROOT, 'configs', 'demo_tsm.yaml'), str(out), *TINY, *data,
                             '--train_list', paths['train'], '--epochs', '2', '--eval_every', '1'],
                            capture_output=True, text=True, env={**env(), 'MASTER_PORT': '8131'}, timeout=600)
    logs = worker_logs(out / 'log')
    assert result.returncode == 0, result.stdout[-2000:] + '\n'.join(log[-2000:] for log in logs)
    assert len(logs) == 2
    digests = [re.search(r'weights digest (\w+)', log).group(1) for log in logs]
    assert digests[0] == digests[1]  # gradients all-reduced, BN statistics averaged at each epoch end
    assert all('2 epochs x 3 steps of 2 clips x 2 devices' in log for log in logs)
    val = [json.loads(line) for line in open(out / 'train_log.jsonl') if '"val"' in line]
    assert [r['num_videos'] for r in val] == [12, 12]  # the whole val set, not a shard

    ckpt = str(out / 'checkpoints' / 'tsm-e2.ckpt')
    single = tmp_path / 'single.json'
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'eval.py'), *TINY, *data, '--ckpt', ckpt,
                             '--out', str(single), '--batch_size', '4', '--num_crops', '3'],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    result = subprocess.run(['bash', os.path.join(ROOT, 'scripts', 'run_eval.sh'), 'CPU',
                             os.path.join(ROOT, 'configs', 'demo_tsm.yaml'), ckpt, str(tmp_path / 'dist_eval'),
                             *TINY, *data, '--batch_size', '4', '--num_crops', '3'],
                            capture_output=True, text=True, env={**env(), 'DEVICE_NUM': '2', 'MASTER_PORT': '8132'},
                            timeout=600)
    assert result.returncode == 0, result.stdout[-3000:]
    single = json.load(open(single))
    dist = json.load(open(tmp_path / 'dist_eval' / 'eval_results.json'))
    assert dist['num_videos'] == single['num_videos'] == 12
    for key in ('top1', 'top5', 'mean_class_acc'):
        assert dist[key] == pytest.approx(single[key])
    for d, s in zip(dist['videos'], single['videos']):
        assert d['video'] == s['video'] and [t['class'] for t in d['top5']] == [t['class'] for t in s['top5']]
        assert [t['logit'] for t in d['top5']] == pytest.approx([t['logit'] for t in s['top5']], rel=1e-4, abs=1e-5)
