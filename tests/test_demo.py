"""The main job: temporal order is learned by TSM and not by TSN (toy clips), and run_demo.py runs end to end."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import mindspore as ms

from src.models import create_model
from src.train_utils import create_optimizer, create_train_step

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
T, SIZE = 4, 32


def brightness_ramps(rng, n):
    """Class 0: the frames brighten, class 1: they darken; the frames as a bag are identically distributed."""
    labels = rng.integers(2, size=n)
    levels = np.sort(rng.uniform(-1.5, 1.5, size=(n, T)), axis=1)
    levels[labels == 1] = levels[labels == 1][:, ::-1]
    scene = rng.standard_normal((n, 1, 3, SIZE, SIZE)) * 0.5
    clips = scene + levels[:, :, None, None, None] + rng.standard_normal((n, T, 3, SIZE, SIZE)) * 0.3
    return ms.Tensor(clips.reshape(n, T * 3, SIZE, SIZE).astype(np.float32)), ms.Tensor(labels.astype(np.int32))


def train_and_score(arch, steps, seed=0):
    ms.set_seed(seed)
    rng = np.random.default_rng(seed)
    net = create_model(arch, depth=18, num_classes=2, num_segments=T)
    step = create_train_step(net, create_optimizer(net, np.full(steps, 0.01, np.float32), weight_decay=1e-4))
    for _ in range(steps):
        step(*brightness_ramps(rng, 16))
    clips, labels = brightness_ramps(np.random.default_rng(seed + 1), 128)
    net.set_train(False)
    return float((net(clips).asnumpy().argmax(1) == labels.asnumpy()).mean() * 100)


@pytest.mark.slow
def test_tsm_learns_temporal_order_that_tsn_cannot(run_in_mode):
    """SGD, the recipe's groups and clipping, 100 steps of 16 clips (~80 are needed) on 32 px, 4 frames."""
    tsm = run_in_mode('graph', lambda: train_and_score('tsm', 100))
    tsn = run_in_mode('graph', lambda: train_and_score('tsn', 60))
    assert tsm >= 90.0 and tsn <= 65.0 and tsm >= tsn + 25, (tsm, tsn)


@pytest.mark.slow
def test_run_demo_end_to_end_on_a_tiny_set(tmp_path):
    """The plumbing of the main job (data, train, eval, table) with 2 + 1 videos per class and one epoch."""
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'run_demo.py'), '--output_dir', str(tmp_path),
                             '--videos_per_class', '2,1', '--epochs', '1'], capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    with open(tmp_path / 'results.json') as f:
        results = {r['arch']: r for r in json.load(f)['results']}
    assert '| TSM |' in result.stdout and '| TSN |' in result.stdout and 'total wall time' in result.stdout
    assert results['tsm']['num_videos'] == results['tsn']['num_videos'] == 8
    for arch in ('tsm', 'tsn'):
        assert os.path.isfile(tmp_path / arch / 'checkpoints' / f'{arch}-e1.ckpt')
        assert len(json.load(open(tmp_path / arch / 'eval.json'))['videos']) == 8
