"""The Hub entry builds every variant with the published defaults and reads nothing at import."""
import importlib
import sys

import pytest

import mindspore_hub_conf


def test_import_reads_no_argv(monkeypatch):
    monkeypatch.setattr(sys, 'argv', ['prog', '--not-a-config-key', 'oops'])
    module = importlib.reload(mindspore_hub_conf)
    assert module.HUB_DEFAULTS == {'depth': 50, 'num_classes': 174, 'num_segments': 8}


@pytest.mark.parametrize('name, num_params', [('tsm', 267), ('tsn', 267), ('tsm_online', 267), ('tin', 267 + 16 * 8)])
def test_create_network_defaults_to_the_published_network(name, num_params):
    net = mindspore_hub_conf.create_network(name)
    params = {p.name: tuple(p.shape) for p in net.get_parameters()}
    assert len(params) == num_params and params['new_fc.weight'] == (174, 2048)
    assert net.num_segments == 8
    if name == 'tin':  # a quarter of 64 input channels interlaced, in groups of 4
        assert params['base_model.layer1.0.conv1.temporal_op.weight_net.conv.weight'] == (2, 16, 1, 3)


def test_create_network_overrides_and_errors():
    net = mindspore_hub_conf.create_network('tsm', num_classes=10, depth=18, num_segments=4)
    assert tuple(net.new_fc.weight.shape) == (10, 512) and net.num_segments == 4
    with pytest.raises(ValueError, match="unknown network 'resnet'"):
        mindspore_hub_conf.create_network('resnet')
    with pytest.raises(TypeError, match='keyword arguments only'):
        mindspore_hub_conf.create_network('tsm', 174)
