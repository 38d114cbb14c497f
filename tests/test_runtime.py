"""Runtime defaults: set when absent, never over an explicit user setting; applied by an explicit call (never by an
import), in time whatever the import order, and loudly refused when oneDNN has already fixed its instruction set."""
import os
import subprocess
import sys

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


def test_the_call_after_import_mindspore_still_caps_onednn():
    out = run_python(CONV + 'from src.runtime import apply_runtime_defaults\napply_runtime_defaults()\nconv()\n'
                     + EFFECTIVE)
    effective = int(out.stdout.split('effective')[-1])
    assert effective & ~DNNL_CPU_ISA_AVX2 == 0, (hex(effective), out.stderr[-2000:])  # no AVX-512 / AMX bit


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
