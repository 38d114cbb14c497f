"""Export a trained or converted TSM checkpoint to MINDIR (default), AIR (Ascend only) or ONNX.

    python export.py --ckpt tsm_r50_sthv2.ckpt --device_target CPU [--file_format MINDIR --batch_size 1]
    python export.py --ckpt tsm_r50_sthv2.ckpt --device_target CPU --input_dtype uint8    # raw-pixel input

The graph takes `(batch_size, num_segments*3, crop_size, crop_size)` clips and returns `(batch_size, num_classes)`
logits. `--input_dtype float32` (default): clips normalised as in eval.py (`src.data.transforms.normalize`);
`uint8`: RGB pixels 0..255, normalised inside the graph by the same arithmetic - offline inputs 4x smaller.
"""
import logging
import os

import numpy as np

import src  # noqa: F401  (runtime defaults before MindSpore starts)
import mindspore as ms
from mindspore import nn

from src.checkpoint import load_checkpoint
from src.config import get_config
from src.models import create_model
from src.models.tin import TemporalInterlace
from src.runtime import init_context

EXTENSIONS = {'MINDIR': '.mindir', 'AIR': '.air', 'ONNX': '.onnx'}
INPUT_DTYPES = {'float32': np.float32, 'uint8': np.uint8}


class ZeroPadMaxPool(nn.Cell):
    """3x3/2 max-pool with symmetric padding 1, built from ops that MindSpore's ONNX exporter translates correctly.

    MindSpore 2.10 cannot export `nn.MaxPool2d(pad_mode='pad')` (MaxPool3DWithArgmax) to ONNX, and writes
    `MaxPool3D`'s explicit pads as SAME_UPPER (asymmetric: wrong results). The stem pool reads a ReLU output (>= 0),
    so padding with zeros gives exactly the -inf-padded maximum. Not the network's own pool: on MindSpore's CPU
    backend the separate Pad costs ~3x the fused pool.
    """

    def __init__(self, kernel_size=3, stride=2, padding=1):
        super().__init__()
        self.pad = nn.Pad(((0, 0), (0, 0), (padding, padding), (padding, padding)))
        self.pool = nn.MaxPool2d(kernel_size, stride, pad_mode='valid')

    def construct(self, x):
        return self.pool(self.pad(x))


def prepare_for_onnx(net):
    """Give `net` the ONNX-exportable stem pool; refuse the ops MindSpore's ONNX exporter gets wrong."""
    if any(isinstance(cell, TemporalInterlace) for _, cell in net.cells_and_names()):
        raise ValueError("ONNX export of TIN is not supported: MindSpore 2.10's exporter writes its Conv1d as an "
                         "invalid Squeeze that ONNX runtimes reject; export TIN as MINDIR (or AIR on Ascend)")
    net.base_model.maxpool = ZeroPadMaxPool()
    return net


def export_network(net, path_stem, file_format, batch_size, num_segments, crop_size, input_dtype='float32'):
    """Export `net` in inference mode for `input_dtype` clips; return the written file."""
    if file_format == 'AIR' and ms.get_context('device_target') != 'Ascend':
        raise ValueError("AIR export needs an Ascend backend (--device_target Ascend); use MINDIR or ONNX here")
    if input_dtype not in INPUT_DTYPES:
        raise ValueError(f"input_dtype must be one of {sorted(INPUT_DTYPES)}, got {input_dtype!r}")
    if file_format == 'ONNX':
        net = prepare_for_onnx(net)
    net.set_train(False)
    shape = (batch_size, num_segments * 3, crop_size, crop_size)
    ms.export(net, ms.Tensor(np.zeros(shape, INPUT_DTYPES[input_dtype])), file_name=path_stem,
              file_format=file_format)
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
                          config.batch_size, config.num_segments, config.crop_size, config.input_dtype)
    logging.info('exported %s: input (%d, %d, %d, %d) %s', path, config.batch_size, 3 * config.num_segments,
                 config.crop_size, config.crop_size, config.input_dtype)


if __name__ == '__main__':
    main()
