"""The typed config: defaults file in sync, precedence, and every rejection path names the culprit."""
import dataclasses
import os

import pytest

from src.config import (PATH_KEYS, POSITIVE_INT, Config, ConfigError, config_fields, dump_config, get_config, load_yaml,
                        option, save_config)

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
    (['--num_segment', '8'],
     "command line --num_segment: unknown config key 'num_segment'; did you mean 'num_segments'?"),
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


@pytest.mark.parametrize('argv, message', [  # the inputs of issue 12, then one out-of-range value for every key
    (['--base_lr', '-0.1'], "command line --base_lr: 'base_lr' must be > 0, got -0.1"),
    (['--epochs', '0'], "command line --epochs: 'epochs' must be >= 1, got 0"),
    (['--batch_size', '0'], "command line --batch_size: 'batch_size' must be >= 1, got 0"),
    (['--num_segments', '0'], "command line --num_segments: 'num_segments' must be >= 1, got 0"),
    (['--crop_size', '-5'], "command line --crop_size: 'crop_size' must be >= 1, got -5"),
    (['--seed', '-1'], "'seed' must be in [0, 4294967295], got -1"),
    (['--seed', str(2 ** 32)], "'seed' must be in [0, 4294967295], got 4294967296"),
    (['--output_dir', ''], "'output_dir' must not be empty"),
    (['--num_classes', '0'], "'num_classes' must be >= 1, got 0"),
    (['--shift_div', '1'], "'shift_div' must be in [2, 64], got 1"),
    (['--dropout', '1.0'], "'dropout' must be in [0, 1), got 1.0"),
    (['--dropout', '-0.1'], "'dropout' must be in [0, 1), got -0.1"),
    (['--frame_template', 'frame.jpg'], "'frame_template' must be a file name with one integer field"),
    (['--frame_template', '{:06d}{:06d}.jpg'], "'frame_template' must be a file name with one integer field"),
    (['--frame_template', '{:06d}/a.jpg'], "'frame_template' must be a file name with one integer field"),
    (['--scale_size', '0'], "'scale_size' must be >= 1, got 0"),
    (['--flip_pairs', '[86, 87, 93]'], "'flip_pairs' needs an even number of labels"),
    (['--flip_pairs', '[-1, 2]'], "every item of 'flip_pairs' must be >= 0, got [-1, 2]"),
    (['--num_clips', '0'], "'num_clips' must be >= 1, got 0"),
    (['--num_parallel_workers', '0'], "'num_parallel_workers' must be >= 1, got 0"),
    (['--file_name', ''], "'file_name' must not be empty"),
    (['--lr_batch_size', '0'], "'lr_batch_size' must be >= 1, got 0"),
    (['--lr_steps', '[40, 20]'], "'lr_steps' must be in ascending order, got [40, 20]"),
    (['--lr_steps', '[0, 20]'], "every item of 'lr_steps' must be >= 1"),
    (['--lr_decay', '0'], "'lr_decay' must be in (0, 1], got 0.0"),
    (['--lr_decay', '10'], "'lr_decay' must be in (0, 1], got 10.0"),
    (['--warmup_epochs', '-1'], "'warmup_epochs' must be >= 0, got -1"),
    (['--momentum', '1'], "'momentum' must be in [0, 1), got 1.0"),
    (['--weight_decay', '-1e-4'], "'weight_decay' must be >= 0, got -0.0001"),
    (['--clip_grad_norm', '-1'], "'clip_grad_norm' must be >= 0, got -1.0"),
    (['--loss_scale', '0.5'], "'loss_scale' must be >= 1, got 0.5"),
    (['--max_nonfinite_steps', '0'], "'max_nonfinite_steps' must be >= 1, got 0"),
    (['--eval_every', '-1'], "'eval_every' must be >= 0, got -1"),
    (['--keep_checkpoints', '-2'], "'keep_checkpoints' must be >= 0, got -2"),
    (['--log_every', '0'], "'log_every' must be >= 1, got 0"),
    (['--base_lr', '.nan'], "'base_lr' must be > 0, got nan"),
    (['--base_lr', '.inf'], "'base_lr' must be > 0, got inf"),
    (['--base_lr', 'nan'], "'base_lr' must be float, got str 'nan'"),
    (['--data_root', 'a\0b'], "'data_root' contains a NUL character"),
    (['--lr_steps', '[20, 40'], "command line --lr_steps: cannot read '[20, 40' as a yaml value"),
    (['--data_rot', '{x'], "command line --data_rot: unknown config key 'data_rot'; did you mean 'data_root'?"),
])
def test_out_of_range_values_are_rejected_naming_the_flag(argv, message):
    with pytest.raises(ConfigError) as error:
        get_config(argv)
    assert message in str(error.value)


