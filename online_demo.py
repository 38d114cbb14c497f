"""Online TSM on a video file or a camera: one frame at a time, per-frame top-k smoothed over a few frames.

    python online_demo.py clip.mp4 --ckpt tsm_online.ckpt --class_names category.txt --device_target CPU
    python online_demo.py 0 --ckpt tsm_online.ckpt ...            # camera index 0
    python online_demo.py clip.mp4 --model tsm_online_mobilenetv2 --ckpt mnv2_online.ckpt --device_target CPU
    python online_demo.py clip.mp4 --smooth 8 --top_k 5 --max_frames 100 ...   # the demo's own keys (see the end)

Each frame is resized (short side scale_size), centre-cropped (crop_size) and fed with the shift caches of the
previous frame; the model never waits for future frames. Needs an online-TSM checkpoint (any config key may follow).
The network: `--model`, a registered online model (`python -m src.models`) with its classes taken from `--ckpt`
when given; without it, the config's `tsm_online` network (backbone, depth, num_classes, shift_div keys).
"""
import collections
import logging
import sys
import time
from dataclasses import dataclass

import cv2
import numpy as np

import mindspore as ms

from src.checkpoint import infer_num_classes, load_checkpoint, read_params
from src.config import NON_NEGATIVE, POSITIVE_INT, get_config, model_kwargs, option
from src.data import EvalTransform, class_names_or_numbers
from src.data.transforms import normalize
from src.errors import run_entry
from src.models import MODELS, create_streaming_model, get_spec
from src.runtime import apply_runtime_defaults, init_context


@dataclass
class OnlineOptions:
    """online_demo.py's own keys (besides the config's)."""
    video: str = option('', 'a video file, or a camera index (0, 1, ...)', positional=True)
    smooth: int = option(4, "the last frames whose probabilities are averaged", range=POSITIVE_INT)
    top_k: int = option(3, 'classes printed per frame', range=POSITIVE_INT)
    max_frames: int = option(0, 'stop after this many frames (0: all)', range=NON_NEGATIVE)
    model: str = option('', "a registered online model (its classes from --ckpt when given); '': the config's "
                        "tsm_online network", ('',) + tuple(name for name, spec in MODELS.items()
                                                             if spec.arch == 'tsm_online'))


def build_network(model, config):
    """(streaming network, number of classes): the registered `model` with the classes of config.ckpt (else its
    registered ones), or without a model the config's tsm_online network."""
    if model is None:
        return create_streaming_model('tsm_online', **model_kwargs(config)), config.num_classes
    stored = infer_num_classes(read_params(config.ckpt), config.ckpt) if config.ckpt else None
    num_classes = stored or get_spec(model).num_classes
    return create_streaming_model(model, num_classes=num_classes), num_classes


def frames_of(source):
    """BGR frames of a video file or a camera index, in order; a clear error when nothing can be read."""
    capture = cv2.VideoCapture(int(source) if source.isdigit() else source)
    if not capture.isOpened():
        raise SystemExit(f"{source}: cannot open video or camera")
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield frame
    finally:
        capture.release()


def run(net, frames, transform, names, smooth, top_k, max_frames):
    """Stream the frames; print smoothed top-k and latency per frame; return (predicted class per frame, ms)."""
    caches, recent, predictions, latencies = None, collections.deque(maxlen=smooth), [], []
    for index, frame in enumerate(frames):
        if max_frames and index >= max_frames:
            break
        clip = transform([frame])  # [1, 3, crop, crop] uint8 RGB
        if caches is None:
            caches = net.initial_caches(1, *clip.shape[-2:])
        start = time.perf_counter()
        logits, *caches = net(ms.Tensor(normalize(clip)), *caches)
        logits = logits.asnumpy()[0]
        latencies.append(1000 * (time.perf_counter() - start))
        probs = np.exp(logits - logits.max())
        recent.append(probs / probs.sum())
        mean = np.mean(recent, axis=0)
        best = np.argsort(-mean)[:top_k]
        predictions.append(int(best[0]))
        print(f"frame {index:5d} {latencies[-1]:7.1f} ms  " + "  ".join(f"{mean[k]:5.1%} {names[k]}" for k in best))
    if not latencies:
        raise SystemExit('no frame could be read')
    return predictions, latencies


def main(argv):
    apply_runtime_defaults()  # first: before any MindSpore operation, whatever the import order
    config, args = get_config(argv, description=__doc__, options=OnlineOptions)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')
    init_context(config.device_target, config.mode)
    net, num_classes = build_network(args.model or None, config)
    if config.ckpt:
        load_checkpoint(net, config.ckpt)
    else:
        logging.warning('no --ckpt: the network is freshly initialised and its predictions mean nothing')
    net.set_train(False)
    names = class_names_or_numbers(config.class_names, num_classes)
    transform = EvalTransform(config.crop_size, config.scale_size)
    _, latencies = run(net, frames_of(args.video), transform, names, args.smooth, args.top_k, args.max_frames)
    steady = latencies[1:] or latencies  # the first frame includes graph compilation
    print(f"{len(latencies)} frames, median latency {np.median(steady):.1f} ms a frame (first frame "
          f"{latencies[0]:.0f} ms, compilation included)")


if __name__ == '__main__':
    run_entry(main, sys.argv[1:])
