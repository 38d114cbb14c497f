"""Process-wide defaults that must be in place before MindSpore runs its first kernel."""
import logging
import os

logger = logging.getLogger(__name__)

# MindSpore 2.10 hands its bundled oneDNN plain NCHW tensors; with AVX-512 allowed, oneDNN 3.10 runs them through
# its reference kernel (`jit_uni_ncsp:conv+ref:any`), ~80x slower than the AVX2 `gemm:jit` one (TSM-R50, 8 frames
# at 224: ~40 s instead of ~0.4 s a forward). benchmarks/onednn_avx512_repro.py reproduces it with one Conv2d and
# writes the report for MindSpore's tracker. Capping the ISA at AVX2 is safe everywhere: it is a ceiling, older
# CPUs use what they have, and Ascend/GPU never read it.
# GLOG_v=3 keeps MindSpore's C++ logging to errors (its default, 2, floods the console with warnings).
CPU_DEFAULTS = {"ONEDNN_MAX_CPU_ISA": "AVX2", "GLOG_v": "3"}


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


def init_context(device_target, mode='graph', device_id=None):
    """Select the device and execution mode ('graph' or 'pynative') for an entry script."""
    import mindspore as ms

    ms.set_context(mode=ms.GRAPH_MODE if mode == 'graph' else ms.PYNATIVE_MODE)
    if device_id is None:
        ms.set_device(device_target)
    else:
        ms.set_device(device_target, device_id)