def test_every_key_has_a_validated_range():
    """A choice list, a numeric range or a check for every key; only booleans and file paths take any value."""
    for name, f in config_fields().items():
        validated = f.metadata['choices'] or f.metadata['range'] or f.metadata['check']
        assert validated or f.type is bool or name in PATH_KEYS, name


def test_yaml_style_numbers_are_floats(tmp_path):
    c = get_config(['--base_lr', '1e-2', '--weight_decay=5E-5', '--config_path', write(tmp_path, 'lr_decay: 1e-1\n')])
    assert (c.base_lr, c.weight_decay, c.lr_decay) == (0.01, 5e-5, 0.1) and type(c.lr_decay) is float
    with pytest.raises(ConfigError, match="command line --epochs: 'epochs' must be int, got str '1e2'"):
        get_config(['--epochs', '1e2'])  # an int key stays strict


def test_a_bad_value_in_a_file_names_the_file(tmp_path):
    path = write(tmp_path, 'epochs: 0\n')
    with pytest.raises(ConfigError, match=f"{path}: 'epochs' must be >= 1, got 0"):
        get_config(['--config_path', path])
    path = write(tmp_path, 'epochs: [1\n', 'broken.yaml')
    with pytest.raises(ConfigError, match=f"{path}: not a readable yaml file"):
        get_config(['--config_path', path])


def test_rules_between_keys_name_where_each_value_came_from(tmp_path):
    path = write(tmp_path, 'scale_size: 128\n')
    with pytest.raises(ConfigError, match=rf"crop_size must not exceed scale_size .*: crop_size 224 from the "
                                          rf"defaults, scale_size 128 from {path}"):
        get_config(['--config_path', path])
    with pytest.raises(ConfigError, match="segment sampling takes 1 clip .*num_clips 3 from command line --num_clips"):
        get_config(['--num_clips', '3'])
    assert get_config(['--num_clips', '3', '--sampling', 'dense']).num_clips == 3
    with pytest.raises(ConfigError, match=r"flip_pairs names a label >= num_classes: flip_pairs \[4, 5\]"):
        get_config(['--flip_pairs', '[4, 5]', '--num_classes', '5'])


def test_eval_protocol_is_reference_by_default_and_zoo_r17_is_one_centre_view(tmp_path):
    assert Config().eval_protocol == 'reference'
    assert get_config(['--eval_protocol', 'zoo_r17']).eval_protocol == 'zoo_r17'
    with pytest.raises(ConfigError, match=r"'eval_protocol' must be one of \['reference', 'zoo_r17'\], got 'zoo'"):
        get_config(['--eval_protocol', 'zoo'])
    path = write(tmp_path, 'eval_protocol: zoo_r17\n')
    with pytest.raises(ConfigError, match=rf"zoo_r17 takes segment sampling, 1 clip and 1 crop: eval_protocol "
                                          rf"'zoo_r17' from {path}, sampling 'segment' from the defaults, num_clips 1 "
                                          rf"from the defaults, num_crops 3 from command line --num_crops"):
        get_config(['--config_path', path, '--num_crops', '3'])
    with pytest.raises(ConfigError, match=r"zoo_r17 cuts an odd crop_size from an even scale_size .*crop_size 223"):
        get_config(['--eval_protocol', 'zoo_r17', '--crop_size', '223'])
    assert get_config(['--eval_protocol', 'zoo_r17', '--crop_size', '223', '--scale_size', '255']).crop_size == 223


def test_two_config_files_are_composed_in_order(tmp_path):
    """Each file over the previous one (the later wins), then the command line over both; none is dropped."""
    first = write(tmp_path, 'arch: tsn\ndepth: 18\nepochs: 3\n', 'first.yaml')
    second = write(tmp_path, 'depth: 34\nbase_lr: 0.02\n', 'second.yaml')
    c = get_config(['--config_path', first, '--epochs', '7', '--config_path', second])
    assert (c.arch, c.depth, c.base_lr, c.epochs) == ('tsn', 34, 0.02, 7)
    c = get_config(['--config_path', second, '--config_path', first])
    assert (c.arch, c.depth, c.base_lr) == ('tsn', 18, 0.02)
    c = get_config(['--config_path', second], config_path=first)  # a script's own file comes first
    assert (c.arch, c.depth) == ('tsn', 34)


