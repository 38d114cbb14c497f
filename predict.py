"""Classify one video file or frame folder: T segment-centre frames, short side scale_size, centre crop, top-5.

    python predict.py clip.webm --ckpt tsm_r50_sthv2.ckpt --class_names category.txt --device_target CPU

Without --ckpt the network is freshly initialised (a smoke test of the whole path: its predictions mean nothing).
"""
import logging
import os
import sys
from dataclasses import dataclass

import numpy as np

import mindspore as ms

from src.checkpoint import load_checkpoint
from src.config import get_config, model_kwargs, network_settings, option
from src.data import (EvalTransform, VideoRecord, class_names_or_numbers, count_frame_files, count_video_frames,
                      create_reader, sample_clip_indices)
from src.data.transforms import normalize
from src.errors import run_entry
from src.models import create_model
from src.models.fold_bn import fold_batchnorm
from src.runtime import apply_runtime_defaults, init_context


def load_clip(path, config):
    """(1, T*3, crop, crop) float32 clip of the video or frame folder at `path`."""
    root, name = os.path.split(os.path.abspath(path))
    if os.path.isdir(path):
        reader = create_reader('frames', root, config.frame_template)
        num_frames = count_frame_files(path, config.frame_template)
    else:
        reader, num_frames = create_reader('video', root), count_video_frames(path)
    indices = sample_clip_indices(num_frames, config.num_segments)
    frames = reader.read(VideoRecord(name, num_frames, 0), indices.reshape(-1))
    return normalize(EvalTransform(config.crop_size, config.scale_size)(frames)), num_frames


@dataclass
class PredictOptions:
    """predict.py's own keys (besides the config's)."""
    video: str = option('', 'the video file or frame folder to classify', positional=True)


def main(argv):
    apply_runtime_defaults()  # first: before any MindSpore operation, whatever the import order
    config, options = get_config(argv, description=__doc__, options=PredictOptions)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')
    init_context(config.device_target, config.mode)
    net = create_model(config.arch, **model_kwargs(config))
    if config.ckpt:
        load_checkpoint(net, config.ckpt, settings=network_settings(config))
    else:
        logging.warning('no --ckpt: the network is freshly initialised and its predictions mean nothing')
    fold_batchnorm(net)  # exact inference with fewer kernels (src/models/fold_bn.py); leaves eval mode on
    names = class_names_or_numbers(config.class_names, config.num_classes)
    clip, num_frames = load_clip(options.video, config)
    logits = net(ms.Tensor(clip)).asnumpy()[0]
    probs = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    print(f"{options.video}: {num_frames} frames, {config.num_segments} sampled")
    for k in np.argsort(-logits)[:5]:
        print(f"  {probs[k]:6.1%}  {k:4d}  {names[k]}")


if __name__ == '__main__':
    run_entry(main, sys.argv[1:])
