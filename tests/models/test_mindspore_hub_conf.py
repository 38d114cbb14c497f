"""The Hub entry builds every registered model with its registered defaults and reads nothing at import; our Hub card
reads as MindSpore Hub reads it, states what the registry holds for its model, and what it names builds the published
network through the Hub's own call sequence."""
import importlib
import importlib.util
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import yaml
import mindspore as ms
from mindspore.nn.utils import no_init_parameters

import mindspore_hub_conf
from src.models import MODELS, get_spec
from src.runtime import CPU_DEFAULTS

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
CARD = os.path.join(ROOT, 'hub', 'tsm_r50_sthv2.md')
PARAMS = os.path.join(ROOT, 'tests', 'fixtures', 'hub_tsm_r50_sthv2_params.tsv')

# mindspore-ai/hub (master, May 2025), mindspore_hub/_utils/check.py: ValidMarkdown's field rules
REQUIRED_FIELDS = ['backbone-name', 'module-type', 'fine-tunable', 'model-version', 'author', 'update-time',
                   'repo-link', 'user-id', 'used-for', 'mindspore-version', 'license', 'summary']
MODULE_TYPES = ['gnn', 'rl', 'audio', 'cv', 'cvtmodel', 'nlp', 'recommend', 'cross', 'hpc', 'mm', 'other']
FILE_FORMATS = ['air', 'ckpt', 'onnx', 'mindir', 'mslite']
USED_FOR = ['inference', 'extract-feature', 'transfer-learning']


def read_card(path):
    """The card's header as mindspore_hub.info.CellInfo gets it (ValidMarkdown.check_markdown_file without its
    network checks: the repo-link and asset-link URLs are not opened); returns (header, markdown text)."""
    header, markdown, in_header, separators = [], [], False, 0
    with open(path) as f:
        for line in f:
            if line.startswith('---'):
                in_header = not in_header
                separators += 1
                continue
            if 'evaluation: -' in line:
                line = line.replace('-', 'no')
            (header if in_header else markdown).append(line)
    assert separators == 2, "the Hub wants exactly two '---' lines"
    header = yaml.load(''.join(header), Loader=yaml.FullLoader)
    module_type = header['module-type'].split('-', 1)
    header['module-type'] = module_type[0]
    for field in REQUIRED_FIELDS:
        assert field in header, f'field {field} is required'
    assert isinstance(header['fine-tunable'], bool)
    assert all(item.lower() in USED_FOR for item in header['used-for'].split('/'))
    assert header['module-type'] in MODULE_TYPES
    for asset in header.get('asset') or []:
        assert {'asset-link', 'asset-sha256', 'file-format'} <= set(asset)
        assert asset['file-format'].lower() in FILE_FORMATS
    for key, value in header.items():
        if key not in ('repo-link', 'asset', 'evaluation'):
            assert ':' not in str(value), f"the Hub refuses ':' in {key}"
    header['asset-id'] = max([i for i, a in enumerate(header.get('asset') or []) if a['file-format'].lower() == 'ckpt'],
                             default=0)
    return header, ''.join(markdown)


def repo_info(link):
    """mindspore_hub._utils.download.get_repo_info_from_url: the folder the Hub clones repo-link into."""
    link = link.strip('<>').rstrip('/')
    assert len(re.findall('.*http[s]?://(.*).com.*', link)) == 1
    prefix = re.findall(r'http[s]?://(?:[-\w.]|(?:%[\da-fA-F]{2}))+', link)
    parts = link[len(prefix[0]):].lstrip('/').split('/', 4)
    assert len(parts) in (2, 4, 5) and (len(parts) == 2 or parts[2] in ('tree', 'blob'))
    return {'dst_dir': parts[1] if len(parts) < 5 else parts[4], 'group': parts[0], 'repo': parts[1]}


def published_params():
    with open(PARAMS) as f:
        rows = [line.rstrip('\n').split('\t') for line in f if not line.startswith('#')]
    return {name: tuple(int(v) for v in shape.split('x')) for name, shape, _ in rows}


def test_import_reads_no_argv(monkeypatch):
    monkeypatch.setattr(sys, 'argv', ['prog', '--not-a-config-key', 'oops'])
    module = importlib.reload(mindspore_hub_conf)
    with no_init_parameters():  # names and shapes only: skip drawing the initial weights (seconds for a ResNet-50)
        net = module.create_network('tsm_r18', 3)
    assert tuple(net.new_fc.weight.shape) == (3, 512)