def test_text_keys_take_the_command_line_text_as_it_is():
    c = get_config(['--frame_template', '{:05d}.jpg', '--output_dir', 'yes', '--data_root', '123', '--ckpt', '~'])
    assert (c.frame_template, c.output_dir, c.data_root, c.ckpt) == ('{:05d}.jpg', 'yes', '123', '~')


def test_model_keys_default_to_the_registry_and_reach_create_model():
    from src.config import model_kwargs
    from src.models import get_spec

    published = get_spec('tsm_r50')
    c = Config()
    assert (c.arch, c.backbone, c.depth, c.num_classes, c.num_segments) == ('tsm', 'resnet', 50, 174, 8) == \
        (published.arch, published.backbone, published.depth, published.num_classes, published.num_segments)
    assert get_config(['--arch', 'tin']).shift_div == 4  # set nowhere: TIN's registered value
    assert get_config(['--arch', 'tin', '--shift_div', '8']).shift_div == 8
    mobilenet = model_kwargs(get_config(['--backbone', 'mobilenetv2', '--num_classes', '6']))
    assert (mobilenet['backbone'], mobilenet['depth'], mobilenet['num_classes']) == ('mobilenetv2', None, 6)
    with pytest.raises(ConfigError, match=r"'backbone' must be one of \['resnet', 'mobilenetv2'\], got 'vgg'"):
        get_config(['--backbone', 'vgg'])


@pytest.mark.parametrize('argv, flip', [
    (['--flip'], True), (['--no-flip'], False), (['--flip', 'True'], True), (['--flip', 'false'], False),
    (['--flip=false'], False), (['--flip=true'], True), (['--flip', '--depth', '18'], True),
    (['--flip', 'true', '--no-flip'], False), (['--no-flip', '--flip'], True), ([], False),
])
def test_boolean_keys_take_a_bare_flag_its_no_form_or_a_value(argv, flip):
    assert get_config(argv).flip is flip


def test_booleans_in_yaml_are_true_or_false(tmp_path):
    assert get_config(['--config_path', write(tmp_path, 'flip: true\ndynamic_loss_scale: false\n')]).flip is True
    with pytest.raises(ConfigError, match=r"variant.yaml: 'flip' must be true or false .*got 'maybe'"):
        get_config(['--config_path', write(tmp_path, 'flip: maybe\n')])


@pytest.mark.parametrize('argv, message', [
    (['--no-batch_size'], "command line --no-batch_size: 'batch_size' is not a boolean key, so there is no "
                          "--no-batch_size (give --batch_size VALUE)"),
    (['--flip', 'maybe'], "command line --flip: 'flip' must be true or false (on the command line: --flip or "
                          "--no-flip), got 'maybe'"),
    (['--flip=2'], "command line --flip: 'flip' must be true or false (on the command line: --flip or --no-flip), "
                   "got 2"),
    (['--no-flip=false'], 'command line --no-flip: --no-flip takes no value (it means flip false)'),
    (['--no-flp'], "command line --no-flp: unknown config key 'flp'; did you mean 'flip'?"),
    (['-x'], "command line: expected --key value, got '-x'"),
])
def test_bad_boolean_forms_are_rejected_naming_the_key(argv, message):
    with pytest.raises(ConfigError) as error:
        get_config(argv)
    assert str(error.value) == message


@pytest.mark.parametrize('flag', ['--help', '-h'])
def test_help_lists_every_key_by_section_and_exits_0(flag, capsys, monkeypatch):
    monkeypatch.setenv('COLUMNS', '120')  # the help fits the terminal (a pytest-xdist worker's is 80 wide)
    with pytest.raises(SystemExit) as done:
        get_config(['--depth', 'not checked', flag], prog='train.py', description='Train the network.')
    assert done.value.code == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[:3] == ['usage: train.py [-h] [--config_path FILE ...] [--key VALUE ...]', '', 'Train the network.']
    assert '  --config_path FILE' in lines
    for name, f in config_fields().items():
        flags = f'  --{name}, --no-{name}' if f.type is bool else f'  --{name} '
        assert any(line.startswith(flags) for line in lines), name
        assert ' '.join(f.metadata['help'].split()[:3]) in ' '.join(text.split()), name
    assert '  --depth {18,34,50,101}' in lines and '  --lr_steps [INT,...]' in lines and '  --ckpt PATH' in lines
    assert '      random horizontal flip in training (off for Something-Something) (default: false)' in lines
    joined = ' '.join(text.split())
    assert 'frames per clip (T) (default: 8; >= 1)' in joined and '(default: [20, 40]; each >= 1)' in joined
    sections = [line for line in lines if line and not line.startswith(' ') and line.endswith(':')]
    assert sections[:4] == ['options:', 'platform:', 'model:', 'data (list lines `<path> <num_frames> <label>`, '
                                                                 'paths relative to data_root):']
    assert sections[-1] == 'evaluation:' and len(sections) == 9


