"""Video data: list records, frame sampling, frame sources, clip transforms and the dataset pipeline."""
from src.data.dataset import ClipSource, create_dataset, eval_rows
from src.data.demo import make_demo_dataset
from src.data.records import BadSampleError, VideoRecord, class_names_or_numbers, read_class_names, read_list_file
from src.data.sampling import sample_clip_indices
from src.data.sources import FrameFolderReader, VideoReader, count_frame_files, count_video_frames, create_reader
from src.data.transforms import SSV2_FLIP_PAIRS, EvalTransform, TrainTransform

__all__ = ["BadSampleError", "ClipSource", "EvalTransform", "FrameFolderReader", "SSV2_FLIP_PAIRS",
           "TrainTransform", "VideoReader", "VideoRecord", "class_names_or_numbers", "count_frame_files",
           "count_video_frames", "create_dataset", "create_reader", "eval_rows", "make_demo_dataset",
           "read_class_names", "read_list_file", "sample_clip_indices"]
