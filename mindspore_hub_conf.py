"""MindSpore Hub entry: `mindspore_hub.load(uid_or_card, *args, **kwargs)` calls `create_network(model_name, *args,
**kwargs)` with the card's model-name (hub/tsm_r50_sthv2.md: `tsm_r50`), then loads the card's checkpoint non-strictly.

Importing this file reads no command line and no data, and leaves the process environment as it is (the CPU runtime
defaults of src/runtime.py are applied only by the entry scripts' explicit call, never by an import). Every
registered model can be built (`python -m src.models` lists them) with its registered defaults; `tsm_r50`, the
published SSv2 network, loads the card's checkpoint strictly.
"""
from src.models import MODELS, create_model, get_spec

POSITIONAL = ('num_classes',)  # as the model zoo's entries: mindspore_hub.load(uid, 174) means num_classes=174


def create_network(name='tsm_r50', *args, **kwargs):
    """Build the registered model `name` (any of MODELS, or an arch: tsm, tsn, tsm_online, tin = its ResNet-50
    entry); `num_classes` may come positionally, as the Hub forwards it; keyword arguments (depth, num_segments,
    shift_div, ...) override the registered defaults."""
    try:
        get_spec(name)
    except ValueError:
        raise ValueError(f"unknown network {name!r}; MindSpore Hub offers {', '.join(MODELS)}") from None
    if len(args) > len(POSITIONAL):
        raise TypeError(f"create_network takes at most {len(POSITIONAL)} positional argument after the name "
                        f"({', '.join(POSITIONAL)}), got {args!r}; give the others as keywords (e.g. num_segments=8)")
    for key, value in zip(POSITIONAL, args):
        if key in kwargs:
            raise TypeError(f"create_network got {key} twice: positionally ({value!r}) and as a keyword "
                            f"({kwargs[key]!r})")
        kwargs[key] = value
    return create_model(name, **kwargs)
