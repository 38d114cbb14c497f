"""The video classifier: published names, every variant's shape, parity with an independent NumPy network."""
import os

import numpy as np
import pytest
import mindspore as ms

import numpy_tsm
from helpers import randomize, relative_error
from src.models import create_model

FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'fixtures')
ARCH_TEMPORAL = {'tsn': 'none', 'tsm': 'shift', 'tsm_online': 'online_shift'}


def published_params():
    """name -> (shape, trainable) from the Hub checkpoint's parameter list."""
    params = {}
    with open(os.path.join(FIXTURES, 'hub_tsm_r50_sthv2_params.tsv')) as f:
        for line in f:
            if not line.startswith('#'):
                name, shape, kind = line.rstrip('\n').split('\t')
                params[name] = (tuple(int(v) for v in shape.split('x')), kind == 'trainable')
    return params


def logits(net, clips):
    net.set_train(False)
    return net(ms.Tensor(clips)).asnumpy()


def test_tsm_r50_carries_exactly_the_published_names_and_shapes():
    net = create_model('tsm', depth=50, num_classes=174, num_segments=8)
    ours = {p.name: (tuple(p.shape), p.requires_grad) for p in net.get_parameters()}
    assert len(ours) == 267
    assert ours == published_params()


def test_a_checkpoint_with_the_published_names_loads_every_parameter():
    net = create_model('tsm', depth=50, num_classes=174, num_segments=8)
    rng = np.random.default_rng(1)
    ckpt = {name: ms.Parameter(ms.Tensor(rng.standard_normal(shape).astype(np.float32)), name=name)
            for name, (shape, _) in published_params().items()}
    not_loaded, unused = ms.load_param_into_net(net, ckpt)
    assert not_loaded == [] and unused == []
    loaded = dict(net.parameters_and_names())
    np.testing.assert_array_equal(loaded['new_fc.weight'].asnumpy(), ckpt['new_fc.weight'].asnumpy())
    np.testing.assert_array_equal(loaded['base_model.layer3.5.conv1.net.weight'].asnumpy(),
                                  ckpt['base_model.layer3.5.conv1.net.weight'].asnumpy())


@pytest.mark.parametrize('depth, feature_dim', [(18, 512), (34, 512), (50, 2048), (101, 2048)])
@pytest.mark.parametrize('arch', sorted(ARCH_TEMPORAL))
def test_every_arch_and_depth_builds_with_the_right_output_shape(arch, depth, feature_dim):
    net = create_model(arch, depth=depth, num_classes=7, num_segments=3)
    assert tuple(net.new_fc.weight.shape) == (7, feature_dim)
    out = logits(net, np.random.default_rng(0).standard_normal((2, 9, 32, 32)).astype(np.float32))
    assert out.shape == (2, 7) and np.isfinite(out).all()


@pytest.mark.parametrize('arch, depth, shift_div, shift_place', [
    ('tsm', 50, 8, 'blockres'), ('tsn', 50, 8, 'blockres'), ('tsm_online', 50, 8, 'blockres'),
    ('tsm', 50, 4, 'block'), ('tsm', 18, 8, 'blockres'), ('tsm', 101, 8, 'blockres')])
def test_network_matches_the_numpy_reference(arch, depth, shift_div, shift_place):
    num_segments = 4
    net = create_model(arch, depth=depth, num_classes=5, num_segments=num_segments, shift_div=shift_div,
                       shift_place=shift_place)
    params = randomize(net, seed=depth)
    clips = np.random.default_rng(2).standard_normal((2, 3 * num_segments, 64, 48)).astype(np.float32)
    expected = numpy_tsm.forward(params, clips, depth, num_segments, shift_div, ARCH_TEMPORAL[arch], shift_place)
    assert relative_error(logits(net, clips), expected) < 1e-5


def test_graph_and_pynative_modes_agree(run_in_mode):
    net = create_model('tsm', depth=18, num_classes=5, num_segments=4)
    randomize(net)
    clips = np.random.default_rng(3).standard_normal((2, 12, 64, 64)).astype(np.float32)
    graph = run_in_mode('graph', lambda: logits(net, clips))
    pynative = run_in_mode('pynative', lambda: logits(net, clips))
    assert relative_error(graph, pynative) < 1e-5


def reverse_frames(clips, num_segments):
    n, _, h, w = clips.shape
    return clips.reshape(n, num_segments, 3, h, w)[:, ::-1].reshape(n, -1, h, w).copy()


@pytest.mark.parametrize('arch, order_matters', [('tsn', False), ('tsm', True)])
def test_only_temporal_models_see_frame_order(arch, order_matters):
    net = create_model(arch, depth=18, num_classes=5, num_segments=4)
    randomize(net)
    clips = np.random.default_rng(4).standard_normal((1, 12, 32, 32)).astype(np.float32)
    difference = relative_error(logits(net, reverse_frames(clips, 4)), logits(net, clips))
    assert (difference > 1e-3) if order_matters else (difference < 1e-5)


