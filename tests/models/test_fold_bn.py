"""BatchNorm folded into the convolutions: the same outputs (float32 rounding), no BatchNorm left, unique names."""
import numpy as np
import pytest
import mindspore as ms
from mindspore import nn

from src.models.fold_bn import fold_batchnorm

from helpers import randomize, uninitialised


def _random_net(arch, depth, seed):
    """A network with random weights and BN statistics (as after loading a trained checkpoint), in inference mode."""
    kwargs = {'backbone': 'mobilenetv2'} if depth == 'mobilenetv2' else {'depth': depth}
    net = uninitialised(arch, num_classes=5, num_segments=4, **kwargs)  # every parameter is set below
    randomize(net, seed, conv_gain=2 if depth == 'mobilenetv2' else 1)  # else MobileNetV2's signal fades
    net.set_train(False)
    return net


@pytest.mark.parametrize('arch,depth,pairs', [('tsn', 18, 20), ('tsm', 18, 20), ('tin', 18, 20), ('tsm', 50, 53),
                                              ('tsm', 'mobilenetv2', 52)])
def test_folded_network_gives_the_same_logits(arch, depth, pairs):
    net = _random_net(arch, depth, seed=len(str(depth)))
    x = ms.Tensor(np.random.default_rng(1).integers(0, 256, (2, 12, 32, 32)).astype(np.uint8))
    ref = net(x).asnumpy()  # before folding (the fold is in place)
    assert fold_batchnorm(net) == pairs  # stem + one per conv of every block + each downsample
    assert not [c for _, c in net.cells_and_names() if isinstance(c, nn.BatchNorm2d)]
    names = [p.name for p in net.get_parameters()]
    assert len(names) == len(set(names)) and all(n.startswith(('base_model.', 'new_fc.')) for n in names)
    out = net(x).asnumpy()
    assert np.abs(ref).max() > 0.01 and np.ptp(ref) > 0.01  # informative logits, not a constant
    assert np.abs(ref[0] - ref[1]).max() > 0.01 * np.abs(ref).max()  # that depend on the clip
    # float32 rounding: up to ~6e-6 of the logits' scale through MobileNetV2's 52 pairs at conv gain 2 (2e-6 was too
    # tight there on this machine's oneDNN); a wrong fold (eps, bias, a pair missed) is off by 1e-4 and more
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-5 * np.abs(ref).max())  # the 1e-5 promised
