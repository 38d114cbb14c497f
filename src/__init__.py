"""TSM for MindSpore.

Importing `src` before MindSpore - what every entry script here does first - applies the CPU runtime defaults
(src/runtime.py) that are not set explicitly. A process that has already imported MindSpore (MindSpore Hub's
loader, mindspore_hub_conf.py, a user's program) keeps its environment as it is: a library import does not change
the caller's settings, and GLOG_v would come too late anyway. `src.runtime.apply_env_defaults()` applies them on
request (ONEDNN_MAX_CPU_ISA still takes effect if called before the first CPU kernel runs).
"""
import sys

from src.runtime import apply_env_defaults

if 'mindspore' not in sys.modules:
    apply_env_defaults()
