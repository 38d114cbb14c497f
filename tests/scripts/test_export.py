"""export.py: the MINDIR loaded back and the ONNX file in onnxruntime run the network's logits, float32 or uint8
input.

export.py's main() runs in this process (its init_context recorded, not applied: PyNative, the test's device); one
slow test runs the real command line through scripts/run_export.sh (GRAPH_MODE, a config file, DEVICE_ID)."""
import os
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest
import mindspore as ms

from export import export_network
from helpers import randomize, relative_error
from src.checkpoint import CheckpointMismatchError, save_params
from src.config import ConfigError
from src.data.transforms import normalize
from src.models import create_model

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
ARGS = ['--arch', 'tsm', '--depth', '18', '--num_classes', '5', '--num_segments', '4', '--crop_size', '32',
        '--batch_size', '2', '--device_target', 'CPU']


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A randomized TSM-R18 (non-trivial weights, BN statistics included), its checkpoint, test clips (uint8 pixels)
    and the network's logits for them, given as uint8 and as eval.py's normalised float32."""
    root = tmp_path_factory.mktemp('export')
    net = create_model('tsm', depth=18, num_classes=5, num_segments=4)
    randomize(net)
    net.set_train(False)
    pixels = np.random.default_rng(0).integers(0, 256, (2, 12, 32, 32)).astype(np.uint8)
    logits = {dtype: net(ms.Tensor(clips)).asnumpy() for dtype, clips in (('uint8', pixels),
                                                                           ('float32', normalize(pixels)))}
    return net, save_params(net, str(root / 'net.ckpt')), pixels, logits


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


@pytest.fixture
def export_main(monkeypatch):
    """export.main in this process, its init_context recorded instead of switching this process's device and mode."""
    import export
    calls = []
    monkeypatch.setattr(export, 'init_context', lambda *args: calls.append(args))
    monkeypatch.delenv('DEVICE_ID', raising=False)
    return export.main, calls


# MINDIR in the fast tier, ONNX in the slow one (test_onnx_stem_is_the_same_network is fast); MINDIR with uint8
# input: the slow run_export.sh test below
@pytest.mark.parametrize('file_format, input_dtype', [
    ('MINDIR', 'float32'), pytest.param('ONNX', 'uint8', marks=pytest.mark.slow),
    pytest.param('ONNX', 'float32', marks=pytest.mark.slow)])
def test_exported_graph_reproduces_the_network_logits(trained, tmp_path, export_main, file_format, input_dtype):
    _, ckpt, pixels, logits = trained
    run = {'MINDIR': run_mindir, 'ONNX': run_onnx}[file_format]
    main, calls = export_main
    path = main([*ARGS, '--output_dir', str(tmp_path), '--ckpt', ckpt, '--file_name', 'tsm_r18', '--file_format',
                 file_format, '--input_dtype', input_dtype])
    assert path == str(tmp_path / f'tsm_r18.{file_format.lower()}') and calls == [('CPU', 'graph', None)]
    actual = run(path, normalize(pixels) if input_dtype == 'float32' else pixels)
    assert actual.shape == (2, 5) and actual.dtype == np.float32
    assert relative_error(actual, logits[input_dtype]) < 1e-5
    # raw pixels in, the same logits as eval.py's normalised float32 clips
    assert relative_error(actual, logits['float32']) < 1e-5


def test_export_refuses_a_missing_checkpoint_and_air_off_ascend(trained, tmp_path, export_main):
    main, _ = export_main
    _, ckpt, _, _ = trained
    base = [*ARGS, '--output_dir', str(tmp_path)]
    with pytest.raises(SystemExit, match='--ckpt is required'):
        main(base)
    with pytest.raises(ValueError, match='AIR export needs an Ascend backend'):
        main([*base, '--ckpt', ckpt, '--file_format', 'AIR'])
    with pytest.raises(CheckpointMismatchError, match='new_fc.weight'):
        main([*base, '--ckpt', ckpt, '--num_classes', '6'])
    with pytest.raises(ConfigError, match=r"'input_dtype' must be one of \['float32', 'uint8'\]"):
        main([*base, '--ckpt', ckpt, '--input_dtype', 'int8'])
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
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


