"""The video classifier: published names, every variant's shape, parity with an independent NumPy network."""
import os

import numpy as np
import pytest
import mindspore as ms
from mindspore import nn

import numpy_tsm
from helpers import randomize, relative_error, uninitialised
from src.models import create_model
from src.models.temporal_ops import OnlineTemporalShift, TemporalShift

FIXTURES = os.path.join(os.path.dirname(__file__), '..', 'fixtures')
ARCH_TEMPORAL = {'tsn': 'none', 'tsm': 'shift', 'tsm_online': 'online_shift'}
ARCH_OP = {'tsn': nn.Identity, 'tsm': TemporalShift, 'tsm_online': OnlineTemporalShift}


@pytest.fixture(scope='module')
def published():
    """The published TSM-R50 (174 classes, 8 segments) built once, with its initial weights as drawn at build time
    (a test loads a checkpoint into the network afterwards; the initial values stay in the snapshot)."""
    net = create_model('tsm', depth=50, num_classes=174, num_segments=8)
    return net, {p.name: p.asnumpy().copy() for p in net.get_parameters()}


@pytest.fixture(scope='module')
def tsm_r101():
    """TSM-R101 built once (uninitialised: only its structure is read)."""
    return uninitialised('tsm', depth=101, num_classes=7, num_segments=3)


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


def test_tsm_r50_carries_exactly_the_published_names_and_shapes(published):
    net, _ = published
    ours = {p.name: (tuple(p.shape), p.requires_grad) for p in net.get_parameters()}
    assert len(ours) == 267
    assert ours == published_params()


def test_a_checkpoint_with_the_published_names_loads_every_parameter(published):
    net, _ = published
    rng = np.random.default_rng(1)
    ckpt = {name: ms.Parameter(ms.Tensor(rng.standard_normal(shape).astype(np.float32)), name=name)
            for name, (shape, _) in published_params().items()}
    not_loaded, unused = ms.load_param_into_net(net, ckpt)
    assert not_loaded == [] and unused == []
    loaded = dict(net.parameters_and_names())
    np.testing.assert_array_equal(loaded['new_fc.weight'].asnumpy(), ckpt['new_fc.weight'].asnumpy())
    np.testing.assert_array_equal(loaded['base_model.layer3.5.conv1.net.weight'].asnumpy(),
                                  ckpt['base_model.layer3.5.conv1.net.weight'].asnumpy())


def blocks(net):
    return [list(stage) for stage in net.base_model.stages]


# Forward passes of every arch at depth 18 and of TSM at depth 50 run in the NumPy parity tests below; ResNet-34 and
# -101 run the same block code as 18 and 50 with more blocks, so here every arch x depth is checked without a forward:
# the head's width, the blocks per stage and their kind, and which temporal op each block's first conv takes.
@pytest.mark.parametrize('depth, feature_dim', [(18, 512), (34, 512), (50, 2048), (101, 2048)])
@pytest.mark.parametrize('arch', sorted(ARCH_TEMPORAL))
def test_every_arch_and_depth_builds_its_blocks_and_temporal_ops(arch, depth, feature_dim, tsm_r101):
    net = tsm_r101 if (arch, depth) == ('tsm', 101) else uninitialised(arch, depth=depth, num_classes=7,
                                                                       num_segments=3)
    assert tuple(net.new_fc.weight.shape) == (7, feature_dim)
    kind, sizes = numpy_tsm.STAGES[depth]
    assert tuple(len(stage) for stage in blocks(net)) == sizes
    shift_every = 2 if depth == 101 else 1  # as the original TSM for deep networks
    for stage in blocks(net):
        for i, block in enumerate(stage):
            assert hasattr(block, 'conv3') == (kind == 'bottleneck')
            op = block.conv1.temporal_op
            assert type(op) is (ARCH_OP[arch] if i % shift_every == 0 else nn.Identity)
            assert isinstance(op, nn.Identity) or (op.num_segments, op.shift_div) == (3, 8)


