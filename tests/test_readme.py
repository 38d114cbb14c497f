"""The user documentation: README.md and README_CN.md stay in sync (headings, commands, marked blocks), relative
links point to files that exist, no page refers to files users do not have, and the commands in the code blocks
name scripts that exist with options those scripts know (config keys checked by src.config.parse_cli).

Reads text only: no MindSpore computation."""
import os
import re
import shlex

import pytest

from src.config import ConfigError, config_fields, parse_cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README, README_CN = 'README.md', 'README_CN.md'
DOCS = (README, README_CN, 'docs/datasets.md', 'benchmarks/README.md')
MAX_README_LINES = 380
MD_NAME = re.compile(r'(?<![\w/.:-])((?:\.\./|[\w.-]+/)*[\w.-]+\.md)\b')  # a markdown file named in the text
MARKED = {  # blocks README_CN.md carries byte for byte: (opening marker, closing marker)
    'model table': ('<!-- model table: python -m src.models -->', '<!-- end of model table -->'),
    'vs torch': ('<!-- vs torch: benchmarks/results/vs_torch_cpu.md -->', '<!-- end of vs torch -->'),
}

FENCE = re.compile(r'^(?P<fence>```+)(?P<lang>[^\n`]*)\n(?P<body>.*?)^(?P=fence)[ \t]*$', re.S | re.M)
HEADING = re.compile(r'^(#{1,6})[ \t]+\S', re.M)
INLINE_CODE = re.compile(r'`[^`\n]*`')
LINK = re.compile(r'!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)')
SHELL_LANGS = ('bash', 'sh', 'shell')
SEPARATORS = ('&&', '||', '|', ';')
INTERPRETER = re.compile(r'python(3(\.\d+)?)?')
ENV_ASSIGNMENT = re.compile(r'[A-Za-z_][A-Za-z0-9_]*=.*')
PLACEHOLDER = '...'  # "and so on" in a command: `--train_list ...`

# Launch scripts: (positional arguments, index of CONFIG_PATH among them or None, an optional DEVICE_ID after them,
# the Python script that receives the `--key value` which follow).
SHELL_SCRIPTS = {
    'scripts/run_standalone_train.sh': (3, 1, False, 'train.py'),
    'scripts/run_distribute_train.sh': (5, 3, False, 'train.py'),
    'scripts/run_eval.sh': (4, 1, False, 'eval.py'),
    'scripts/run_export.sh': (4, None, True, 'export.py'),
    'scripts/run_infer_cpp.sh': (4, 1, True, 'preprocess.py'),
    'scripts/run_infer_310.sh': (4, 1, False, 'preprocess.py'),
}


def read(name):
    with open(os.path.join(ROOT, name), encoding='utf-8') as f:
        return f.read()


def fenced_blocks(text):
    """[(language, full block text)] of every fenced code block, in order."""
    return [(m.group('lang').strip(), m.group(0)) for m in FENCE.finditer(text)]


def prose(text):
    """The text outside fenced code blocks."""
    return FENCE.sub('', text)


def heading_levels(text):
    return [len(m.group(1)) for m in HEADING.finditer(prose(text))]


def marked_block(text, name):
    start, end = MARKED[name]
    assert text.count(start) == 1 and text.count(end) == 1, f'{name}: markers missing or repeated'
    return text[text.index(start):text.index(end) + len(end)]


def relative_links(text):
    """Link targets that are paths in the repository (no scheme, not a bare anchor), anchors dropped."""
    targets = LINK.findall(INLINE_CODE.sub('', prose(text)))
    return [t.split('#')[0] for t in targets if not re.match(r'[a-z][a-z0-9+.-]*:', t) and not t.startswith('#')]


