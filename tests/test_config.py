"""The typed config: defaults file in sync, precedence, and every rejection path names the culprit."""
import os

import pytest

from src.config import Config, ConfigError, dump_config, get_config, load_yaml, save_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write(tmp_path, text, name='variant.yaml'):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_default_config_yaml_is_the_declared_defaults():
    """default_config.yaml is generated from src/config.py; regenerate with `python -m src.config`."""
    assert load_yaml(os.path.join(ROOT, 'default_config.yaml')) == vars(Config())
    with open(os.path.join(ROOT, 'default_config.yaml')) as f:
        assert f.read() == dump_config()


def test_defaults_are_the_ssv2_recipe():
    c = Config()
    assert (c.arch, c.depth, c.num_classes, c.num_segments, c.shift_div, c.shift_place) == \
        ('tsm', 50, 174, 8, 8, 'blockres')
    assert (c.base_lr, c.lr_batch_size, c.lr_steps, c.weight_decay, c.clip_grad_norm, c.dropout) == \
        (0.01, 64, [20, 40], 5e-4, 20.0, 0.5)


def test_precedence_file_then_command_line(tmp_path):
    path = write(tmp_path, 'arch: tsn\ndepth: 18\nlr_steps: [3, 6]\n')
    c = get_config(['--config_path', path, '--depth', '34', '--base_lr=0.02'])
    assert (c.arch, c.depth, c.base_lr, c.lr_steps, c.num_segments) == ('tsn', 34, 0.02, [3, 6], 8)
    assert get_config(['--pretrained', ''], config_path=path).pretrained == ''


def test_int_is_accepted_where_a_float_is_declared(tmp_path):
    c = get_config(['--base_lr', '1', '--config_path', write(tmp_path, 'clip_grad_norm: 0\n')])
    assert c.base_lr == 1.0 and isinstance(c.base_lr, float) and c.clip_grad_norm == 0.0


@pytest.mark.parametrize('argv, message', [
    (['--num_segment', '8'], "command line --num_segment: unknown config key 'num_segment'; did you mean 'num_segments'?"),
    (['--depth', 'fifty'], "command line --depth: 'depth' must be int, got str 'fifty'"),
    (['--depth', '42'], "command line --depth: 'depth' must be one of [18, 34, 50, 101], got 42"),
    (['--dropout', 'true'], "command line --dropout: 'dropout' must be float, got bool True"),
    (['--num_classes', '1.5'], "'num_classes' must be int, got float 1.5"),
    (['--lr_steps', '20'], "'lr_steps' must be a list of int, got 20"),
    (['--lr_steps', '[20, 4.5]'], "'lr_steps' must be a list of int, got [20, 4.5]"),
    (['--arch', 'TSM'], "'arch' must be one of ['tsn', 'tsm', 'tsm_online', 'tin'], got 'TSM'"),
    (['--depth'], 'command line: --depth needs a value'),
    (['depth', '50'], "command line: expected --key value, got 'depth'"),
    (['--config_path', '/nonexistent/x.yaml'], 'config file not found: /nonexistent/x.yaml'),
])
def test_bad_command_lines_are_rejected(argv, message):
    with pytest.raises(ConfigError) as error:
        get_config(argv)
    assert message in str(error.value)


def test_bad_files_name_the_file(tmp_path):
    path = write(tmp_path, 'shift_dvi: 4\n')
    with pytest.raises(ConfigError, match=f"{path}: unknown config key 'shift_dvi'; did you mean 'shift_div'"):
        get_config(['--config_path', path])
    path = write(tmp_path, '- arch\n', 'list.yaml')
    with pytest.raises(ConfigError, match=f'{path}: expected a mapping of config keys, got list'):
        get_config(['--config_path', path])
    assert get_config(['--config_path', write(tmp_path, '', 'empty.yaml')]) == Config()


def test_saved_config_reloads_identically(tmp_path):
    c = get_config(['--arch', 'tsm_online', '--lr_steps', '[1,2,3]', '--output_dir', 'a b/c'])
    path = save_config(c, str(tmp_path / 'run'))
    assert path == str(tmp_path / 'run' / 'config.yaml')
    assert get_config(['--config_path', path]) == c


def test_every_shipped_config_file_loads():
    paths = [os.path.join(d, f) for d, _, files in os.walk(os.path.join(ROOT, 'configs')) for f in files
             if f.endswith('.yaml')]
    assert len(paths) >= 5
    for path in paths:
        assert isinstance(get_config(['--config_path', path]), Config)
    tin = get_config(['--config_path', os.path.join(ROOT, 'configs', 'tin_sthv2.yaml')])
    assert (tin.arch, tin.shift_div, tin.epochs, tin.lr_schedule) == ('tin', 4, 40, 'cosine')