# name -> (parameters, features): ResNet-50 267 (TIN: + 8 per block in 16 blocks), ResNet-18 102, ResNet-101 522
NETWORKS = {'tsm_r50': (267, 2048), 'tsn_r50': (267, 2048), 'tsm_online_r50': (267, 2048),
            'tin_r50': (267 + 16 * 8, 2048), 'tsm_r18': (102, 512), 'tsm_r101': (522, 2048),
            'tsn_mobilenetv2': (262, 1280), 'tsm_mobilenetv2': (262, 1280), 'tsm_online_mobilenetv2': (262, 1280)}


def test_every_registered_model_is_offered():
    assert set(NETWORKS) == set(MODELS)


@pytest.mark.parametrize('name', sorted(NETWORKS))
def test_create_network_builds_every_registered_model_with_its_defaults(name):
    with no_init_parameters():
        net = mindspore_hub_conf.create_network(name)
    spec = get_spec(name)
    params = {p.name: tuple(p.shape) for p in net.get_parameters()}
    num_params, features = NETWORKS[name]
    assert len(params) == num_params and params['new_fc.weight'] == (spec.num_classes, features)
    assert net.num_segments == spec.num_segments == 8
    if name == 'tin_r50':  # a quarter of 64 input channels interlaced, in groups of 4
        assert params['base_model.layer1.0.conv1.temporal_op.weight_net.conv.weight'] == (2, 16, 1, 3)


@pytest.mark.parametrize('arch, name', [('tsm', 'tsm_r50'), ('tsn', 'tsn_r50'), ('tsm_online', 'tsm_online_r50'),
                                        ('tin', 'tin_r50')])
def test_a_bare_arch_is_its_resnet50_model(arch, name):
    with no_init_parameters():
        net = mindspore_hub_conf.create_network(arch, depth=18)
        reference = mindspore_hub_conf.create_network(name, depth=18)
    assert {p.name: p.shape for p in net.get_parameters()} == {p.name: p.shape for p in reference.get_parameters()}


def test_create_network_takes_num_classes_positionally_as_the_hub_forwards_it():
    with no_init_parameters():
        net = mindspore_hub_conf.create_network('tsm', 10, depth=18, num_segments=4)
        assert tuple(net.new_fc.weight.shape) == (10, 512) and net.num_segments == 4
        net = mindspore_hub_conf.create_network('TSM', num_classes=7, depth=18)  # names are case-insensitive
    assert tuple(net.new_fc.weight.shape) == (7, 512)
    with pytest.raises(ValueError, match="unknown network 'resnet'"):
        mindspore_hub_conf.create_network('resnet')
    with pytest.raises(TypeError, match=r'num_classes twice: positionally \(10\) and as a keyword \(174\)'):
        mindspore_hub_conf.create_network('tsm', 10, num_classes=174)
    with pytest.raises(TypeError, match=r'at most 1 positional argument after the name \(num_classes\), got \(10, 8\)'):
        mindspore_hub_conf.create_network('tsm', 10, 8)


def test_the_card_reads_as_the_hub_reads_it():
    header, markdown = read_card(CARD)
    assert (header['model-name'], header['backbone-name'], header['module-type']) == ('tsm_r50', 'resnet50', 'cv')
    assert header['fine-tunable'] is True and header['used-for'] == 'inference'
    assert header['mindspore-version'] == header['model-version'] == '2.10'
    assert header['train-dataset'] == 'somethingsomethingv2'  # a name in the Hub's _valid_dataset
    assert header['license'] == 'Apache2.0'
    info = repo_info(header['repo-link'])
    assert info['group'] == header['user-id']
    asset = header['asset'][header['asset-id']]
    assert asset['file-format'] == 'ckpt'
    file_name = asset['asset-link'].strip('<>').split('/')[-1]
    with open(PARAMS) as f:  # the fixture's header names the file and its sha256
        fixture_header = f.read(1000)
    assert file_name in fixture_header and f"sha256 {asset['asset-sha256']}" in fixture_header
    with open(os.path.join(ROOT, 'README.md')) as f:
        assert file_name in f.read()
    headings = re.findall(r'^## (.+)$', markdown, re.M)
    assert headings[:3] == ['Introduction', 'Usage', 'Citation'] and not any(h.endswith(':') for h in headings)
    card_uid = f"{header['user-id']}/{header['mindspore-version']}/{os.path.splitext(os.path.basename(CARD))[0]}"
    assert f"mindspore_hub.load('{card_uid}', 174, pretrained=True)" in markdown


