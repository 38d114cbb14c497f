"""export.py: the MINDIR loaded back and the ONNX file in onnxruntime run the network's logits, float32 or uint8
input."""
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
from src.config import ConfigError
from src.data.transforms import normalize
from src.models import create_model

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
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


def mindir_input_shape(path):
    from mindspore.train.mind_ir_pb2 import ModelProto
    model = ModelProto()
    with open(path, 'rb') as f:
        model.ParseFromString(f.read())
    (graph_input,) = model.graph.input
    return tuple(graph_input.tensor[0].dims)


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


@pytest.fixture
def export_main(monkeypatch):
    """export.main in this process, its init_context recorded instead of switching this process's device and mode."""
    import export
    calls = []
    monkeypatch.setattr(export, 'init_context', lambda *args: calls.append(args))
    monkeypatch.delenv('DEVICE_ID', raising=False)
    return export.main, calls


def test_deployment_batch_is_1_unless_given_on_the_command_line(tmp_path, export_main, monkeypatch):
    main, calls = export_main
    net = create_model('tsm', depth=18, num_classes=5, num_segments=2)
    ckpt = save_params(net, str(tmp_path / 'net.ckpt'))
    config = tmp_path / 'train.yaml'  # a training config: its batch_size is the training batch
    config.write_text('arch: tsm\ndepth: 18\nnum_classes: 5\nnum_segments: 2\ncrop_size: 32\nbatch_size: 8\n'
                      'device_target: CPU\n')
    base = ['--config_path', str(config), '--ckpt', ckpt, '--output_dir', str(tmp_path)]
    monkeypatch.setenv('DEVICE_ID', '3')
    path = main(base + ['--file_name', 'deploy'])
    assert calls == [('CPU', 'graph', 3)]  # DEVICE_ID reaches the device selection
    assert path == str(tmp_path / 'deploy.mindir') and mindir_input_shape(path) == (1, 6, 32, 32)
    assert run_mindir(path, np.zeros((1, 6, 32, 32), np.float32)).shape == (1, 5)
    monkeypatch.delenv('DEVICE_ID')
    path = main(base + ['--file_name', 'batch4', '--batch_size', '4'])
    assert calls[-1] == ('CPU', 'graph', None)
    assert mindir_input_shape(path) == (4, 6, 32, 32)


@pytest.mark.parametrize('args, message', [
    (['--batch_size', '0'], 'batch_size must be a positive integer, got 0'),
    (['--num_segments', '0'], 'num_segments must be a positive integer, got 0'),
    (['--crop_size', '-224'], 'crop_size must be a positive integer, got -224')])
def test_non_positive_sizes_are_refused_before_anything_is_written(tmp_path, export_main, args, message):
    main, calls = export_main
    key = args[0][2:]  # the config refuses them as it reads the command line
    with pytest.raises(ConfigError, match=f"command line --{key}: '{key}' must be >= 1, got {args[1]}"):
        main(['--ckpt', 'unused.ckpt', '--output_dir', str(tmp_path / 'out'), *args])
    assert calls == [] and not os.path.exists(tmp_path / 'out')
    net = create_model('tsm', depth=18, num_classes=5, num_segments=2)
    with pytest.raises(ValueError, match=message.split(',')[0]):  # the library function refuses them too
        export_network(net, str(tmp_path / 'x'), 'MINDIR', *{'batch_size': (0, 2, 32), 'num_segments': (1, 0, 32),
                                                             'crop_size': (1, 2, -224)}[args[0][2:]])
    assert os.listdir(tmp_path) == []


def test_a_bad_device_id_is_refused(tmp_path, export_main, monkeypatch):
    main, calls = export_main
    monkeypatch.setenv('DEVICE_ID', 'npu1')
    with pytest.raises(SystemExit, match="DEVICE_ID must be a non-negative integer, got 'npu1'"):
        main(['--ckpt', 'unused.ckpt', '--output_dir', str(tmp_path)])
    assert calls == []


def test_export_replaces_an_existing_file_only_when_complete(tmp_path, monkeypatch):
    import export
    net = create_model('tsm', depth=18, num_classes=5, num_segments=2)
    final = tmp_path / 'tsm.mindir'
    final.write_bytes(b'the good model')
    final.chmod(0o400)  # read-only, as MindSpore leaves its exports
    real_export = ms.export

    def disk_full(net, *inputs, file_name, file_format):  # writes part of the file, then fails like a full disk
        with open(file_name + '.mindir', 'wb') as f:
            f.write(b'trunc')
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(export.ms, 'export', disk_full)
    with pytest.raises(OSError, match='No space left on device'):
        export_network(net, str(tmp_path / 'tsm'), 'MINDIR', 1, 2, 32)
    assert final.read_bytes() == b'the good model' and os.listdir(tmp_path) == ['tsm.mindir']
    monkeypatch.setattr(export.ms, 'export', real_export)
    assert export_network(net, str(tmp_path / 'tsm'), 'MINDIR', 1, 2, 32) == str(final)
    assert os.listdir(tmp_path) == ['tsm.mindir']  # no temporary file left
    assert run_mindir(str(final), np.zeros((1, 6, 32, 32), np.float32)).shape == (1, 5)


