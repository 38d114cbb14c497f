"""MobileNetV2-TSM: the official TSM names and shapes, the shift where the original puts it, parity with an
independent NumPy network for every variant and both placements, and only the temporal variants see frame order."""
import numpy as np
import pytest
import mindspore as ms

import numpy_mobilenet_v2
from helpers import randomize, relative_error, uninitialised
from src.models import create_model
from src.models.mobilenet_v2 import InvertedResidual

TEMPORAL = {'tsn': 'none', 'tsm': 'shift', 'tsm_online': 'online_shift'}
T = 4


def random_network(*args, seed, **kwargs):
    """create_model with every parameter random (helpers.randomize at conv gain 2); the initial weights, replaced
    anyway, are not drawn (no_init_parameters)."""
    net = uninitialised(*args, **kwargs)
    return net, randomize(net, seed=seed, conv_gain=2)


def logits(net, clips):
    net.set_train(False)
    return net(ms.Tensor(clips)).asnumpy()


@pytest.mark.parametrize('arch, shift_place', [('tsm', 'blockres'), ('tsn', 'blockres'), ('tsm_online', 'blockres'),
                                               ('tsm', 'block')])
def test_network_matches_the_numpy_reference(arch, shift_place):
    net, params = random_network(arch, backbone='mobilenetv2', num_classes=5, num_segments=T, shift_place=shift_place,
                                 seed=3)
    clips, other = np.random.default_rng(4).standard_normal((2, 2, 3 * T, 40, 24)).astype(np.float32)
    expected = numpy_mobilenet_v2.forward(params, clips, T, 8, TEMPORAL[arch], shift_place)
    reverse = clips.reshape(2, T, 3, *clips.shape[-2:])[:, ::-1].reshape(clips.shape)
    out, other, reverse = np.split(logits(net, np.concatenate([clips, other, reverse])), 3)  # one run
    assert out.shape == expected.shape == (2, 5) and relative_error(out, expected) < 1e-5
    assert relative_error(other, out) > 0.05  # conv_gain 2: the logits depend on the clip
    difference = relative_error(reverse, out)
    assert (difference < 1e-5) if arch == 'tsn' else (difference > 1e-3)  # only temporal variants see frame order


@pytest.mark.slow  # a graph compilation of MobileNetV2
def test_graph_mode_matches_the_numpy_reference_with_a_quarter_shifted(run_in_mode):
    net, params = random_network('tsm_mobilenetv2', num_classes=3, num_segments=T, shift_div=4, seed=5)
    clips = np.random.default_rng(6).standard_normal((1, 3 * T, 32, 32)).astype(np.float32)
    expected = numpy_mobilenet_v2.forward(params, clips, T, 4, 'shift')
    assert relative_error(run_in_mode('graph', lambda: logits(net, clips)), expected) < 1e-5


def test_a_temporal_op_is_refused_where_the_original_puts_none():
    with pytest.raises(ValueError, match='only residual blocks with an expansion take a temporal op'):
        InvertedResidual(16, 24, 2, 6, conv_op=ms.nn.Identity())
    with pytest.raises(ValueError, match='depth=50 is a ResNet setting; the mobilenetv2 backbone has none'):
        create_model('tsm_mobilenetv2', depth=50)
