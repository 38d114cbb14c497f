"""Video classifiers: `create_model(name, **overrides)` builds any registered model (src/models/registry.py,
`python -m src.models` lists them) or variant (tsn, tsm, tsm_online, tin on ResNet or MobileNetV2);
`create_streaming_model(...)` the frame-by-frame online TSM with explicit caches."""
from src.models.registry import MODELS, get_spec
from src.models.temporal_ops import OnlineTemporalShift, TemporalConv, TemporalShift
from src.models.streaming import StreamingTSM, create_streaming_model
from src.models.tsm import ARCHS, BACKBONES, SHIFT_PLACES, TSMNet, create_model

__all__ = ['ARCHS', 'BACKBONES', 'MODELS', 'SHIFT_PLACES', 'OnlineTemporalShift', 'TSMNet', 'TemporalConv',
           'TemporalShift', 'StreamingTSM', 'create_model', 'create_streaming_model', 'get_spec']
