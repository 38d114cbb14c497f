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

from src.checkpoint import load_checkpoint
from src.config import get_config, model_kwargs
from src.models import create_model
from src.models.resnet import ZeroPadMaxPool
from src.models.tin import TemporalInterlace
from src.runtime import init_context

EXTENSIONS = {'MINDIR': '.mindir', 'AIR': '.air', 'ONNX': '.onnx'}
INPUT_DTYPES = {'float32': np.float32, 'uint8': np.uint8}


def check_onnx_exportable(net):
    """Refuse what MindSpore 2.10's ONNX exporter gets wrong: TIN's Conv1d, the fused padded stem pool."""
    if any(isinstance(cell, TemporalInterlace) for _, cell in net.cells_and_names()):
        raise ValueError("ONNX export of TIN is not supported: MindSpore 2.10's exporter writes its Conv1d as an "
                         "invalid Squeeze that ONNX runtimes reject; export TIN as MINDIR (or AIR on Ascend)")
    if not isinstance(net.base_model.maxpool, ZeroPadMaxPool):
        raise ValueError("ONNX export needs the network built with create_model(..., onnx_stem=True)")


def export_network(net, path_stem, file_format, batch_size, num_segments, crop_size, input_dtype='float32'):
    """Export `net` in inference mode for `input_dtype` clips; return the written file."""
    if file_format == 'AIR' and ms.get_context('device_target') != 'Ascend':
        raise ValueError("AIR export needs an Ascend backend (--device_target Ascend); use MINDIR or ONNX here")
    if input_dtype not in INPUT_DTYPES:
        raise ValueError(f"input_dtype must be one of {sorted(INPUT_DTYPES)}, got {input_dtype!r}")
    if file_format == 'ONNX':
        check_onnx_exportable(net)
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
    net = create_model(config.arch, **model_kwargs(config), onnx_stem=config.file_format == 'ONNX')
    load_checkpoint(net, config.ckpt)
    os.makedirs(config.output_dir, exist_ok=True)
    path = export_network(net, os.path.join(config.output_dir, config.file_name), config.file_format,
                          config.batch_size, config.num_segments, config.crop_size, config.input_dtype)
    logging.info('exported %s: input (%d, %d, %d, %d) %s', path, config.batch_size, 3 * config.num_segments,
                 config.crop_size, config.crop_size, config.input_dtype)


if __name__ == '__main__':
    main()