def test_online_network_never_reads_future_frames():
    """Per-frame features of frames <= t do not change when frames > t do."""
    net = create_model('tsm_online', depth=18, num_classes=5, num_segments=4)
    randomize(net)
    net.set_train(False)
    frames = np.random.default_rng(5).standard_normal((4, 3, 32, 32)).astype(np.float32)
    base = net.base_model(ms.Tensor(frames)).asnumpy()
    changed = frames.copy()
    changed[2:] += 1.0
    out = net.base_model(ms.Tensor(changed)).asnumpy()
    np.testing.assert_allclose(out[:2], base[:2], rtol=1e-6, atol=1e-6)
    assert relative_error(out[2:], base[2:]) > 1e-3


def test_last_bn_of_each_branch_starts_at_zero_and_head_is_initialised_as_published():
    net = create_model('tsm', depth=50, num_classes=174, num_segments=8)
    params = {p.name: p.asnumpy() for p in net.get_parameters()}
    assert all(not params[f'base_model.layer{k}.0.bn3.gamma'].any() for k in range(1, 5))
    assert params['base_model.layer1.0.bn2.gamma'].min() == 1.0
    assert abs(params['new_fc.weight'].std() - 0.001) < 1e-4 and not params['new_fc.bias'].any()


def test_bad_arguments_and_inputs_are_refused():
    with pytest.raises(ValueError, match="unknown model 'tsmm'; registered: tsm_r50, "):
        create_model('tsmm')
    with pytest.raises(ValueError, match="unknown arch 'tsmm'"):
        create_model('tsm_r18', arch='tsmm')
    with pytest.raises(ValueError, match="unknown backbone 'vgg16'"):
        create_model('tsm', backbone='vgg16')
    with pytest.raises(TypeError, match=r"unknown model keyword\(s\) \['depht'\]"):
        create_model('tsm', depht=18)
    with pytest.raises(ValueError, match="unknown shift_place 'res'"):
        create_model('tsm', shift_place='res')
    with pytest.raises(ValueError, match='unsupported ResNet depth 42'):
        create_model('tsm', depth=42)
    with pytest.raises(ValueError, match='drop probability'):
        create_model('tsm', depth=18, dropout=1.0)
    net = create_model('tsm', depth=18, num_classes=5, num_segments=4)
    with pytest.raises(ValueError, match=r'expected \(N, 12, H, W\) clips of 4 RGB frames, got 24 channels'):
        net(ms.Tensor(np.zeros((1, 24, 32, 32), np.float32)))


@pytest.mark.parametrize('depth', [18, 50])
def test_tin_network_adds_only_interlace_parameters_and_sees_frame_order(depth):
    net = create_model('tin', depth=depth, num_classes=5, num_segments=4, shift_div=4)
    names = {p.name for p in net.get_parameters()}
    plain = {p.name for p in create_model('tsm', depth=depth, num_classes=5, num_segments=4).get_parameters()}
    extra = names - plain
    assert plain <= names
    blocks = 16 if depth == 50 else 8
    assert len(extra) == blocks * 8  # offset_net: conv w/b, fc1 w/b, fc2 w/b; weight_net: conv w/b
    assert 'base_model.layer1.0.conv1.temporal_op.offset_net.fc2.bias' in extra
    randomize(net)
    clips = np.random.default_rng(6).standard_normal((1, 12, 32, 32)).astype(np.float32)
    out = logits(net, clips)
    assert out.shape == (1, 5) and relative_error(logits(net, reverse_frames(clips, 4)), out) > 1e-3


def test_uint8_clips_are_normalised_inside_like_the_data_pipeline(run_in_mode):
    from src.data.transforms import normalize

    net = create_model('tsm', depth=18, num_classes=5, num_segments=4)
    randomize(net)
    pixels = np.random.default_rng(7).integers(0, 256, (2, 12, 32, 32), dtype=np.uint8)
    for mode in ('graph', 'pynative'):
        from_uint8 = run_in_mode(mode, lambda: logits(net, pixels))
        assert relative_error(from_uint8, logits(net, normalize(pixels))) < 1e-5


@pytest.mark.parametrize('amp_level', ['O1', 'O2', 'O3'])
def test_uint8_clips_survive_mixed_precision(amp_level, tmp_path, monkeypatch):
    """The pipeline feeds uint8: AMP must not cast it to float16 ahead of the network's own normalisation."""
    from src.data.transforms import normalize

    monkeypatch.chdir(tmp_path)  # O1 writes its rewritten network's source into ./rewritten_network

    net = create_model('tsm', depth=18, num_classes=5, num_segments=2, dropout=0.0)
    randomize(net)
    pixels = np.random.default_rng(8).integers(0, 256, (2, 6, 32, 32), dtype=np.uint8)
    expected = logits(net, normalize(pixels))
    half = create_model('tsm', depth=18, num_classes=5, num_segments=2, dropout=0.0)
    ms.load_param_into_net(half, {p.name: ms.Parameter(p.value(), p.name) for p in net.get_parameters()})
    half = ms.amp.auto_mixed_precision(half, amp_level)
    assert relative_error(logits(half, pixels), expected) < 3e-3  # float16 rounding; unnormalised pixels: ~70
