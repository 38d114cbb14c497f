"""Video classifiers: `create_model(arch, ...)` builds any variant (tsn, tsm, tsm_online, tin);
`create_streaming_model(...)` the frame-by-frame online TSM with explicit caches."""
from src.models.temporal_ops import OnlineTemporalShift, TemporalConv, TemporalShift
from src.models.streaming import StreamingTSM, create_streaming_model
from src.models.tsm import ARCHS, SHIFT_PLACES, TSMNet, create_model

__all__ = ['ARCHS', 'SHIFT_PLACES', 'OnlineTemporalShift', 'TSMNet', 'TemporalConv', 'TemporalShift', 'StreamingTSM',
           'create_model', 'create_streaming_model']