def shell_commands(text):
    """Every simple command of the shell code blocks, as argument lists (continuations joined, comments and
    leading VAR=value assignments dropped, pipelines and && chains split)."""
    commands = []
    for lang, block in fenced_blocks(text):
        if lang not in SHELL_LANGS:
            continue
        body = block.split('\n', 1)[1].rsplit('\n', 1)[0]
        for line in body.replace('\\\n', ' ').splitlines():
            command = []
            for token in shlex.split(line, comments=True) + [';']:
                if token in SEPARATORS:
                    while command and ENV_ASSIGNMENT.fullmatch(command[0]):
                        command.pop(0)
                    if command:
                        commands.append(command)
                    command = []
                else:
                    command.append(token)
    return commands


def own_options(source):
    """Every `--option` a script declares itself: argparse's `add_argument('--x')` (sub-commands included; `--no-x`
    too with BooleanOptionalAction) and the entry scripts' own keys, `x: type = option(...)` (src.config), with
    `--no-x` for booleans."""
    options = set(re.findall(r'''add_argument\(\s*['"](--[\w-]+)['"]''', source))
    options |= {'--no-' + name[2:] for name in re.findall(
        r'''add_argument\(\s*['"](--[\w-]+)['"][^)]*BooleanOptionalAction''', source)}
    for name, annotation in re.findall(r'^\s+(\w+)\s*:\s*([^=\n]*?)\s*=\s*option\(', source, re.M):
        options |= {f'--{name}'} | ({f'--no-{name}'} if annotation == 'bool' else set())
    return options | {'-h', '--help'}


def check_config_args(args, where):
    """`--key value` pairs of a config script: known keys with valid values (src.config.parse_cli); a `...` value
    stands for something left to the reader, so only its key is checked. Config files must exist."""
    kept, i = [], 0
    while i < len(args):
        if args[i] == PLACEHOLDER:
            i += 1
        elif args[i].startswith('--') and '=' not in args[i] and i + 1 < len(args) and args[i + 1] == PLACEHOLDER:
            name = args[i][2:]
            assert name == 'config_path' or name in config_fields(), f"{where}: unknown config key --{name}"
            i += 2
        else:
            kept.append(args[i])
            i += 1
    try:
        config_paths, _ = parse_cli(kept)
    except ConfigError as err:
        raise AssertionError(f'{where}: {err}') from None
    for path in config_paths:
        check_repository_file(path, where)


def check_repository_file(path, where):
    if not os.path.isabs(path):
        assert os.path.isfile(os.path.join(ROOT, path)), f'{where}: {path} is not a file of the repository'


def check_python_command(argv, where):
    """`python SCRIPT args` / `python -m MODULE args`: the script exists, its options are known."""
    if argv[0] in ('-c', '-'):
        return
    if argv[0] == '-m':
        module = argv[1]
        if module.split('.')[0] == 'src':
            base = os.path.join(ROOT, *module.split('.'))
            assert os.path.isfile(base + '.py') or os.path.isfile(os.path.join(base, '__main__.py')), \
                f'{where}: no module {module}'
        return
    script, args = argv[0], argv[1:]
    assert script.endswith('.py'), f'{where}: expected a script, got {script}'
    assert os.path.isfile(os.path.join(ROOT, script)), f'{where}: {script} does not exist'
    source = read(script)
    known, takes_config = own_options(source), 'get_config(' in source  # the config's keys, after its own
    while args and not args[0].startswith('-'):  # positional arguments (a video, a sub-command, ...) come first
        args = args[1:]
    config_args, i = [], 0
    while i < len(args):
        option = args[i].split('=')[0]
        width = 2 if '=' not in args[i] and i + 1 < len(args) and not args[i + 1].startswith('--') else 1
        if option in known:
            pass
        elif takes_config:
            config_args += args[i:i + width]
        else:
            raise AssertionError(f'{where}: {script} has no option {option}')
        i += width
    if takes_config:
        check_config_args(config_args, where)


def check_shell_script(argv, where):
    script, args = argv[0], argv[1:]
    assert os.path.isfile(os.path.join(ROOT, script)), f'{where}: {script} does not exist'
    if script not in SHELL_SCRIPTS or PLACEHOLDER in args[:SHELL_SCRIPTS[script][0]]:
        return
    positional, config_index, optional_device_id, target = SHELL_SCRIPTS[script]
    assert len(args) >= positional, f'{where}: {script} takes {positional} positional arguments'
    if config_index is not None:
        check_repository_file(args[config_index], where)
    rest = args[positional:]
    if optional_device_id and rest and not rest[0].startswith('--'):
        rest = rest[1:]
    assert not rest or rest[0].startswith('--'), f'{where}: {script} takes {positional} positional arguments'
    check_python_command([target, *rest], where)


