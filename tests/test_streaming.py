"""Online TSM frame by frame equals the offline uni-directional network; caches are explicit; it exports."""
import numpy as np
import pytest
import mindspore as ms

from helpers import randomize, relative_error
from src.models import create_model
from src.models.streaming import StreamingTSM, create_streaming_model

T, H, W = 4, 48, 64


def offline_and_streaming(depth, seed=0):
    offline = create_model('tsm_online', depth=depth, num_classes=5, num_segments=T)
    params = randomize(offline, seed)
    streaming = create_streaming_model(depth=depth, num_classes=5)
    assert sorted(p.name for p in streaming.get_parameters()) == sorted(params)
    not_loaded, _ = ms.load_param_into_net(streaming, {n: ms.Parameter(ms.Tensor(v), name=n) for n, v in params.items()})
    assert not_loaded == []
    offline.set_train(False)
    streaming.set_train(False)
    return offline, streaming


def stream(streaming, frames):
    """frames (N, T, 3, H, W) -> per-frame logits (N, T, K), feeding one frame at a time."""
    caches = streaming.initial_caches(frames.shape[0], *frames.shape[-2:])
    outputs = []
    for t in range(frames.shape[1]):
        logits, *caches = streaming(ms.Tensor(frames[:, t]), *caches)
        outputs.append(logits.asnumpy())
    return np.stack(outputs, axis=1)


@pytest.mark.parametrize('depth, num_caches', [(18, 8), (50, 16)])
def test_streaming_equals_offline_per_frame_logits(mode, depth, num_caches):
    offline, streaming = offline_and_streaming(depth)
    assert len(streaming.cache_shapes(2, H, W)) == num_caches
    frames = np.random.default_rng(1).standard_normal((2, T, 3, H, W)).astype(np.float32)
    per_frame = offline.new_fc(offline.base_model(ms.Tensor(frames.reshape(-1, 3, H, W)))).asnumpy()
    assert relative_error(stream(streaming, frames), per_frame.reshape(2, T, -1)) < 1e-5


def test_cache_shapes_follow_the_feature_maps():
    streaming = create_streaming_model(depth=50, num_classes=5)
    shapes = streaming.cache_shapes(1, 224, 224)
    assert shapes[0] == (1, 64 // 8, 56, 56) and shapes[1] == (1, 256 // 8, 56, 56)
    assert shapes[3] == (1, 256 // 8, 56, 56) and shapes[4] == (1, 512 // 8, 28, 28)  # layer2.0 input, layer2.1
    assert shapes[-1] == (1, 2048 // 8, 7, 7)


def test_only_online_residual_shift_networks_stream():
    for net in (create_model('tsm', depth=18, num_classes=5), create_model('tsm_online', depth=18, shift_place='block')):
        with pytest.raises(ValueError, match="tsm_online network with shift_place 'blockres'"):
            StreamingTSM(net.base_model, net.new_fc)


def test_streaming_model_exports_to_mindir(tmp_path):
    _, streaming = offline_and_streaming(18)
    caches = streaming.initial_caches(1, H, W)
    frame = ms.Tensor(np.random.default_rng(2).standard_normal((1, 3, H, W)).astype(np.float32))
    ms.export(streaming, frame, *caches, file_name=str(tmp_path / 'online'), file_format='MINDIR')
    graph = ms.nn.GraphCell(ms.load(str(tmp_path / 'online.mindir')))
    expected = [o.asnumpy() for o in streaming(frame, *caches)]
    actual = [o.asnumpy() for o in graph(frame, *caches)]
    assert len(actual) == 1 + len(caches)
    assert all(relative_error(a, e) < 1e-5 for a, e in zip(actual[:1], expected[:1]))
    assert all(np.array_equal(a, e) for a, e in zip(actual[1:], expected[1:]))
