"""Convert export.py's ONNX file into a MindIR that MindSpore Lite's CPU runtime reads (the CPU verification path).

    .venv-lite/bin/python ascend310_infer/tools/convert_onnx_to_lite.py tsm.onnx tsm_lite    # -> tsm_lite.mindir

Runs under MindSpore Lite's own Python (scripts/setup_lite_cpu.sh: Python 3.7, mindspore-lite 2.0.0), which cannot
read a MindIR written by MindSpore 2.10 (MindIR version 3); ONNX is the common ground. Prints the written file.
"""
import argparse
import os
import sys


def convert(onnx_path, output_stem):
    """ONNX -> `<output_stem>.mindir` for the Lite runtime (general graph optimisation, for CPU/GPU); returns it."""
    import mindspore_lite as mslite

    if not os.path.isfile(onnx_path):
        raise FileNotFoundError("ONNX model not found: {}".format(onnx_path))
    converter = mslite.Converter()
    converter.save_type = mslite.ModelType.MINDIR
    converter.optimize = "general"
    converter.convert(mslite.FmkType.ONNX, onnx_path, output_stem)
    path = output_stem + ".mindir"
    if not os.path.isfile(path):
        raise RuntimeError("the MindSpore Lite converter wrote no {} from {}".format(path, onnx_path))
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("onnx", help="the ONNX file of export.py --file_format ONNX")
    parser.add_argument("output_stem", help="output path without extension (.mindir is added)")
    args = parser.parse_args()
    try:
        print(convert(args.onnx, args.output_stem))
    except (OSError, RuntimeError) as err:
        sys.exit("convert_onnx_to_lite.py: {}".format(err))


if __name__ == "__main__":
    main()