def test_a_base_list_composes_files_relative_to_the_file_naming_them(tmp_path):
    (tmp_path / 'datasets').mkdir()
    write(tmp_path, 'num_classes: 10\ndata_root: /data\ndepth: 34\n', 'datasets/set.yaml')
    write(tmp_path, 'arch: tsn\ndepth: 18\n', 'model.yaml')
    run = write(tmp_path, 'base: [datasets/set.yaml, model.yaml]\nepochs: 3\n', 'run.yaml')
    c = get_config(['--config_path', run, '--epochs', '4'])
    assert (c.num_classes, c.data_root, c.arch, c.depth, c.epochs) == (10, '/data', 'tsn', 18, 4)
    assert load_yaml(run) == {'num_classes': 10, 'data_root': '/data', 'depth': 18, 'arch': 'tsn', 'epochs': 3}
    write(tmp_path, 'depth: 42\n', 'bad.yaml')
    with pytest.raises(ConfigError, match=r"bad.yaml: 'depth' must be one of"):  # a bad value names its own file
        get_config(['--config_path', write(tmp_path, 'base: [bad.yaml]\n', 'top.yaml')])
    with pytest.raises(ConfigError, match=r'config file not found: .*missing.yaml \(a base of .*top2.yaml\)'):
        get_config(['--config_path', write(tmp_path, 'base: missing.yaml\n', 'top2.yaml')])


def test_config_files_building_on_each_other_are_refused(tmp_path):
    write(tmp_path, 'base: [b.yaml]\n', 'a.yaml')
    write(tmp_path, 'base: [a.yaml]\ndepth: 18\n', 'b.yaml')
    with pytest.raises(ConfigError, match=r'config files build on each other in a cycle: .*a.yaml -> .*b.yaml -> '
                                          r'.*a.yaml'):
        get_config(['--config_path', str(tmp_path / 'a.yaml')])
    with pytest.raises(ConfigError, match=r"'base' must be a list of config files"):
        get_config(['--config_path', write(tmp_path, 'base: {x: 1}\n', 'c.yaml')])
    with pytest.raises(ConfigError, match="unknown config key 'base'; did you mean 'base_lr'"):
        get_config(['--base', 'a.yaml'])


@dataclasses.dataclass
class ScriptOptions:
    video: str = option('', 'video file to classify', positional=True)
    top_k: int = option(5, 'classes printed', range=POSITIVE_INT)
    verbose: bool = option(False, 'print more')


def test_an_entry_scripts_own_keys_are_declared_like_config_keys(capsys):
    config, opts = get_config(['clip.mp4', '--depth', '18', '--top_k', '3', '--verbose'], options=ScriptOptions)
    assert config.depth == 18 and opts == ScriptOptions('clip.mp4', 3, True)
    assert get_config(['--no-verbose', 'a b.mp4'], options=ScriptOptions)[1] == ScriptOptions('a b.mp4', 5, False)
    for argv, message in ((['--top_k', '3'], 'command line: predict.py needs VIDEO (video file to classify); see '
                                             '--help'),
                          (['a.mp4', 'b.mp4'], "command line: expected --key value, got 'b.mp4'"),
                          (['a.mp4', '--top_k', '0'], "command line --top_k: 'top_k' must be >= 1, got 0"),
                          (['a.mp4', '--top_kk', '1'], "unknown config key 'top_kk'; did you mean 'top_k'?")):
        with pytest.raises(ConfigError) as error:
            get_config(argv, prog='predict.py', options=ScriptOptions)
        assert message in str(error.value)
    with pytest.raises(SystemExit):
        get_config(['-h'], prog='predict.py', options=ScriptOptions)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == 'usage: predict.py VIDEO [-h] [--config_path FILE ...] [--key VALUE ...]'
    own = lines[lines.index('predict.py only (command line):'):]
    assert own[1:7] == ['  VIDEO', '      video file to classify', '  --top_k INT',
                        '      classes printed (default: 5; >= 1)', '  --verbose, --no-verbose',
                        '      print more (default: false)']
