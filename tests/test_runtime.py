"""Runtime defaults: set when absent, never over an explicit user setting; applied by an explicit call (never by an
import), in time whatever the import order, and loudly refused when oneDNN has already fixed its instruction set."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from helpers import ENTRY_SCRIPTS
from src.runtime import CPU_DEFAULTS, DNNL_CPU_ISA_AVX2, apply_env_defaults, apply_runtime_defaults

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_python(code, env=None):
    env = {k: v for k, v in os.environ.items() if k not in CPU_DEFAULTS} if env is None else env
    return subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_defaults_fill_only_what_the_user_left_unset():
    environ = {'GLOG_v': '1'}
    assert apply_env_defaults(environ) == ['ONEDNN_MAX_CPU_ISA']
    assert environ == {'GLOG_v': '1', 'ONEDNN_MAX_CPU_ISA': 'AVX2'}
    assert apply_env_defaults(environ) == []
    assert apply_runtime_defaults({'ONEDNN_MAX_CPU_ISA': 'AVX512_CORE'}) == ['GLOG_v']


@pytest.mark.slow  # a process of its own
def test_importing_src_changes_nothing_the_call_applies_them():
    """A library import (MindSpore Hub's loader, a user's program) leaves the environment as it is, in either order."""
    code = ('import os, src, src.config, src.models, mindspore; print(os.environ.get("ONEDNN_MAX_CPU_ISA"), '
            'os.environ.get("GLOG_v")); from src.runtime import apply_runtime_defaults as a; print(a()); '
            'print(os.environ["ONEDNN_MAX_CPU_ISA"], os.environ["GLOG_v"])')
    out = run_python(code)
    assert out.stdout.split('\n')[:3] == ['None None', "['ONEDNN_MAX_CPU_ISA', 'GLOG_v']", 'AVX2 3'], out.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if k not in CPU_DEFAULTS}
    out = run_python(code, dict(env, ONEDNN_MAX_CPU_ISA='AVX512_CORE'))  # an explicit setting wins
    assert out.stdout.split('\n')[:3] == ['AVX512_CORE None', "['GLOG_v']", 'AVX512_CORE 3'], out.stderr[-2000:]


# oneDNN reads ONEDNN_MAX_CPU_ISA at its first primitive: after `import mindspore` and context set-up is in time
# (effective ISA: AVX2 or less), after the first convolution it is not, and the call says so
CONV = ('import numpy as np\nimport mindspore as ms\nms.set_device("CPU")\n'
        'def conv():\n    ms.nn.Conv2d(4, 4, 3)(ms.Tensor(np.ones((1, 4, 8, 8), np.float32))).asnumpy()\n')
EFFECTIVE = ('from src.runtime import loaded_onednn\n'
             'print("effective", loaded_onednn().dnnl_get_effective_cpu_isa())\n')


@pytest.mark.slow  # a process of its own
def test_the_call_after_import_mindspore_still_caps_onednn():
    out = run_python(CONV + 'from src.runtime import apply_runtime_defaults\napply_runtime_defaults()\nconv()\n'
                     + EFFECTIVE)
    effective = int(out.stdout.split('effective')[-1])
    assert effective & ~DNNL_CPU_ISA_AVX2 == 0, (hex(effective), out.stderr[-2000:])  # no AVX-512 / AMX bit


@pytest.mark.slow  # a process of its own
def test_the_call_after_the_first_convolution_warns():
    code = (CONV + 'import warnings\nwarnings.simplefilter("error")\nconv()\n'
            'from src.runtime import apply_runtime_defaults\napply_runtime_defaults()\n')
    out = run_python(code)
    assert 'RuntimeDefaultsWarning: ONEDNN_MAX_CPU_ISA=AVX2 came too late' in out.stderr, out.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if k not in CPU_DEFAULTS}
    out = run_python(code, dict(env, ONEDNN_MAX_CPU_ISA='ALL'))  # the user's own setting: nothing to say
    assert out.returncode == 0, out.stderr[-2000:]


def test_applied_defaults_are_logged(caplog):
    with caplog.at_level('INFO', logger='src.runtime'):
        apply_env_defaults({'GLOG_v': '1'})
    assert 'CPU runtime defaults set: ONEDNN_MAX_CPU_ISA=AVX2 (an explicit setting always wins)' in caplog.text


SORTED_RUN = r"""
import contextlib, io, json, os, runpy, sys
report = {}
for script in sys.argv[1:]:
    for key in ('ONEDNN_MAX_CPU_ISA', 'GLOG_v'):
        os.environ.pop(key, None)  # as in a fresh process: whatever an earlier script set is gone
    path = os.path.abspath(script)
    saved_path, sys.argv = sys.path[:], [path, '--help']
    sys.path.insert(0, os.path.dirname(path))  # as `python <script>` has it
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            runpy.run_path(path, run_name='__main__')
            code = None
        except SystemExit as done:
            code = done.code
    sys.path[:] = saved_path
    report[script] = {'exit': code, 'isa': os.environ.get('ONEDNN_MAX_CPU_ISA'),
                      'mindspore': 'mindspore' in sys.modules}
import numpy as np
import mindspore as ms
ms.set_device('CPU')
ms.nn.Conv2d(4, 4, 3)(ms.Tensor(np.ones((1, 4, 8, 8), np.float32))).asnumpy()  # oneDNN's first primitive
from src.runtime import loaded_onednn
report['effective_isa'] = loaded_onednn().dnnl_get_effective_cpu_isa()
print(json.dumps(report))
"""


@pytest.mark.slow  # a process of its own
def test_sorted_imports_keep_the_defaults_of_every_entry_script(tmp_path):
    """ruff's isort rule (I001) puts `import mindspore` before `from src...` in every entry script; each script's
    --help still applies the defaults (its first step), and oneDNN, first used after all of them ran, keeps to AVX2."""
    ruff = shutil.which('ruff', path=os.path.dirname(sys.executable)) or shutil.which('ruff')
    if ruff is None:
        pytest.skip('ruff is not installed (pip install -r requirements-test.txt)')
    for path in [*ENTRY_SCRIPTS, 'benchmarks/timing.py', 'pyproject.toml']:
        os.makedirs(tmp_path / os.path.dirname(path), exist_ok=True)
        shutil.copy(os.path.join(ROOT, path), tmp_path / path)
    for folder in ('src', 'configs'):
        os.symlink(os.path.join(ROOT, folder), tmp_path / folder)
    result = subprocess.run([ruff, 'check', '--select', 'I', '--fix', '--no-cache', '--quiet', '.'], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    train = (tmp_path / 'train.py').read_text()
    assert train.index('import mindspore as ms') < train.index('from src.runtime import')
    scripts = sorted(ENTRY_SCRIPTS, key=lambda s: s != 'train.py')  # MindSpore imported before the first call
    env = {k: v for k, v in os.environ.items() if k not in CPU_DEFAULTS}
    result = subprocess.run([sys.executable, '-c', SORTED_RUN, *scripts], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report['train.py']['mindspore']
    for script, (_, applies_defaults) in ENTRY_SCRIPTS.items():
        assert report[script]['exit'] in (0, None), script
        assert report[script]['isa'] == ('AVX2' if applies_defaults else None), script
    assert report['effective_isa'] & ~DNNL_CPU_ISA_AVX2 == 0, hex(report['effective_isa'])  # no AVX-512 / AMX bit
