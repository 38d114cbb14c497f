"""Video classifiers: `create_model(arch, ...)` builds any variant (tsn, tsm, tsm_online)."""
from src.models.temporal_ops import OnlineTemporalShift, TemporalConv, TemporalShift
from src.models.tsm import ARCHS, SHIFT_PLACES, TSMNet, create_model

__all__ = ['ARCHS', 'SHIFT_PLACES', 'OnlineTemporalShift', 'TSMNet', 'TemporalConv', 'TemporalShift', 'create_model']
