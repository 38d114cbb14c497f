"""Online TSM frame by frame equals the offline online network for both backbones; each block owns its cache, whose
shape comes from the network; it exports with the caches as inputs and outputs, and the exported graph computes what
PyNative does."""
import functools

import numpy as np
import pytest
import mindspore as ms
from mindspore.nn.utils import no_init_parameters

from helpers import randomize, relative_error
from src.models import create_model
from src.models.streaming import StreamingTSM, create_streaming_model

T, H, W = 3, 32, 48
# name, overrides, conv gain (MobileNetV2 needs 2, see helpers.randomize), shifted blocks
NETWORKS = {'r18': ('tsm_online', {'depth': 18}, 1.0, 8), 'r50': ('tsm_online', {'depth': 50}, 1.0, 16),
            'mobilenetv2': ('tsm_online_mobilenetv2', {}, 2.0, 10)}


@functools.lru_cache(maxsize=None)  # built once per network for the tests below, which only run them
def offline_and_streaming(network, seed=0):
    name, overrides, gain, _ = NETWORKS[network]
    with no_init_parameters():  # every parameter is set below: skip drawing the initial weights (seconds at R50)
        offline = create_model(name, num_classes=5, num_segments=T, **overrides)
        streaming = create_streaming_model(name, num_classes=5, **overrides)
    params = randomize(offline, seed, conv_gain=gain)
    assert sorted(p.name for p in streaming.get_parameters()) == sorted(params)
    feed = {n: ms.Parameter(ms.Tensor(v), name=n) for n, v in params.items()}
    not_loaded, _ = ms.load_param_into_net(streaming, feed)
    assert not_loaded == []
    offline.set_train(False)
    streaming.set_train(False)
    return offline, streaming


@pytest.fixture(scope='module', autouse=True)
def release_networks():
    yield
    offline_and_streaming.cache_clear()


def stream(streaming, frames):
    """frames (N, T, 3, H, W) -> per-frame logits (N, T, K), feeding one frame at a time."""
    caches = streaming.initial_caches(frames.shape[0], *frames.shape[-2:])
    outputs = []
    for t in range(frames.shape[1]):
        logits, *caches = streaming(ms.Tensor(frames[:, t]), *caches)
        outputs.append(logits.asnumpy())
    return np.stack(outputs, axis=1)


# PyNative only: graph mode compiles the streaming network for seconds (MobileNetV2: 10 s and more);
# test_streaming_model_exports_to_mindir checks one graph-compiled step against PyNative, from arbitrary caches.
@pytest.mark.parametrize('network', [pytest.param(n, marks=pytest.mark.slow) if n == 'r50' else n
                                     for n in sorted(NETWORKS)])  # R50: seconds, the same code as R18
def test_streaming_equals_offline_per_frame_logits(network):
    offline, streaming = offline_and_streaming(network)
    assert len(streaming.cache_shapes(2, H, W)) == NETWORKS[network][3]
    frames = np.random.default_rng(1).standard_normal((2, T, 3, H, W)).astype(np.float32)
    per_frame = offline.new_fc(offline.base_model(ms.Tensor(frames.reshape(-1, 3, H, W)))).asnumpy()
    per_frame = per_frame.reshape(2, T, -1)
    streamed = stream(streaming, frames)
    assert relative_error(streamed, per_frame) < 1e-5
    assert relative_error(streamed[:, 1:], streamed[:, :1]) > 1e-2  # frames differ: the comparison means something


def test_the_first_frame_needs_no_caches():
    _, streaming = offline_and_streaming('mobilenetv2')
    frame = ms.Tensor(np.random.default_rng(3).standard_normal((1, 3, H, W)).astype(np.float32))
    without = streaming(frame)
    with_zeros = streaming(frame, *streaming.initial_caches(1, H, W))
    assert len(without) == len(with_zeros) == 11
    assert all(np.array_equal(a.asnumpy(), b.asnumpy()) for a, b in zip(without, with_zeros))


def test_cache_shapes_come_from_the_network(run_in_mode):
    _, resnet = offline_and_streaming('r50')  # create_streaming_model(depth=50, num_classes=5), random weights
    shapes = run_in_mode('graph', lambda: resnet.cache_shapes(1, 224, 224))
    assert shapes[0] == (1, 64 // 8, 56, 56) and shapes[1] == (1, 256 // 8, 56, 56)
    assert shapes[3] == (1, 256 // 8, 56, 56) and shapes[4] == (1, 512 // 8, 28, 28)  # layer2.0 input, layer2.1
    assert shapes[-1] == (1, 2048 // 8, 7, 7)
    assert ms.get_context('mode') == ms.PYNATIVE_MODE and not resnet.training  # the conftest's mode, restored
    mobilenet = create_streaming_model('tsm_online_mobilenetv2')
    mobilenet.set_train(True)
    # the shift buffers the original online demo (mit-han-lab online_demo/main.py) allocates by hand for 224 x 224
    assert mobilenet.cache_shapes(1, 224, 224) == [(1, 3, 56, 56), (1, 4, 28, 28), (1, 4, 28, 28), (1, 8, 14, 14),
                                                   (1, 8, 14, 14), (1, 8, 14, 14), (1, 12, 14, 14), (1, 12, 14, 14),
                                                   (1, 20, 7, 7), (1, 20, 7, 7)]
    assert mobilenet.training  # restored
    assert mobilenet.cache_shapes(2, 65, 97)[-1] == (2, 20, 3, 4)  # odd sizes: whatever the strides make of them


def test_only_online_residual_shift_networks_stream():
    with no_init_parameters():  # only the structure is read
        nets = (create_model('tsm', depth=18, num_classes=5), create_model('tsm_online', depth=18, shift_place='block'),
                create_model('tsm', depth=18, shift_place='block'), create_model('tsm_mobilenetv2'))
    for net in nets:
        with pytest.raises(ValueError, match="tsm_online network with shift_place 'blockres'"):
            StreamingTSM(net.base_model, net.new_fc)


@pytest.mark.parametrize('network', ['r18', pytest.param('mobilenetv2', marks=pytest.mark.slow)])
def test_streaming_model_exports_to_mindir(tmp_path, network):
    """The exported (graph-compiled) step equals PyNative's from random caches: with the PyNative stream equal to the
    offline network (above), so is the graph-mode stream."""
    _, streaming = offline_and_streaming(network)
    rng = np.random.default_rng(2)
    caches = [ms.Tensor(rng.standard_normal(shape).astype(np.float32)) for shape in streaming.cache_shapes(1, H, W)]
    frame = ms.Tensor(rng.standard_normal((1, 3, H, W)).astype(np.float32))
    ms.export(streaming, frame, *caches, file_name=str(tmp_path / 'online'), file_format='MINDIR')
    graph = ms.nn.GraphCell(ms.load(str(tmp_path / 'online.mindir')))
    expected = [o.asnumpy() for o in streaming(frame, *caches)]
    actual = [o.asnumpy() for o in graph(frame, *caches)]
    assert len(actual) == 1 + len(caches) == 1 + NETWORKS[network][3]
    assert all(relative_error(a, e) < 1e-5 for a, e in zip(actual[:1], expected[:1]))
    assert relative_error(streaming(frame)[0].asnumpy(), expected[0]) > 1e-3  # the caches count
    assert all(np.array_equal(a, e) for a, e in zip(actual[1:], expected[1:]))
