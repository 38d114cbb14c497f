"""`create_dataset`: list file -> sampled, transformed, batched clips as a `mindspore.dataset` pipeline.

Train columns: `clip (T*3, H, W)` uint8 RGB, `label` int32; shuffled, sharded by MindSpore, incomplete last batch
dropped. Eval columns: `clip (V, T*3, H, W)` (V = num_clips * num_crops views), `label`, `index` (the video's row
in the list file). Eval sharding is done here: shard k takes rows k, k + S, ... padded with index -1 rows (zero
clips, masked out by the evaluator) so every shard runs the same number of full batches and every video is
seen exactly once across shards.
`eval_protocol='zoo_r17'` evaluates as the model zoo r1.7 TSM did (`src/data/zoo_r17.py`): its frame indices, frames
squashed to scale_size x scale_size, a centre crop, videos of fewer than 3 frames left out.
Clips stay uint8 (0..255) all the way to the network, which normalises them itself (`TSMNet`, also under mixed
precision: MindSpore casts only float inputs): a quarter of the bytes of float32 through workers, batching and the
device queue, and no per-pixel work on the host.
"""
import atexit
import logging
import math
import multiprocessing

import cv2
import mindspore.dataset as ds
import numpy as np

from src.data.records import BadSampleError, read_list_file
from src.data.sampling import sample_clip_indices
from src.data.sources import create_reader
from src.data.transforms import EvalTransform, TrainTransform
from src.data.zoo_r17 import ZooR17Transform, zoo_r17_indices, zoo_r17_records

logger = logging.getLogger(__name__)
MAX_TRAIN_RETRIES = 10
EVAL_PROTOCOLS = ("reference", "zoo_r17")


class BadSampleCounter:
    """Counts skipped samples across dataset worker processes (shared memory, inherited by fork)."""

    def __init__(self, name):
        self.name, self._value = name, multiprocessing.Value("i", 0)

    def __deepcopy__(self, memo):
        return self  # MindSpore deep-copies the pipeline; every copy must count into the same shared value

    def add(self, message):
        with self._value.get_lock():
            self._value.value += 1
        logger.warning("skipped bad sample: %s", message)

    @property
    def count(self):
        return self._value.value

    def report(self):
        """Log the number of skipped samples (registered to run at exit)."""
        if self.count:
            logger.warning("%s: skipped %d bad samples in total", self.name, self.count)


def eval_rows(num_videos, batch_size, num_shards=1, shard_id=0):
    """List rows of one eval shard: rows shard_id, shard_id + S, ..., padded with -1 to equal full batches."""
    per_shard = math.ceil(math.ceil(num_videos / num_shards) / batch_size) * batch_size
    rows = np.arange(shard_id, num_videos, num_shards)
    return np.concatenate([rows, np.full(per_shard - len(rows), -1)])


class ClipSource:
    """Random-access source for `mindspore.dataset.GeneratorDataset`: record -> indices -> frames -> clip."""

    def __init__(self, records, reader, num_segments, transform, sampling="segment", num_clips=1,
                 rows=None, skip_bad_samples=False, seed=None, counter=None, eval_protocol="reference"):
        self.records, self.reader, self.transform = records, reader, transform
        self.eval_protocol = eval_protocol
        self.num_segments, self.sampling, self.num_clips = num_segments, sampling, num_clips
        self.rows, self.seed = rows, seed
        self.skip_bad_samples, self.counter = skip_bad_samples, counter
        self._visits = {}

    def __len__(self):
        return len(self.records) if self.rows is None else len(self.rows)

    def __getitem__(self, item):
        return self.train_item(item) if self.rows is None else self.eval_item(item)

    def rng(self, item):
        """Per-sample generator: OS entropy, or (seed, item, visit) so a fixed seed repeats the augmentations."""
        if self.seed is None:
            return np.random.default_rng()
        self._visits[item] = self._visits.get(item, -1) + 1
        return np.random.default_rng((self.seed, item, self._visits[item]))

    def train_item(self, item):
        rng = self.rng(item)
        for _ in range(MAX_TRAIN_RETRIES):
            record = self.records[item]
            try:
                indices = sample_clip_indices(record.num_frames, self.num_segments, self.sampling, 1, rng)
                clip, label = self.transform(self.reader.read(record, indices[0]), record.label, rng)
                return clip, np.int32(label)
            except BadSampleError as err:
                if not self.skip_bad_samples:
                    raise
                self.counter.add(str(err))
                item = int(rng.integers(len(self.records)))  # train on another random video instead
        raise BadSampleError(f"{MAX_TRAIN_RETRIES} bad samples in a row; last: {record.path}")

    def eval_item(self, item):
        row = int(self.rows[item])
        if row >= 0:
            record = self.records[row]
            try:
                if self.eval_protocol == "zoo_r17":
                    indices = zoo_r17_indices(record.num_frames, self.num_segments)
                else:
                    indices = sample_clip_indices(record.num_frames, self.num_segments, self.sampling, self.num_clips)
                views = self.transform(self.reader.read(record, indices.reshape(-1)), self.num_clips)
                return views, np.int32(record.label), np.int32(row)
            except BadSampleError as err:
                if not self.skip_bad_samples:
                    raise
                self.counter.add(str(err))  # the row is masked out like padding
        size = self.transform.crop_size
        views = np.zeros((self.num_clips * self.transform.num_crops, self.num_segments * 3, size, size), np.uint8)
        return views, np.int32(0), np.int32(-1)


