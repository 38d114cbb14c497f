"""export.py: the MINDIR loaded back and the ONNX file in onnxruntime run the network's logits, float32 or uint8 input."""
import os
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest
import mindspore as ms

from export import export_network
from helpers import randomize, relative_error
from src.checkpoint import save_params
from src.data.transforms import normalize
from src.models import create_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARGS = ['--arch', 'tsm', '--depth', '18', '--num_classes', '5', '--num_segments', '4', '--crop_size', '64',
        '--batch_size', '2', '--device_target', 'CPU']


def run_export(tmp_path, *extra):
    return subprocess.run([sys.executable, os.path.join(ROOT, 'export.py'), *ARGS, '--output_dir', str(tmp_path),
                           *extra], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A randomized TSM-R18 (non-trivial weights, BN statistics included), its checkpoint, and test clips."""
    root = tmp_path_factory.mktemp('export')
    net = create_model('tsm', depth=18, num_classes=5, num_segments=4)
    randomize(net)
    net.set_train(False)
    pixels = np.random.default_rng(0).integers(0, 256, (2, 12, 64, 64)).astype(np.uint8)
    return net, save_params(net, str(root / 'net.ckpt')), pixels


def run_onnx(path, clips):
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    (graph_input,) = session.get_inputs()
    assert graph_input.shape == list(clips.shape)
    return session.run(None, {graph_input.name: clips})[0]


def run_mindir(path, clips):
    return ms.nn.GraphCell(ms.load(path))(ms.Tensor(clips)).asnumpy()


@pytest.mark.parametrize('file_format, run', [('MINDIR', run_mindir), ('ONNX', run_onnx)])
@pytest.mark.parametrize('input_dtype', ['float32', 'uint8'])
def test_exported_graph_reproduces_the_network_logits(trained, tmp_path, file_format, run, input_dtype):
    net, ckpt, pixels = trained
    result = run_export(tmp_path, '--ckpt', ckpt, '--file_name', 'tsm_r18', '--file_format', file_format,
                        '--input_dtype', input_dtype)
    assert result.returncode == 0, result.stderr[-3000:]
    clips = normalize(pixels) if input_dtype == 'float32' else pixels
    expected = net(ms.Tensor(clips)).asnumpy()
    actual = run(str(tmp_path / f'tsm_r18.{file_format.lower()}'), clips)
    assert actual.shape == (2, 5) and actual.dtype == np.float32
    assert relative_error(actual, expected) < 1e-5
    if input_dtype == 'uint8':  # raw pixels in, the same logits as eval.py's normalised float32 clips
        assert relative_error(actual, net(ms.Tensor(normalize(pixels))).asnumpy()) < 1e-5


def test_export_refuses_a_missing_checkpoint_and_air_off_ascend(tmp_path):
    result = run_export(tmp_path)
    assert result.returncode != 0 and '--ckpt is required' in result.stderr
    net = create_model('tsm', depth=18, num_classes=5, num_segments=4)
    ckpt = save_params(net, str(tmp_path / 'net.ckpt'))
    result = run_export(tmp_path, '--ckpt', ckpt, '--file_format', 'AIR')
    assert result.returncode != 0 and 'AIR export needs an Ascend backend' in result.stderr
    result = run_export(tmp_path, '--ckpt', ckpt, '--num_classes', '6')
    assert result.returncode != 0 and 'new_fc.weight' in result.stderr
    result = run_export(tmp_path, '--ckpt', ckpt, '--input_dtype', 'int8')
    assert result.returncode != 0 and "'input_dtype' must be one of ['float32', 'uint8']" in result.stderr


@pytest.mark.parametrize('arch', ['tsn', 'tsm_online'])
def test_other_variants_export_to_onnx(tmp_path, arch):
    net = create_model(arch, depth=18, num_classes=5, num_segments=4, onnx_stem=True)
    randomize(net)
    net.set_train(False)
    pixels = np.random.default_rng(1).integers(0, 256, (1, 12, 32, 32)).astype(np.uint8)
    path = export_network(net, str(tmp_path / arch), 'ONNX', 1, 4, 32, 'uint8')
    assert relative_error(run_onnx(path, pixels), net(ms.Tensor(pixels)).asnumpy()) < 1e-5


def test_onnx_stem_is_the_same_network():
    net, onnx_net = (create_model('tsm', depth=18, num_classes=5, num_segments=2, onnx_stem=flag) for flag in (0, 1))
    randomize(net)
    ms.load_param_into_net(onnx_net, {p.name: ms.Parameter(p.value(), p.name) for p in net.get_parameters()})
    pixels = np.random.default_rng(2).integers(0, 256, (2, 6, 33, 33)).astype(np.uint8)  # odd size: padding matters
    net.set_train(False)
    onnx_net.set_train(False)
    assert relative_error(onnx_net(ms.Tensor(pixels)).asnumpy(), net(ms.Tensor(pixels)).asnumpy()) < 1e-6


def test_onnx_export_refuses_tin_and_the_fused_stem_pool(tmp_path):
    net = create_model('tin', depth=18, num_classes=5, num_segments=4, shift_div=4, onnx_stem=True)
    with pytest.raises(ValueError, match='ONNX export of TIN is not supported'):
        export_network(net, str(tmp_path / 'tin'), 'ONNX', 1, 4, 32)
    net = create_model('tsm', depth=18, num_classes=5, num_segments=4)
    with pytest.raises(ValueError, match=r'onnx_stem=True'):
        export_network(net, str(tmp_path / 'tsm'), 'ONNX', 1, 4, 32)
    assert not os.listdir(tmp_path)