def run_export_script(*args, **env):
    return subprocess.run(['bash', os.path.join(ROOT, 'scripts', 'run_export.sh'), *map(str, args)],
                          capture_output=True, text=True, timeout=300, env={**os.environ, **env})


def test_run_export_sh_checks_its_arguments(tmp_path):
    ckpt = tmp_path / 'net.ckpt'
    ckpt.write_bytes(b'')
    for args, message in [((), 'Usage: bash scripts/run_export.sh CKPT_PATH FILE_FORMAT OUTPUT_DIR DEVICE_TARGET'),
                          ((tmp_path / 'none.ckpt', 'MINDIR', tmp_path, 'CPU'), 'checkpoint not found'),
                          ((ckpt, 'OM', tmp_path, 'CPU'), "FILE_FORMAT must be MINDIR, ONNX or AIR, got 'OM'"),
                          ((ckpt, 'MINDIR', tmp_path, 'NPU'), "DEVICE_TARGET must be Ascend, GPU or CPU, got 'NPU'"),
                          ((ckpt, 'MINDIR', tmp_path, 'CPU', 'x1'), "DEVICE_ID must be a non-negative integer"),
                          ((ckpt, 'AIR', tmp_path, 'CPU'), 'AIR export needs DEVICE_TARGET Ascend')]:
        result = run_export_script(*args, PYTHON='/nonexistent/python')  # never reached: the checks come first
        assert result.returncode == 1 and message in result.stdout, (args, result.stdout)


def test_run_export_sh_exports_batch_1_with_the_device_id(tmp_path):
    net = create_model('tsm', depth=18, num_classes=5, num_segments=2)
    ckpt = save_params(net, str(tmp_path / 'net.ckpt'))
    config = tmp_path / 'config.yaml'
    config.write_text('depth: 18\nnum_classes: 5\nnum_segments: 2\ncrop_size: 32\nbatch_size: 8\n')
    result = run_export_script(ckpt, 'MINDIR', tmp_path / 'out', 'CPU', 2, '--config_path', config,
                               '--input_dtype', 'uint8', PYTHON=sys.executable)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert 'input (1, 6, 32, 32) uint8, DEVICE_ID 2' in result.stdout
    assert mindir_input_shape(str(tmp_path / 'out' / 'tsm.mindir')) == (1, 6, 32, 32)


@pytest.fixture(scope='module')
def mobilenet_v2(tmp_path_factory):
    """A randomized TSM-MobileNetV2 (conv gain 2: its logits then depend on the clip), its checkpoint, test clips."""
    net = create_model('tsm', backbone='mobilenetv2', num_classes=5, num_segments=4)
    randomize(net, conv_gain=2)
    net.set_train(False)
    ckpt = save_params(net, str(tmp_path_factory.mktemp('mobilenet_v2') / 'mnv2.ckpt'))
    return net, ckpt, normalize(np.random.default_rng(3).integers(0, 256, (2, 12, 64, 64)).astype(np.uint8))


def test_mobilenet_v2_exports_from_its_config_keys(mobilenet_v2, tmp_path):
    """`--backbone mobilenetv2` through export.py (BN folded, MINDIR)."""
    net, ckpt, clips = mobilenet_v2
    result = run_export(tmp_path, '--ckpt', ckpt, '--backbone', 'mobilenetv2', '--file_name', 'mnv2')
    assert result.returncode == 0, result.stderr[-3000:]
    mindir = run_mindir(str(tmp_path / 'mnv2.mindir'), clips)
    assert relative_error(mindir, net(ms.Tensor(clips)).asnumpy()) < 1e-5


def test_mobilenet_v2_exports_to_onnx_without_a_stem_pool(mobilenet_v2, tmp_path):
    net, _, clips = mobilenet_v2
    path = export_network(net, str(tmp_path / 'mnv2'), 'ONNX', 2, 4, 64)
    assert relative_error(run_onnx(path, clips), net(ms.Tensor(clips)).asnumpy()) < 1e-5
