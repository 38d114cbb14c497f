"""export.py: the MINDIR loaded back runs the same logits as the network it came from."""
import os
import subprocess
import sys

import numpy as np
import pytest
import mindspore as ms

from helpers import randomize, relative_error
from src.checkpoint import save_params
from src.models import create_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARGS = ['--arch', 'tsm', '--depth', '18', '--num_classes', '5', '--num_segments', '4', '--crop_size', '64',
        '--batch_size', '2', '--device_target', 'CPU']


def run_export(tmp_path, *extra):
    return subprocess.run([sys.executable, os.path.join(ROOT, 'export.py'), *ARGS, '--output_dir', str(tmp_path),
                           *extra], capture_output=True, text=True, timeout=300)


def test_exported_mindir_reproduces_the_network_logits(tmp_path):
    net = create_model('tsm', depth=18, num_classes=5, num_segments=4)
    randomize(net)  # non-trivial weights, BN statistics included
    ckpt = save_params(net, str(tmp_path / 'net.ckpt'))
    result = run_export(tmp_path, '--ckpt', ckpt, '--file_name', 'tsm_r18')
    assert result.returncode == 0, result.stderr
    clips = np.random.default_rng(0).standard_normal((2, 12, 64, 64)).astype(np.float32)
    net.set_train(False)
    expected = net(ms.Tensor(clips)).asnumpy()
    graph = ms.nn.GraphCell(ms.load(str(tmp_path / 'tsm_r18.mindir')))
    actual = graph(ms.Tensor(clips)).asnumpy()
    assert actual.shape == (2, 5)
    assert relative_error(actual, expected) < 1e-5


def test_export_refuses_a_missing_checkpoint_and_air_off_ascend(tmp_path):
    result = run_export(tmp_path)
    assert result.returncode != 0 and '--ckpt is required' in result.stderr
    net = create_model('tsm', depth=18, num_classes=5, num_segments=4)
    ckpt = save_params(net, str(tmp_path / 'net.ckpt'))
    result = run_export(tmp_path, '--ckpt', ckpt, '--file_format', 'AIR')
    assert result.returncode != 0 and 'AIR export needs an Ascend backend' in result.stderr
    result = run_export(tmp_path, '--ckpt', ckpt, '--num_classes', '6')
    assert result.returncode != 0 and 'new_fc.weight' in result.stderr
