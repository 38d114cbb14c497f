"""Export a trained or converted TSM checkpoint to MINDIR (default), AIR (Ascend only) or ONNX.

    python export.py --ckpt tsm_r50_sthv2.ckpt --device_target CPU [--file_format MINDIR]
    python export.py --ckpt tsm_r50_sthv2.ckpt --device_target CPU --input_dtype uint8    # raw-pixel input

The graph takes `(batch_size, num_segments*3, crop_size, crop_size)` clips and returns `(batch_size, num_classes)`
logits. `--input_dtype float32` (default): clips normalised as in eval.py (`src.data.transforms.normalize`);
`uint8`: RGB pixels 0..255, normalised inside the graph by the same arithmetic - offline inputs 4x smaller.

The batch is 1 (what the C++ application and deployment take) unless `--batch_size` is given on the command line:
a `batch_size` in the `--config_path` file is the training batch and is not used here. `DEVICE_ID` (environment)
selects the device. The file is written under a temporary name in the output folder and renamed over the final
name only once complete, so a failed export leaves an earlier file of that name as it was.
"""
import logging
import os
import shutil
import sys
import uuid

import numpy as np

import mindspore as ms

from src.checkpoint import load_checkpoint
from src.config import get_config, model_kwargs, network_settings, parse_cli
from src.errors import run_entry
from src.models import create_model
from src.models.fold_bn import fold_batchnorm
from src.models.resnet import ZeroPadMaxPool
from src.models.tin import TemporalInterlace
from src.runtime import apply_runtime_defaults, init_context

EXTENSIONS = {'MINDIR': '.mindir', 'AIR': '.air', 'ONNX': '.onnx'}
INPUT_DTYPES = {'float32': np.float32, 'uint8': np.uint8}
DEPLOYMENT_BATCH_SIZE = 1


def export_batch_size(argv=None):
    """`--batch_size` when given on the command line, else DEPLOYMENT_BATCH_SIZE (a config file's is for training)."""
    _, overrides = parse_cli(sys.argv[1:] if argv is None else argv)
    return overrides.get('batch_size', DEPLOYMENT_BATCH_SIZE)


def device_id_from_env(environ=os.environ):
    """DEVICE_ID as an int, None when unset or empty; anything but a non-negative integer is refused."""
    value = environ.get('DEVICE_ID', '')
    if value == '':
        return None
    if not value.isdigit():
        raise ValueError(f"DEVICE_ID must be a non-negative integer, got {value!r}")
    return int(value)


def check_sizes(batch_size, num_segments, crop_size):
    """Refuse sizes a runtime cannot take (a zero dimension exports, then kills the C++ runtime with SIGFPE)."""
    for name, value in (('batch_size', batch_size), ('num_segments', num_segments), ('crop_size', crop_size)):
        if type(value) is not int or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def check_onnx_exportable(net):
    """Refuse what MindSpore 2.10's ONNX exporter gets wrong: TIN's Conv1d, the fused padded stem pool."""
    if any(isinstance(cell, TemporalInterlace) for _, cell in net.cells_and_names()):
        raise ValueError("ONNX export of TIN is not supported: MindSpore 2.10's exporter writes its Conv1d as an "
                         "invalid Squeeze that ONNX runtimes reject; export TIN as MINDIR (or AIR on Ascend)")
    stem_pool = getattr(net.base_model, 'maxpool', None)  # ResNet's; MobileNetV2 has none
    if stem_pool is not None and not isinstance(stem_pool, ZeroPadMaxPool):
        raise ValueError("ONNX export needs the network built with create_model(..., onnx_stem=True)")


def export_network(net, path_stem, file_format, batch_size, num_segments, crop_size, input_dtype='float32'):
    """Export `net` in inference mode for `input_dtype` clips to `path_stem` + extension, atomically; return the path.

    MindSpore writes a temporary file next to the final one, which replaces the final name only when complete
    (os.replace, same folder): on any failure (a full disk, an interrupted run) an existing file stays untouched
    and the temporary file is removed.
    """
    if file_format not in EXTENSIONS:
        raise ValueError(f"file_format must be one of {sorted(EXTENSIONS)}, got {file_format!r}")
    if file_format == 'AIR' and ms.get_context('device_target') != 'Ascend':
        raise ValueError("AIR export needs an Ascend backend (--device_target Ascend); use MINDIR or ONNX here")
    if input_dtype not in INPUT_DTYPES:
        raise ValueError(f"input_dtype must be one of {sorted(INPUT_DTYPES)}, got {input_dtype!r}")
    check_sizes(batch_size, num_segments, crop_size)
    if file_format == 'ONNX':
        check_onnx_exportable(net)
    net.set_train(False)
    shape = (batch_size, num_segments * 3, crop_size, crop_size)
    folder, name = os.path.split(path_stem)
    final = path_stem + EXTENSIONS[file_format]
    temporary_stem = os.path.join(folder, f'.{name}.{uuid.uuid4().hex[:12]}.partial')
    temporary = temporary_stem + EXTENSIONS[file_format]
    try:
        ms.export(net, ms.Tensor(np.zeros(shape, INPUT_DTYPES[input_dtype])), file_name=temporary_stem,
                  file_format=file_format)
        if not os.path.isfile(temporary):  # MindSpore splits a MINDIR over 1 GB into _graph.mindir + _variables/
            raise RuntimeError(f"MindSpore did not write {temporary} as one file (a model over 1 GB is split into a "
                               f"graph and a folder of weights); export.py writes single-file models only")
        os.replace(temporary, final)
    except BaseException:
        for leftover in (temporary, temporary_stem + '_graph.mindir'):
            if os.path.lexists(leftover):
                os.remove(leftover)
        if os.path.isdir(temporary_stem + '_variables'):
            shutil.rmtree(temporary_stem + '_variables')
        raise
    return final


def main(argv=None):
    apply_runtime_defaults()  # first: before any MindSpore operation, whatever the import order
    argv = sys.argv[1:] if argv is None else argv
    config = get_config(argv, description=__doc__)
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')
    if not config.ckpt:
        raise SystemExit('export.py: --ckpt is required (a Hub .ckpt, a converted .pth, or ours)')
    batch_size = export_batch_size(argv)
    try:
        check_sizes(batch_size, config.num_segments, config.crop_size)
        device_id = device_id_from_env()
    except ValueError as err:
        raise SystemExit(f'export.py: {err}') from None
    init_context(config.device_target, config.mode, device_id)
    net = create_model(config.arch, **model_kwargs(config), onnx_stem=config.file_format == 'ONNX')
    load_checkpoint(net, config.ckpt, settings=network_settings(config))
    logging.info('folded %d BatchNorm layers into their convolutions', fold_batchnorm(net))
    os.makedirs(config.output_dir, exist_ok=True)
    path = export_network(net, os.path.join(config.output_dir, config.file_name), config.file_format,
                          batch_size, config.num_segments, config.crop_size, config.input_dtype)
    logging.info('exported %s: input (%d, %d, %d, %d) %s%s', path, batch_size, 3 * config.num_segments,
                 config.crop_size, config.crop_size, config.input_dtype,
                 '' if device_id is None else f', DEVICE_ID {device_id}')
    return path


if __name__ == '__main__':
    run_entry(main)
