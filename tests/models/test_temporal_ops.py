"""The temporal shifts against a NumPy reference written frame by frame, in both execution modes."""
import numpy as np
import pytest
import mindspore as ms

from src.models.temporal_ops import OnlineTemporalShift, TemporalShift, create_temporal_op


def reference_shift(x, num_segments, shift_div, bidirectional):
    """Frame-by-frame loop: fold channels from t+1 (bi only) and fold channels from t-1; zeros off the clip."""
    nt, c = x.shape[:2]
    fold = c // shift_div
    clips = x.reshape(nt // num_segments, num_segments, *x.shape[1:])
    out = clips.copy()
    for t in range(num_segments):
        if bidirectional:
            out[:, t, :fold] = clips[:, t + 1, :fold] if t + 1 < num_segments else 0
            out[:, t, fold:2 * fold] = clips[:, t - 1, fold:2 * fold] if t > 0 else 0
        else:
            out[:, t, :fold] = clips[:, t - 1, :fold] if t > 0 else 0
    return out.reshape(x.shape)


# Every shape in PyNative; in graph mode (a compilation of seconds each) the one that does not divide evenly
# (10 channels, a fold of 1, 3 segments): the graph is the same code, specialised to the shape.
@pytest.mark.parametrize('op_class, bidirectional', [(TemporalShift, True), (OnlineTemporalShift, False)])
@pytest.mark.parametrize('mode_name, num_segments, channels, shift_div', [
    ('pynative', 8, 16, 8), ('pynative', 4, 16, 4), ('pynative', 3, 10, 8), ('graph', 3, 10, 8)])
def test_shift_matches_reference(run_in_mode, mode_name, op_class, bidirectional, num_segments, channels, shift_div):
    x = np.arange(2 * num_segments * channels * 2 * 3, dtype=np.float32).reshape(2 * num_segments, channels, 2, 3)
    out = run_in_mode(mode_name, lambda: op_class(num_segments, shift_div)(ms.Tensor(x)).asnumpy())
    np.testing.assert_array_equal(out, reference_shift(x, num_segments, shift_div, bidirectional))


def test_shift_direction_is_the_published_one():
    """Channel 0 of frame 0 holds frame 1's value; channel 1 (second fold) of frame 1 holds frame 0's value."""
    x = np.zeros((4, 8, 1, 1), np.float32)
    x[:, :, 0, 0] = np.arange(4)[:, None] + 1  # every channel of frame t holds t+1
    out = TemporalShift(num_segments=4, shift_div=8)(ms.Tensor(x)).asnumpy()[:, :, 0, 0]
    np.testing.assert_array_equal(out[:, 0], [2, 3, 4, 0])  # future fold: t <- t+1
    np.testing.assert_array_equal(out[:, 1], [0, 1, 2, 3])  # past fold: t <- t-1
    np.testing.assert_array_equal(out[:, 2:], x[:, 2:, 0, 0])


def test_online_shift_never_reads_the_future(mode):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 16, 3, 3)).astype(np.float32)
    op = OnlineTemporalShift(num_segments=8, shift_div=8)
    base = op(ms.Tensor(x)).asnumpy()
    for t in range(7):
        changed = x.copy()
        changed[t + 1:] += 100.0
        out = op(ms.Tensor(changed)).asnumpy()
        np.testing.assert_array_equal(out[:t + 1], base[:t + 1])
        assert not np.array_equal(out[t + 1:], base[t + 1:])


def test_create_temporal_op_rejects_unknown_and_empty_folds():
    assert create_temporal_op('none', 64, 8, 8) is None
    with pytest.raises(ValueError, match="unknown temporal op 'shfit'"):
        create_temporal_op('shfit', 64, 8, 8)
    with pytest.raises(ValueError, match='no channel to shift out of 4'):
        create_temporal_op('shift', 4, 8, 8)
