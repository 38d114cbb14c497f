"""Process-wide runtime defaults, applied by an explicit call at the top of every entry script's `main()`.

    from src.runtime import apply_runtime_defaults
    def main(argv=None):
        apply_runtime_defaults()   # before the first MindSpore operation; import order does not matter
        ...

Importing `src` changes nothing: a library import leaves the caller's environment as it is (MindSpore Hub's loader,
mindspore_hub_conf.py, a user's program). When each default is read (MindSpore 2.10, its bundled oneDNN 3.10):

- ONEDNN_MAX_CPU_ISA: read by oneDNN when it first needs its ISA, at the first CPU primitive (the first convolution),
  not at `import mindspore` nor at context set-up; so setting it in `main()`, after every import, is in time.
  oneDNN's own `dnnl_set_max_cpu_isa` confirms it: it succeeds until that first primitive and fails afterwards, so
  a call that comes too late (a CPU kernel already ran) is detected and reported loudly.
- GLOG_v: read when MindSpore loads (the C++ log level when its libraries load; mindspore.log's Python logger is
  created during `import mindspore`). A call after `import mindspore` leaves this process's logging as it is (no
  public API changes it later; re-executing the interpreter would double every script's start-up for a verbosity
  setting) and the value still reaches child processes (dataset workers, run_demo.py's train/eval runs).
  Export GLOG_v in the shell to set it for the process itself.
"""
import ctypes
import glob
import logging
import os
import sys
import warnings

logger = logging.getLogger(__name__)

# MindSpore 2.10 hands its bundled oneDNN plain NCHW tensors; with AVX-512 allowed, oneDNN 3.10 runs them through
# its reference kernel (`jit_uni_ncsp:conv+ref:any`), ~80x slower than the AVX2 `gemm:jit` one (TSM-R50, 8 frames
# at 224: ~40 s instead of ~0.4 s a forward). benchmarks/onednn_avx512_repro.py reproduces it with one Conv2d and
# writes the report for MindSpore's tracker. Capping the ISA at AVX2 is safe everywhere: it is a ceiling, older
# CPUs use what they have, and Ascend/GPU never read it.
# GLOG_v=3 keeps MindSpore's C++ logging to errors (its default, 2, prints warnings).
CPU_DEFAULTS = {"ONEDNN_MAX_CPU_ISA": "AVX2", "GLOG_v": "3"}
DNNL_CPU_ISA_AVX2 = 0x7  # dnnl_cpu_isa_avx2 of oneDNN's dnnl_types.h (dnnl_get_effective_cpu_isa() under AVX2)


class RuntimeDefaultsWarning(UserWarning):
    """A runtime default came too late to take effect in this process."""


def apply_env_defaults(environ=os.environ):
    """Set each default that the user has not set explicitly; return the names that were set (logged at INFO)."""
    applied = []
    for key, value in CPU_DEFAULTS.items():
        if key not in environ:
            environ[key] = value
            applied.append(key)
    if applied:
        logger.info('CPU runtime defaults set: %s (an explicit setting always wins)',
                    ', '.join(f'{key}={environ[key]}' for key in applied))
    return applied


def loaded_onednn():
    """MindSpore's bundled oneDNN if this process has loaded it (`import mindspore` does), else None."""
    mindspore = sys.modules.get('mindspore')
    if mindspore is None or not hasattr(os, 'RTLD_NOLOAD'):
        return None
    for path in sorted(glob.glob(os.path.join(os.path.dirname(mindspore.__file__), 'lib', 'libdnnl.so*'))):
        try:
            return ctypes.CDLL(path, mode=os.RTLD_NOLOAD)  # the already loaded library, never a second copy
        except OSError:
            continue
    return None


def apply_runtime_defaults(environ=os.environ):
    """Apply the CPU runtime defaults the user has not set; call it first thing in an entry script's `main()`.

    Whatever the import order: returns the names set. Warns (RuntimeDefaultsWarning) when the ISA cap comes after
    oneDNN's first primitive, where it can no longer take effect in this process."""
    applied = apply_env_defaults(environ)
    if environ is not os.environ or 'mindspore' not in sys.modules:
        return applied  # MindSpore reads both when it loads or later: in time
    if 'ONEDNN_MAX_CPU_ISA' in applied:
        onednn = loaded_onednn()
        if onednn is not None and onednn.dnnl_set_max_cpu_isa(DNNL_CPU_ISA_AVX2) != 0:  # 0: dnnl_success
            message = ("ONEDNN_MAX_CPU_ISA=AVX2 came too late: a MindSpore CPU kernel already ran, so oneDNN keeps "
                       "AVX-512, where its convolutions take a reference kernel up to ~80x slower "
                       "(benchmarks/onednn_avx512_repro.py). Call src.runtime.apply_runtime_defaults() before the "
                       "first MindSpore operation, or export ONEDNN_MAX_CPU_ISA=AVX2 before starting Python.")
            warnings.warn(message, RuntimeDefaultsWarning, stacklevel=2)
    if 'GLOG_v' in applied:
        logger.info('GLOG_v=%s reaches child processes only: MindSpore read GLOG_v when it was imported (export it '
                    'in the shell to quiet this process too)', environ['GLOG_v'])
    return applied


def init_context(device_target, mode='graph', device_id=None):
    """Select the device and execution mode ('graph' or 'pynative') for an entry script."""
    import mindspore as ms

    ms.set_context(mode=ms.GRAPH_MODE if mode == 'graph' else ms.PYNATIVE_MODE)
    if device_id is None:
        ms.set_device(device_target)
    else:
        ms.set_device(device_target, device_id)