def test_the_card_states_what_the_registry_holds_for_its_model():
    header, markdown = read_card(CARD)
    spec = get_spec(header['model-name'])
    checkpoint = spec.checkpoint
    asset = header['asset'][header['asset-id']]
    assert asset['asset-link'].strip('<>') == checkpoint.url and checkpoint.url.endswith('/' + checkpoint.file_name)
    assert asset['asset-sha256'] == checkpoint.sha256
    assert header['evaluation'] == f'top1acc{checkpoint.top1} | top5acc{checkpoint.top5}'
    assert header['input-shape'] == [1, 3 * spec.num_segments, spec.input_size, spec.input_size]
    assert (spec.arch, spec.backbone, spec.depth) == ('tsm', 'resnet', 50) and header['backbone-name'] == 'resnet50'
    assert f'({spec.num_segments} frames, {spec.num_classes} classes)' in header['summary']
    prose = markdown.replace('\n', ' ')
    assert f'top-1 {checkpoint.top1} %, top-5 {checkpoint.top5} %' in prose
    assert f'(N, {3 * spec.num_segments}, {spec.input_size}, {spec.input_size})' in prose
    assert f'Output: `(N, {spec.num_classes})` logits' in prose
    assert f'mean `{spec.mean}` and std `{spec.std}`' in prose


HUB_SEQUENCE = r"""
import importlib.util, json, os, sys
from mindspore import nn  # mindspore_hub.load imports MindSpore before the entry
path, name = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.dirname(path))  # mindspore_hub.load._get_network_from_cache
spec = importlib.util.spec_from_file_location('mindspore_hub_conf.py', path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
net = getattr(module, 'create_network')(name.lower(), 174)
assert isinstance(net, nn.Cell)
print(json.dumps({'params': {p.name: list(p.shape) for p in net.get_parameters()},
                  'env': {key: os.environ.get(key) for key in sys.argv[3:]}}))
"""


@pytest.mark.slow  # a process of its own
def test_the_hub_call_sequence_builds_the_published_names_and_leaves_the_environment_alone():
    header, _ = read_card(CARD)
    env = {k: v for k, v in os.environ.items() if k not in CPU_DEFAULTS}
    result = subprocess.run([sys.executable, '-c', HUB_SEQUENCE, os.path.join(ROOT, 'mindspore_hub_conf.py'),
                             header['model-name'], *CPU_DEFAULTS], capture_output=True, text=True, timeout=300,
                            cwd='/', env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.splitlines()[-1])
    assert {name: tuple(shape) for name, shape in out['params'].items()} == published_params()
    assert out['env'] == {key: None for key in CPU_DEFAULTS}  # no ONEDNN_MAX_CPU_ISA, no GLOG_v set behind its back


def test_the_hubs_non_strict_load_leaves_unmatched_parameters_as_they_were():
    """What the card and README say of mindspore_hub.load(..., pretrained=True): load_param_into_net(net, params)."""
    net = mindspore_hub_conf.create_network('tsm', 5, depth=18, num_segments=2)
    before = {p.name: p.asnumpy().copy() for p in net.get_parameters()}
    params = {name: ms.Parameter(ms.Tensor(np.full(value.shape, 0.5, np.float32)), name=name)
              for name, value in before.items() if name != 'new_fc.weight'}
    params['head.weight'] = ms.Parameter(ms.Tensor(np.ones((5, 512), np.float32)), name='head.weight')  # renamed
    params['moments.new_fc.bias'] = ms.Parameter(ms.Tensor(np.ones(5, np.float32)), name='moments.new_fc.bias')
    not_loaded, unused = ms.load_param_into_net(net, params)  # no exception
    assert not_loaded == ['new_fc.weight'] and set(unused) == {'head.weight', 'moments.new_fc.bias'}
    after = {p.name: p.asnumpy() for p in net.get_parameters()}
    np.testing.assert_array_equal(after['new_fc.weight'], before['new_fc.weight'])  # still the random init
    assert (after['new_fc.bias'] == 0.5).all()
    wrong_shape = {'new_fc.weight': ms.Parameter(ms.Tensor(np.ones((174, 512), np.float32)), name='new_fc.weight')}
    with pytest.raises(RuntimeError, match='should have the same shape'):
        ms.load_param_into_net(net, wrong_shape)
