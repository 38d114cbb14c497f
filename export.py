"""Export a trained or converted TSM checkpoint to MINDIR (default), AIR (Ascend only) or ONNX.

    python export.py --ckpt tsm_r50_sthv2.ckpt --device_target CPU [--file_format MINDIR --batch_size 1]

The graph takes `(batch_size, num_segments*3, crop_size, crop_size)` float32 clips normalised as in eval.py and
returns `(batch_size, num_classes)` logits.
"""
import logging
import os

import numpy as np

import src  # noqa: F401  (runtime defaults before MindSpore starts)
import mindspore as ms

from src.checkpoint import load_checkpoint
from src.config import get_config
from src.models import create_model
from src.runtime import init_context

EXTENSIONS = {'MINDIR': '.mindir', 'AIR': '.air', 'ONNX': '.onnx'}


def export_network(net, path_stem, file_format, batch_size, num_segments, crop_size):
    """Export `net` in inference mode; return the written file."""
    if file_format == 'AIR' and ms.get_context('device_target') != 'Ascend':
        raise ValueError("AIR export needs an Ascend backend (--device_target Ascend); use MINDIR or ONNX here")
    net.set_train(False)
    example = ms.Tensor(np.zeros((batch_size, num_segments * 3, crop_size, crop_size), np.float32))
    ms.export(net, example, file_name=path_stem, file_format=file_format)
    return path_stem + EXTENSIONS[file_format]


def main():
    config = get_config()
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')
    if not config.ckpt:
        raise SystemExit('export.py: --ckpt is required (a Hub .ckpt, a converted .pth, or ours)')
    init_context(config.device_target, config.mode)
    net = create_model(config.arch, depth=config.depth, num_classes=config.num_classes,
                       num_segments=config.num_segments, shift_div=config.shift_div,
                       shift_place=config.shift_place, dropout=config.dropout)
    load_checkpoint(net, config.ckpt)
    os.makedirs(config.output_dir, exist_ok=True)
    path = export_network(net, os.path.join(config.output_dir, config.file_name), config.file_format,
                          config.batch_size, config.num_segments, config.crop_size)
    logging.info('exported %s', path)


if __name__ == '__main__':
    main()
