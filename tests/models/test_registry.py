"""The model registry: names resolve to their defaults, overrides apply, every registered model takes its kind of
checkpoint (ours, the published Hub file's names, the official PyTorch names) strictly, and README's model table is
the registry's."""
import os
import re
import runpy

import numpy as np
import pytest
from mindspore import nn
from mindspore.nn.utils import no_init_parameters

from src.checkpoint import convert_params, network_shapes
from src.models import MODELS, create_model, get_spec
from src.models.registry import HUB_CHECKPOINT, network_kwargs, registry_table
from src.models.temporal_ops import TemporalConv
from helpers import uninitialised

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
TORCH_BN = {'gamma': 'weight', 'beta': 'bias', 'moving_mean': 'running_mean', 'moving_variance': 'running_var'}


def test_a_bare_arch_is_its_resnet50_entry_and_tin_interlaces_a_quarter():
    assert get_spec('tsm') is MODELS['tsm_r50'] and get_spec('TIN') is MODELS['tin_r50']
    assert network_kwargs('tin')['shift_div'] == 4 and network_kwargs('tsm')['shift_div'] == 8
    with no_init_parameters():  # the structure only: skip drawing the initial weights
        tin = create_model('tin', depth=18, num_classes=5, num_segments=4)
        tin8 = create_model('tin', depth=18, num_segments=4, shift_div=8)
    assert tin.base_model.layer1[0].conv1.temporal_op.fold == 64 // 4
    assert tin8.base_model.layer1[0].conv1.temporal_op.fold == 8


def test_overrides_change_only_what_they_name():
    base = network_kwargs('tsm_r50')
    assert base == dict(arch='tsm', backbone='resnet', depth=50, num_classes=174, num_segments=8, shift_div=8,
                        shift_place='blockres', dropout=0.5)
    assert network_kwargs('tsm_r50', num_classes=5, depth=18) == {**base, 'num_classes': 5, 'depth': 18}
    assert network_kwargs('tsm', backbone='mobilenetv2')['depth'] is None  # no ResNet depth on MobileNetV2
    assert network_kwargs('tsm_mobilenetv2', backbone='resnet')['depth'] == 50
    assert network_kwargs('tsm_online_mobilenetv2') == dict(
        arch='tsm_online', backbone='mobilenetv2', depth=None, num_classes=27, num_segments=8, shift_div=8,
        shift_place='blockres', dropout=0.5)


def test_unknown_names_and_keywords_are_refused():
    with pytest.raises(ValueError, match=r"unknown model 'tsm_r52'; registered: tsm_r50, tsn_r50, .*"
                                         r"tsm_online_mobilenetv2 \(or an arch: tsn, tsm, tsm_online, tin\)"):
        get_spec('tsm_r52')
    with pytest.raises(TypeError, match=r"unknown model keyword\(s\) \['classes'\]"):
        network_kwargs('tsm_r50', classes=5)


def official_names(net):
    """Our names -> the official PyTorch TSM ones, written out: DataParallel `module.`, torch BN leaves, `downsample`,
    and `.net` only on the convolutions that are shifted (ResNet-101 shifts every other block)."""
    unshifted = {name for name, cell in net.cells_and_names()
                 if isinstance(cell, TemporalConv) and isinstance(cell.temporal_op, nn.Identity)}
    bn_modules = {name.rsplit('.', 1)[0] for name in network_shapes(net) if name.endswith('.moving_mean')}
    names = {}
    for name in network_shapes(net):
        module, leaf = name.rsplit('.', 1)
        leaf = TORCH_BN[leaf] if module in bn_modules else leaf
        torch_module = module[:-len('.net')] if module[:-len('.net')] in unshifted else module
        names[name] = f"module.{torch_module.replace('down_sample_layer', 'downsample')}.{leaf}"
    return names


def hub_names():
    """The Hub checkpoint's parameter names (tests/fixtures, read from the published file)."""
    with open(os.path.join(ROOT, 'tests', 'fixtures', 'hub_tsm_r50_sthv2_params.tsv')) as f:
        header = f.read(1000)
        f.seek(0)
        names = [line.split('\t')[0] for line in f if not line.startswith('#')]
    return header, names


@pytest.mark.parametrize('name', list(MODELS))
def test_every_registered_model_loads_its_kind_of_checkpoint_strictly(name):
    """Our `.ckpt` names (for tsm_r50: those of the published Hub file) with optimizer state, and, but for TIN (which
    the official code lacks), the official PyTorch names map onto the registered network with nothing missing, left
    over or mis-shaped; no weights allocated."""
    spec = get_spec(name)
    net = uninitialised(name)  # names and shapes only
    shapes = network_shapes(net)
    ours = {n: n for n in shapes}
    if spec.checkpoint is HUB_CHECKPOINT:
        header, names = hub_names()
        assert spec.checkpoint.file_name in header and f'sha256 {spec.checkpoint.sha256}' in header
        ours = {n: n for n in names}
    layouts = [(ours, {'moments.new_fc.weight': np.zeros(shapes['new_fc.weight'], np.float32),
                       'learning_rate': np.float32(0.01)})]
    if spec.arch != 'tin':
        layouts.append(({torch: our for our, torch in official_names(net).items()}, {}))
    if spec.checkpoint is not None and spec.checkpoint is not HUB_CHECKPOINT:  # the official file of this network
        assert spec.checkpoint.file_name.startswith('TSM_') and spec.checkpoint.url.endswith(spec.checkpoint.file_name)
    for mapping, extra in layouts:
        stored = {src: np.broadcast_to(np.float32(i), shapes[our]) for i, (src, our) in enumerate(mapping.items())}
        params = convert_params({**stored, **extra}, shapes, source=name)
        assert set(params) == set(shapes)
        assert all(params[our].flat[0] == stored[src].flat[0] for src, our in mapping.items())


def test_python_m_src_models_prints_the_table(capsys):
    runpy.run_module('src.models', run_name='__main__')
    assert capsys.readouterr().out == registry_table() + '\n'
    assert registry_table().count('\n| `') == len(MODELS)


def test_readme_model_table_is_the_registry_table():
    with open(os.path.join(ROOT, 'README.md'), encoding='utf-8') as f:
        readme = f.read()
    found = re.search(r'<!-- model table: python -m src.models -->\n(.*?)\n<!-- end of model table -->', readme,
                      re.S)
    assert found, 'README lost its model table markers'
    assert found.group(1) == registry_table()
