"""TSM for MindSpore.

Importing `src` changes nothing in the process: the CPU runtime defaults (src/runtime.py) are applied by an explicit
`apply_runtime_defaults()` call at the top of every entry script's `main()`, which works whatever the import order.
"""
