"""MindSpore Hub entry: `mindspore_hub.load(uid_or_card, *args, **kwargs)` calls `create_network(model_name, *args,
**kwargs)` with the card's model-name (hub/tsm_r50_sthv2.md: `tsm`), then loads the card's checkpoint non-strictly.

Importing this file reads no command line and no data, and leaves the process environment as it is: MindSpore is
imported before `src`, so the CPU runtime defaults of src/runtime.py are not applied (see src/__init__.py). The
defaults are the published SSv2 network (TSM-R50, 174 classes, 8 segments), whose checkpoint loads strictly into
`create_network('tsm')`.
"""
import mindspore  # noqa: F401  (first: a library import of src then leaves the caller's environment untouched)

from src.models import ARCHS, create_model

HUB_DEFAULTS = {'depth': 50, 'num_classes': 174, 'num_segments': 8}
NETWORK_DEFAULTS = {'tin': {'shift_div': 4}}  # MMAction2's TIN interlaces a quarter of the channels
POSITIONAL = ('num_classes',)  # as the model zoo's entries: mindspore_hub.load(uid, 174) means num_classes=174


def create_network(name='tsm', *args, **kwargs):
    """Build the network `name` (tsm, tsn, tsm_online, tin); `num_classes` may come positionally, as the Hub
    forwards it; keyword arguments (depth, num_segments, shift_div, ...) override the Hub defaults."""
    name = name.lower()
    if name not in ARCHS:
        raise ValueError(f"unknown network {name!r}; MindSpore Hub offers {sorted(ARCHS)}")
    if len(args) > len(POSITIONAL):
        raise TypeError(f"create_network takes at most {len(POSITIONAL)} positional argument after the name "
                        f"({', '.join(POSITIONAL)}), got {args!r}; give the others as keywords (e.g. num_segments=8)")
    for key, value in zip(POSITIONAL, args):
        if key in kwargs:
            raise TypeError(f"create_network got {key} twice: positionally ({value!r}) and as a keyword "
                            f"({kwargs[key]!r})")
        kwargs[key] = value
    return create_model(name, **{**HUB_DEFAULTS, **NETWORK_DEFAULTS.get(name, {}), **kwargs})
