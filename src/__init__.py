"""TSM for MindSpore. Importing any part of `src` first applies the runtime defaults (see runtime.py)."""
from src.runtime import apply_env_defaults

apply_env_defaults()