def check_command(argv, where):
    if INTERPRETER.fullmatch(os.path.basename(argv[0])) and len(argv) > 1:
        check_python_command(argv[1:], where)
    elif argv[0] == 'bash' and len(argv) > 1 and argv[1].endswith('.sh'):
        check_shell_script(argv[1:], where)


def test_readme_cn_has_the_same_headings():
    assert heading_levels(read(README_CN)) == heading_levels(read(README))
    assert heading_levels(read(README)).count(2) >= 8


def test_readme_cn_has_the_same_code_blocks():
    english, chinese = fenced_blocks(read(README)), fenced_blocks(read(README_CN))
    assert len(chinese) == len(english)
    for number, (ours, theirs) in enumerate(zip(english, chinese)):
        assert theirs == ours, f'code block {number + 1} of {README_CN} differs from {README}'


@pytest.mark.parametrize('name', sorted(MARKED))
def test_readme_cn_has_the_same_marked_blocks(name):
    assert marked_block(read(README_CN), name) == marked_block(read(README), name)


def test_the_readmes_link_to_each_other():
    for name in (README, README_CN):
        links = relative_links(read(name))
        assert README in links and README_CN in links, f'{name} lost its language links'


@pytest.mark.parametrize('doc', DOCS)
def test_relative_links_point_to_existing_files(doc):
    base = os.path.dirname(os.path.join(ROOT, doc))
    targets = relative_links(read(doc))
    assert targets, f'{doc}: no relative links found'
    missing = [t for t in targets if not os.path.exists(os.path.normpath(os.path.join(base, t)))]
    assert not missing, f'{doc} links to files that do not exist: {missing}'


def test_readme_is_short():
    lines = read(README).count('\n')
    assert lines <= MAX_README_LINES, f'{README} has {lines} lines (at most {MAX_README_LINES})'


def test_no_page_refers_to_files_users_do_not_have():
    """Every markdown file a page names is in this repository (by name), and no path climbs out of it."""
    pages = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if not d.startswith('.venv') and d != '.git']
        pages += [os.path.join(folder, name) for name in files if name.endswith('.md')]
    shipped = {os.path.basename(path) for path in pages}
    found = []
    for path in pages:
        with open(path, encoding='utf-8', errors='replace') as f:
            text = f.read()
        for name in MD_NAME.findall(re.sub(r'--out[ =]\S+', '', text)):  # a file a command writes is not read
            outside = not os.path.normpath(os.path.join(os.path.dirname(path), name)).startswith(ROOT + os.sep)
            if os.path.basename(name) not in shipped or (name.startswith('../') and outside):
                found.append(f'{os.path.relpath(path, ROOT)}: {name}')
    assert not found


@pytest.mark.parametrize('doc', DOCS)
def test_commands_name_existing_scripts_and_known_options(doc):
    commands = shell_commands(read(doc))
    assert commands, f'{doc}: no shell commands found'
    checked = 0
    for argv in commands:
        check_command(argv, f"{doc}: {' '.join(argv)[:100]}")
        checked += INTERPRETER.fullmatch(os.path.basename(argv[0])) is not None or argv[0] == 'bash'
    assert checked, f'{doc}: no python or bash command found'


def test_readme_runs_the_entry_scripts_with_config_keys():
    """The check above covers what matters: README's commands of every config script and launcher."""
    scripts = {argv[1] for argv in shell_commands(read(README)) if len(argv) > 1}
    assert {'train.py', 'eval.py', 'export.py', 'predict.py'} <= {os.path.basename(s) for s in scripts}
    assert {'scripts/run_eval.sh', 'scripts/run_distribute_train.sh', 'scripts/run_export.sh'} <= scripts
