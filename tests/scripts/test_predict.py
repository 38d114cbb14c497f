"""predict.py classifies a frame folder with a checkpoint and names the classes."""
import os
import subprocess
import sys

import numpy as np
import pytest
import mindspore as ms

from helpers import randomize
from src.checkpoint import save_params
from src.config import get_config
from src.data import BadSampleError, class_names_or_numbers, make_demo_dataset
from src.models import create_model

import predict

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
MODEL = ['--depth', '18', '--num_classes', '4', '--num_segments', '4', '--crop_size', '64', '--scale_size', '72']


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('demo'))
    make_demo_dataset(root, videos_per_class=(1, 0), num_frames=10, height=48, width=64,
                      motions=('move', 'turn'))
    return root


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """A randomized TSM-R18 (eval mode) and its checkpoint."""
    net = create_model('tsm', depth=18, num_classes=4, num_segments=4)
    randomize(net)
    net.set_train(False)
    return net, save_params(net, str(tmp_path_factory.mktemp('predict') / 'net.ckpt'))


@pytest.mark.parametrize('how', ['main', pytest.param('command_line', marks=pytest.mark.slow)])
def test_predict_prints_the_networks_top5_with_class_names(demo, checkpoint, how, monkeypatch, capsys):
    """predict.main in this process (its init_context not applied: PyNative kept); and, slow, `python predict.py`
    itself (GRAPH_MODE)."""
    net, ckpt = checkpoint
    folder = os.path.join(demo, 'frames', '1')
    config = get_config(MODEL)
    clip, num_frames = predict.load_clip(folder, config)
    assert clip.shape == (1, 12, 64, 64) and num_frames == 10
    expected = np.argsort(-net(ms.Tensor(clip)).asnumpy()[0])[:4]
    names = open(os.path.join(demo, 'category.txt')).read().split('\n')
    argv = [folder, *MODEL, '--ckpt', ckpt, '--device_target', 'CPU', '--class_names',
            os.path.join(demo, 'category.txt')]
    if how == 'main':
        monkeypatch.setattr(predict, 'init_context', lambda *args: None)
        predict.main(argv)
        out = capsys.readouterr().out
    else:
        result = subprocess.run([sys.executable, os.path.join(ROOT, 'predict.py'), *argv], capture_output=True,
                                text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        out = result.stdout
    lines = out.strip().split('\n')
    assert lines[0] == f'{folder}: 10 frames, 4 sampled'
    assert [int(line.split()[1]) for line in lines[1:]] == expected.tolist()
    assert [line.split(None, 2)[2] for line in lines[1:]] == [names[k] for k in expected]


def test_predict_refuses_an_empty_folder_and_a_wrong_class_file(tmp_path, demo):
    with pytest.raises(BadSampleError, match=r"no frame named like \{:06d\}\.jpg"):
        predict.load_clip(str(tmp_path), get_config(MODEL))
    with pytest.raises(BadSampleError, match='category.txt: 4 class names for num_classes=5'):
        class_names_or_numbers(os.path.join(demo, 'category.txt'), 5)
    assert class_names_or_numbers('', 3) == ['0', '1', '2']
