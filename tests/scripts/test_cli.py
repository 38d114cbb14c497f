"""One command-line style: every entry script answers --help (exit 0) listing all its keys; the config scripts every
Config key; the argparse scripts a help text for every option and --x / --no-x booleans."""
import ast
import os
import re
import runpy
import sys

import pytest

from helpers import ENTRY_SCRIPTS
from src.config import config_fields

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def test_every_script_with_a_main_is_an_entry_script():
    found = {os.path.relpath(os.path.join(folder, name), ROOT).replace(os.sep, '/')
             for folder in (ROOT, os.path.join(ROOT, 'tools'), os.path.join(ROOT, 'benchmarks'))
             for name in os.listdir(folder) if name.endswith('.py')
             and "__name__ == '__main__'" in open(os.path.join(folder, name)).read().replace('"', "'")}
    assert found - {'benchmarks/torch_tsm.py'} == set(ENTRY_SCRIPTS)


def run_help(script, monkeypatch, capsys, flag='--help'):
    """`python <script> --help` in this process: (exit status, stdout)."""
    path = os.path.join(ROOT, script)
    monkeypatch.syspath_prepend(os.path.dirname(path))  # as `python <script>` has it
    monkeypatch.setattr(sys, 'argv', [path, flag])
    with pytest.raises(SystemExit) as done:
        runpy.run_path(path, run_name='__main__')
    return done.value.code, capsys.readouterr().out


def declared_options(script):
    """(--options, add_argument calls) of an argparse script, read from its source."""
    calls = [node for node in ast.walk(ast.parse(open(os.path.join(ROOT, script)).read()))
             if isinstance(node, ast.Call) and getattr(node.func, 'attr', None) == 'add_argument']
    names = [arg.value for call in calls for arg in call.args if isinstance(arg, ast.Constant)]
    return [name for name in names if name.startswith('--')], calls


@pytest.mark.parametrize('script', sorted(ENTRY_SCRIPTS))
def test_help_lists_every_key_and_exits_0(script, monkeypatch, capsys):
    code, out = run_help(script, monkeypatch, capsys, '-h' if script == 'predict.py' else '--help')
    assert code in (0, None)
    assert out.startswith(f'usage: {os.path.basename(script)} '), out[:200]
    if ENTRY_SCRIPTS[script][0] == 'config':
        lines = out.splitlines()
        for name, f in config_fields().items():
            flags = f'  --{name}, --no-{name}' if f.type is bool else f'  --{name} '
            assert any(line.startswith(flags) for line in lines), name
        first_line = open(os.path.join(ROOT, script)).read().split('\n')[0].strip('"')
        assert first_line in out  # the script's own description
    else:
        options, calls = declared_options(script)
        hidden = {name for call in calls for kw in call.keywords if kw.arg == 'help' and
                  isinstance(kw.value, ast.Attribute) and kw.value.attr == 'SUPPRESS'
                  for name in [a.value for a in call.args]}
        subcommands = re.findall(r"add_parser\('(\w+)'", open(os.path.join(ROOT, script)).read())
        for option in set(options) - hidden:
            assert option in out or subcommands, option  # a sub-command's options are in its own --help


@pytest.mark.parametrize('script', sorted(s for s, (kind, _) in ENTRY_SCRIPTS.items() if kind == 'argparse'))
def test_argparse_options_have_help_and_booleans_take_a_no_form(script):
    _, calls = declared_options(script)
    assert calls
    for call in calls:
        keywords = {kw.arg: kw.value for kw in call.keywords}
        where = f'{script}:{call.lineno}'
        assert 'help' in keywords, f'{where}: an option without help'
        action = keywords.get('action')
        assert not (isinstance(action, ast.Constant) and action.value in ('store_true', 'store_false')), \
            f'{where}: a boolean takes argparse.BooleanOptionalAction (--x / --no-x)'
        for arg in call.args:
            if isinstance(arg, ast.Constant) and arg.value.startswith('-'):
                assert re.fullmatch(r'--[a-z0-9_]+', arg.value), f'{where}: {arg.value} is not --key style'


def test_rank_table_subcommands_answer_help(monkeypatch, capsys):
    path = os.path.join(ROOT, 'tools', 'rank_table.py')
    for command, option in (('make', '--server_ip'), ('merge', '--out'), ('info', '--node_rank')):
        monkeypatch.setattr(sys, 'argv', [path, command, '--help'])
        with pytest.raises(SystemExit) as done:
            runpy.run_path(path, run_name='__main__')
        out = capsys.readouterr().out
        assert done.value.code == 0 and out.startswith(f'usage: rank_table.py {command}') and option in out