def test_deployment_batch_is_1_unless_given_on_the_command_line(trained, tmp_path, export_main, monkeypatch):
    """What main hands to export_network (that the file then takes that batch: the tests above and the slow
    run_export.sh one, a batch-1 MINDIR from a config file like this one)."""
    import export
    main, calls = export_main
    _, ckpt, _, _ = trained
    exported = []
    monkeypatch.setattr(export, 'export_network', lambda *args: exported.append(args[1:]) or 'exported')
    config = tmp_path / 'train.yaml'  # a training config: its batch_size is the training batch
    config.write_text('arch: tsm\ndepth: 18\nnum_classes: 5\nnum_segments: 4\ncrop_size: 32\nbatch_size: 8\n'
                      'device_target: CPU\n')
    base = ['--config_path', str(config), '--ckpt', ckpt, '--output_dir', str(tmp_path)]
    monkeypatch.setenv('DEVICE_ID', '3')
    assert main(base + ['--file_name', 'deploy']) == 'exported'
    assert calls == [('CPU', 'graph', 3)]  # DEVICE_ID reaches the device selection
    monkeypatch.delenv('DEVICE_ID')
    main(base + ['--file_name', 'batch4', '--batch_size', '4'])
    assert calls[-1] == ('CPU', 'graph', None)
    assert exported == [(str(tmp_path / 'deploy'), 'MINDIR', 1, 4, 32, 'float32'),
                        (str(tmp_path / 'batch4'), 'MINDIR', 4, 4, 32, 'float32')]


@pytest.mark.parametrize('args, message', [
    (['--batch_size', '0'], 'batch_size must be a positive integer, got 0'),
    (['--num_segments', '0'], 'num_segments must be a positive integer, got 0'),
    (['--crop_size', '-224'], 'crop_size must be a positive integer, got -224')])
def test_non_positive_sizes_are_refused_before_anything_is_written(trained, tmp_path, export_main, args, message):
    main, calls = export_main
    key = args[0][2:]  # the config refuses them as it reads the command line
    with pytest.raises(ConfigError, match=f"command line --{key}: '{key}' must be >= 1, got {args[1]}"):
        main(['--ckpt', 'unused.ckpt', '--output_dir', str(tmp_path / 'out'), *args])
    assert calls == [] and not os.path.exists(tmp_path / 'out')
    net = trained[0]
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
    net = ms.nn.SequentialCell([ms.nn.Conv2d(6, 5, 32, pad_mode='valid'), ms.nn.Flatten()])  # any network will do
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


@pytest.mark.slow
def test_run_export_sh_exports_batch_1_with_the_device_id(trained, tmp_path):
    """The real command line end to end: run_export.sh -> `python export.py` (GRAPH_MODE) with a config file whose
    batch_size is for training, DEVICE_ID 2 and uint8 input: a batch-1 MINDIR that gives the network's logits."""
    _, ckpt, pixels, logits = trained
    config = tmp_path / 'config.yaml'
    config.write_text('depth: 18\nnum_classes: 5\nnum_segments: 4\ncrop_size: 32\nbatch_size: 8\n')
    result = run_export_script(ckpt, 'MINDIR', tmp_path / 'out', 'CPU', 2, '--config_path', config,
                               '--input_dtype', 'uint8', PYTHON=sys.executable)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert 'input (1, 12, 32, 32) uint8, DEVICE_ID 2' in result.stdout
    path = str(tmp_path / 'out' / 'tsm.mindir')
    assert mindir_input_shape(path) == (1, 12, 32, 32)
    assert relative_error(run_mindir(path, pixels[:1]), logits['float32'][:1]) < 1e-5


@pytest.mark.slow
def test_mobilenet_v2_exports_to_onnx_from_its_config_keys(tmp_path, export_main):
    """`--backbone mobilenetv2 --file_format ONNX` through export.py's main: BN folded, no stem pool to refuse, the
    network's logits in onnxruntime (a randomized network, conv gain 2: its logits then depend on the clip)."""
    net = create_model('tsm', backbone='mobilenetv2', num_classes=5, num_segments=4)
    randomize(net, conv_gain=2)
    net.set_train(False)
    ckpt = save_params(net, str(tmp_path / 'mnv2.ckpt'))
    clips = normalize(np.random.default_rng(3).integers(0, 256, (2, 12, 64, 64)).astype(np.uint8))
    main, _ = export_main
    path = main([*ARGS, '--crop_size', '64', '--output_dir', str(tmp_path), '--ckpt', ckpt, '--backbone',
                 'mobilenetv2', '--file_format', 'ONNX', '--file_name', 'mnv2'])
    assert path == str(tmp_path / 'mnv2.onnx')
    assert relative_error(run_onnx(path, clips), net(ms.Tensor(clips)).asnumpy()) < 1e-5