def test_resnet101_is_resnet50_with_23_blocks_in_layer3(published, tsm_r101):
    """Names and shapes: ResNet-101 adds layer3.6 to layer3.22, each one like layer3.1 to layer3.5; no other change
    (the forward of these blocks is ResNet-50's, checked against NumPy below)."""
    def params(net, prefix=''):
        return {n[len(prefix):]: tuple(p.shape) for n, p in net.parameters_and_names()
                if n.startswith(prefix) and not n.startswith('new_fc.')}

    r50, r101 = params(published[0]), params(tsm_r101)
    added = {n for n in r101 if n not in r50}
    assert len(r101) + 2 == 522 and {n: r101[n] for n in r50} == r50  # + new_fc.weight and new_fc.bias
    assert {n.split('.')[1] for n in added} == {'layer3'}
    assert sorted({int(n.split('.')[2]) for n in added}) == list(range(6, 23))
    pattern = params(published[0], 'base_model.layer3.1.')
    assert all(params(tsm_r101, f'base_model.layer3.{i}.') == pattern for i in range(1, 23))


def reverse_frames(clips, num_segments):
    n, _, h, w = clips.shape
    return clips.reshape(n, num_segments, 3, h, w)[:, ::-1].reshape(n, -1, h, w).copy()


# ResNet-50 (bottleneck, the published layout) once, at a small size with 3 segments; the other archs, placement and
# shift_div at ResNet-18 (basic block), whose forward costs a fraction; non-square sizes, odd in the late stages.
@pytest.mark.parametrize('arch, depth, shift_div, shift_place, num_segments, size', [
    ('tsm', 50, 8, 'blockres', 3, (40, 24)), ('tsm', 18, 8, 'blockres', 4, (64, 48)),
    ('tsn', 18, 8, 'blockres', 4, (64, 48)), ('tsm_online', 18, 8, 'blockres', 4, (64, 48)),
    ('tsm', 18, 4, 'block', 4, (64, 48))])
def test_network_matches_the_numpy_reference(arch, depth, shift_div, shift_place, num_segments, size):
    net = uninitialised(arch, depth=depth, num_classes=5, num_segments=num_segments, shift_div=shift_div,
                        shift_place=shift_place)
    params = randomize(net, seed=depth)
    clips = np.random.default_rng(2).standard_normal((2, 3 * num_segments, *size)).astype(np.float32)
    expected = numpy_tsm.forward(params, clips, depth, num_segments, shift_div, ARCH_TEMPORAL[arch], shift_place)
    out, reverse = np.split(logits(net, np.concatenate([clips, reverse_frames(clips, num_segments)])), 2)  # 1 run
    assert out.shape == expected.shape == (2, 5) and relative_error(out, expected) < 1e-5
    difference = relative_error(reverse, out)
    assert (difference < 1e-5) if arch == 'tsn' else (difference > 1e-3)  # only temporal models see frame order


@pytest.fixture(scope='module')
def r18_by_mode():
    """A random TSM-R18's logits on uint8 clips in graph mode and in PyNative, and in PyNative on the same clips
    normalised by the data pipeline: one graph compilation (seconds) for the two tests below."""
    from src.data.transforms import normalize

    net = uninitialised('tsm', depth=18, num_classes=5, num_segments=4)
    randomize(net)
    pixels = np.random.default_rng(7).integers(0, 256, (2, 12, 32, 32), dtype=np.uint8)
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        graph = logits(net, pixels)
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)
    return {'graph': graph, 'pynative': logits(net, pixels), 'normalised': logits(net, normalize(pixels))}


def test_graph_and_pynative_modes_agree(r18_by_mode):
    assert relative_error(r18_by_mode['graph'], r18_by_mode['pynative']) < 1e-5