def check_eval_protocol(eval_protocol, training, sampling, num_clips, num_crops):
    """`zoo_r17` is an evaluation protocol of 1 segment-sampled clip x 1 crop; raise ValueError otherwise."""
    if eval_protocol not in EVAL_PROTOCOLS:
        raise ValueError(f"eval_protocol must be one of {EVAL_PROTOCOLS}, got {eval_protocol!r}")
    if eval_protocol == "zoo_r17":
        if training:
            raise ValueError("eval_protocol 'zoo_r17' is for evaluation; training data take the reference pipeline")
        if (sampling, num_clips, num_crops) != ("segment", 1, 1):
            raise ValueError(f"eval_protocol 'zoo_r17' takes sampling 'segment', 1 clip and 1 crop, got {sampling!r}, "
                             f"{num_clips} clip(s) and {num_crops} crop(s)")


def create_dataset(list_file, data_root, training, batch_size, num_segments=8, *, source="frames",
                   frame_template="{:06d}.jpg", num_classes=None, sampling="segment", num_clips=1, num_crops=1,
                   crop_size=224, scale_size=256, flip=False, flip_pairs=(), num_parallel_workers=2,
                   worker_processes=False, num_shards=None, shard_id=None, skip_bad_samples=False, seed=None,
                   allow_outside_root=False, eval_protocol="reference"):
    """Batched clips from the videos of `list_file` (paths relative to `data_root`).

    source: 'frames' (JPEG folders named by `frame_template`, 1-based) or 'video' (files decoded by OpenCV).
    sampling: 'segment' or 'dense'; eval takes `num_clips` clips (segment: 1 or 2; dense: any, 10 in the
    reference) x `num_crops` crops (1 centre or 3 along the long side) of side `crop_size` after resizing the short
    side to `scale_size`. Train: multi-scale crop resized to `crop_size`, `flip` (mirrored labels per
    `flip_pairs`). `num_parallel_workers` threads (OpenCV releases the GIL), or processes with `worker_processes`.
    Bad samples raise BadSampleError naming the file; with `skip_bad_samples` they are logged and
    counted (train: another video is drawn; eval: the row is masked as padding), the count logged at exit.
    List paths must stay inside `data_root` unless `allow_outside_root`. The dataset's `records` are the list's
    usable lines (eval `index` values point into them) and `bad_samples` counts the skipped samples.
    eval_protocol: 'reference' (the above) or 'zoo_r17' (evaluation only, 1 segment clip x 1 crop: the model zoo r1.7
    pipeline that measured the Hub checkpoint, see `src/data/zoo_r17.py`; `records` are the videos of >= 3 frames).
    """
    check_eval_protocol(eval_protocol, training, sampling, num_clips, num_crops)
    records = read_list_file(list_file, num_classes, skip_bad_samples, allow_outside_root)
    cv2.setNumThreads(1)  # parallelism comes from the dataset workers; OpenCV's own threads would oversubscribe
    reader = create_reader(source, data_root, frame_template)
    num_shards, shard_id = num_shards or 1, shard_id or 0
    counter = BadSampleCounter(list_file)
    atexit.register(counter.report)
    if training:
        transform = TrainTransform(crop_size, scale_size, flip=flip, flip_pairs=flip_pairs)
        rows, columns = None, ["clip", "label"]
    else:
        if eval_protocol == "zoo_r17":
            records = zoo_r17_records(records, list_file)
            transform = ZooR17Transform(crop_size, scale_size)
        else:
            transform = EvalTransform(crop_size, scale_size, num_crops)
        rows, columns = eval_rows(len(records), batch_size, num_shards, shard_id), ["clip", "label", "index"]
    clip_source = ClipSource(records, reader, num_segments, transform, sampling, 1 if training else num_clips,
                             rows, skip_bad_samples, seed, counter, eval_protocol)
    shard_args = {"num_shards": num_shards, "shard_id": shard_id} if training and num_shards > 1 else {}
    dataset = ds.GeneratorDataset(clip_source, columns, shuffle=training, num_parallel_workers=num_parallel_workers,
                                  python_multiprocessing=worker_processes and num_parallel_workers > 1, **shard_args)
    dataset = dataset.batch(batch_size, drop_remainder=training)
    dataset.bad_samples = counter  # .count / .report() for the training or eval script
    dataset.records = records
    return dataset

