"""Offline-inference inputs: the validation list -> one clip file per video + a labels file (eval.py's 1-clip protocol).

    python preprocess.py --config_path default_config.yaml --data_root D --val_list V --output_dir /runs/infer \\
        [--input_dtype uint8]

Each video gives `<output_dir>/clips/clip_<row>.bin`: the raw bytes of one `(1, num_segments*3, crop_size, crop_size)`
clip (row = the video's line in val_list, from 0), sampled and cropped exactly as `eval.py` does with 1 clip x 1
centre crop (segment centres, short side scale_size). `--input_dtype uint8` (for a graph exported with the same
option) keeps the RGB pixels 0..255: 4x smaller than float32, which is normalised here like eval.py's network input.
`<output_dir>/labels.json` (UTF-8 JSON, so video paths with spaces or any Unicode are carried exactly) lists every
clip written: `{"num_classes": N, "clips": [{"clip": "clip_000000", "label": 3, "video": "air drumming/x.mp4"}, ...]}`.
"""
import glob
import json
import logging
import os

import numpy as np

from src.config import dataset_kwargs, get_config
from src.data import create_dataset, read_list_file
from src.data.transforms import normalize
from src.runtime import apply_runtime_defaults

logger = logging.getLogger('preprocess')
LOG_EVERY = 500


def clip_name(row):
    return f'clip_{row:06d}'


def prepare_folder(output_dir):
    """`<output_dir>/clips`, emptied of the clip files of an earlier run (so none is inferred twice)."""
    clip_dir = os.path.join(output_dir, 'clips')
    os.makedirs(clip_dir, exist_ok=True)
    stale = glob.glob(os.path.join(clip_dir, 'clip_*.bin'))
    for path in stale:
        os.remove(path)
    if stale:
        logger.info('removed %d clip files of an earlier run from %s', len(stale), clip_dir)
    return clip_dir


def write_clips(dataset, records, clip_dir, input_dtype):
    """Write each real row's clip (padding and skipped rows, index -1, are not); return their labels-file entries."""
    entries = []
    for views, label, index in dataset.create_tuple_iterator(output_numpy=True, num_epochs=1):
        for clip, row, target in zip(views, index, label):  # clip: (1 view, T*3, H, W) uint8
            if row < 0:
                continue
            clip = normalize(clip) if input_dtype == 'float32' else clip
            clip.tofile(os.path.join(clip_dir, clip_name(row) + '.bin'))
            entries.append({'clip': clip_name(row), 'label': int(target), 'video': records[row].path})
            if len(entries) % LOG_EVERY == 0:
                logger.info('%d / %d videos', len(entries), len(records))
    return entries


def write_labels(path, entries, num_classes):
    """preprocess.py's labels file: UTF-8 JSON with one clip a line (postprocess.read_labels reads it)."""
    with open(path, 'w', encoding='utf-8') as f:
        f.write(f'{{"num_classes": {int(num_classes)}, "clips": [\n')
        f.write(',\n'.join(json.dumps(entry, ensure_ascii=False) for entry in entries))
        f.write('\n]}\n')


def main(argv=None):
    apply_runtime_defaults()  # first: before any MindSpore operation, whatever the import order
    config = get_config(argv, description=__doc__)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')
    if not (config.val_list and config.data_root):
        raise SystemExit('preprocess.py: --data_root and --val_list are required')
    if (config.num_clips, config.num_crops) != (1, 1):
        logger.info('offline inference uses 1 clip x 1 centre crop; num_clips %d / num_crops %d are not used',
                    config.num_clips, config.num_crops)
    records = read_list_file(config.val_list, config.num_classes, config.skip_bad_samples)
    dataset = create_dataset(config.val_list, config.data_root, False, 1, config.num_segments, num_clips=1,
                             num_crops=1, **dataset_kwargs(config))
    clip_dir = prepare_folder(config.output_dir)
    entries = write_clips(dataset, records, clip_dir, config.input_dtype)
    label_file = os.path.join(config.output_dir, 'labels.json')
    write_labels(label_file, entries, config.num_classes)
    size = np.dtype(config.input_dtype).itemsize * 3 * config.num_segments * config.crop_size ** 2
    logger.info('wrote %d clips of (1, %d, %d, %d) %s (%d bytes each) to %s, labels to %s; %d of %d videos',
                len(entries), 3 * config.num_segments, config.crop_size, config.crop_size, config.input_dtype, size,
                clip_dir, label_file, len(entries), len(records))
    if len(entries) < len(records):
        logger.warning('%d unreadable videos skipped (skip_bad_samples)', len(records) - len(entries))


if __name__ == '__main__':
    main()
