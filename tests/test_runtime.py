"""Runtime defaults: set when absent, never over an explicit user setting."""
import os
import subprocess
import sys

from src.runtime import CPU_DEFAULTS, apply_env_defaults

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_defaults_fill_only_what_the_user_left_unset():
    environ = {'GLOG_v': '1'}
    assert apply_env_defaults(environ) == ['ONEDNN_MAX_CPU_ISA']
    assert environ == {'GLOG_v': '1', 'ONEDNN_MAX_CPU_ISA': 'AVX2'}
    assert apply_env_defaults(environ) == []


def test_importing_src_applies_them_in_a_fresh_process():
    code = 'import os, src; print(os.environ["ONEDNN_MAX_CPU_ISA"], os.environ["GLOG_v"])'
    env = {k: v for k, v in os.environ.items() if k not in CPU_DEFAULTS}
    out = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ['AVX2', '3']
    env['ONEDNN_MAX_CPU_ISA'] = 'AVX512_CORE'
    out = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ['AVX512_CORE', '3']


def test_importing_src_after_mindspore_leaves_the_environment_alone():
    """A library import (MindSpore Hub's loader, a user's program) does not change the caller's settings."""
    code = 'import os, mindspore, src; print(os.environ.get("ONEDNN_MAX_CPU_ISA"), os.environ.get("GLOG_v"))'
    env = {k: v for k, v in os.environ.items() if k not in CPU_DEFAULTS}
    out = subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ['None', 'None'], out.stderr[-2000:]


def test_applied_defaults_are_logged(caplog):
    with caplog.at_level('INFO', logger='src.runtime'):
        apply_env_defaults({'GLOG_v': '1'})
    assert 'CPU runtime defaults set: ONEDNN_MAX_CPU_ISA=AVX2 (an explicit setting always wins)' in caplog.text
