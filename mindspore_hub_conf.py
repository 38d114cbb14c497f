"""MindSpore Hub entry: `mindspore_hub.load(...)` calls `create_network(name, **kwargs)`.

Importing this file reads no command line and no data; the defaults are the published SSv2 network
(TSM-R50, 174 classes, 8 segments), whose checkpoint loads strictly into `create_network('tsm')`.
"""
from src.models import ARCHS, create_model

HUB_DEFAULTS = {'depth': 50, 'num_classes': 174, 'num_segments': 8}
NETWORK_DEFAULTS = {'tin': {'shift_div': 4}}  # MMAction2's TIN interlaces a quarter of the channels


def create_network(name='tsm', *args, **kwargs):
    """Build the network `name` (tsm, tsn, tsm_online, tin); keyword arguments override the Hub defaults."""
    if name not in ARCHS:
        raise ValueError(f"unknown network {name!r}; MindSpore Hub offers {sorted(ARCHS)}")
    if args:
        raise TypeError(f"create_network takes keyword arguments only (e.g. num_classes=174), got {args!r}")
    return create_model(name, **{**HUB_DEFAULTS, **NETWORK_DEFAULTS.get(name, {}), **kwargs})