def test_online_network_never_reads_future_frames():
    """Per-frame features of frames <= t do not change when frames > t do."""
    net = uninitialised('tsm_online', depth=18, num_classes=5, num_segments=4)
    randomize(net)
    net.set_train(False)
    frames = np.random.default_rng(5).standard_normal((4, 3, 32, 32)).astype(np.float32)
    base = net.base_model(ms.Tensor(frames)).asnumpy()
    changed = frames.copy()
    changed[2:] += 1.0
    out = net.base_model(ms.Tensor(changed)).asnumpy()
    np.testing.assert_allclose(out[:2], base[:2], rtol=1e-6, atol=1e-6)
    assert relative_error(out[2:], base[2:]) > 1e-3


def test_last_bn_of_each_branch_starts_at_zero_and_head_is_initialised_as_published(published):
    _, params = published
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
    net = uninitialised('tsm', depth=18, num_classes=5, num_segments=4)  # refused before any parameter is read
    with pytest.raises(ValueError, match=r'expected \(N, 12, H, W\) clips of 4 RGB frames, got 24 channels'):
        net(ms.Tensor(np.zeros((1, 24, 32, 32), np.float32)))


@pytest.mark.parametrize('depth', [18, 50])
def test_tin_network_adds_only_interlace_parameters_and_sees_frame_order(depth):
    net = uninitialised('tin', depth=depth, num_classes=5, num_segments=4, shift_div=4)
    names = {p.name for p in net.get_parameters()}
    plain = {p.name for p in uninitialised('tsm', depth=depth, num_classes=5, num_segments=4).get_parameters()}
    extra = names - plain
    assert plain <= names
    blocks = 16 if depth == 50 else 8
    assert len(extra) == blocks * 8  # offset_net: conv w/b, fc1 w/b, fc2 w/b; weight_net: conv w/b
    assert 'base_model.layer1.0.conv1.temporal_op.offset_net.fc2.bias' in extra
    if depth == 50:  # the interlace op's forward is the same in either block kind (tests/models/test_tin.py)
        return
    randomize(net)
    clips = np.random.default_rng(6).standard_normal((1, 12, 32, 32)).astype(np.float32)
    out = logits(net, clips)
    assert out.shape == (1, 5) and relative_error(logits(net, reverse_frames(clips, 4)), out) > 1e-3


def test_uint8_clips_are_normalised_inside_like_the_data_pipeline(r18_by_mode):
    for mode in ('graph', 'pynative'):
        assert relative_error(r18_by_mode[mode], r18_by_mode['normalised']) < 1e-5


@pytest.fixture(scope='module')
def float_r18():
    """A random 2-segment TSM-R18 (no dropout), uint8 clips and its float32 logits on them normalised, for each AMP
    level below (read only)."""
    from src.data.transforms import normalize

    net = uninitialised('tsm', depth=18, num_classes=5, num_segments=2, dropout=0.0)
    randomize(net)
    pixels = np.random.default_rng(8).integers(0, 256, (2, 6, 32, 32), dtype=np.uint8)
    return net, pixels, logits(net, normalize(pixels))


@pytest.mark.parametrize('amp_level', ['O1', 'O2', 'O3'])
def test_uint8_clips_survive_mixed_precision(amp_level, float_r18, tmp_path, monkeypatch):
    """The pipeline feeds uint8: AMP must not cast it to float16 ahead of the network's own normalisation."""
    monkeypatch.chdir(tmp_path)  # O1 writes its rewritten network's source into ./rewritten_network

    net, pixels, expected = float_r18
    half = uninitialised('tsm', depth=18, num_classes=5, num_segments=2, dropout=0.0)  # every parameter loaded
    ms.load_param_into_net(half, {p.name: ms.Parameter(p.value(), p.name) for p in net.get_parameters()})
    half = ms.amp.auto_mixed_precision(half, amp_level)
    assert relative_error(logits(half, pixels), expected) < 3e-3  # float16 rounding; unnormalised pixels: ~70
