"""Convert a PyTorch TSM/TSN or torchvision ResNet/MobileNetV2 `.pth` (or a MindSpore `.ckpt`) to a strictly
loadable `.ckpt` for a registered model (`python -m src.models` lists them), whose defaults the options override.

    python tools/convert_checkpoint.py --src TSM_somethingv2_RGB_resnet50_shift8_blockres_avg_segment8_e45.pth \\
        --dst tsm_r50_sthv2.ckpt --model tsm_r50
    python tools/convert_checkpoint.py --src TSM_kinetics_RGB_mobilenetv2_shift8_blockres_avg_segment8_e100_dense.pth \\
        --dst tsm_mobilenetv2_kinetics.ckpt --model tsm_mobilenetv2
    python tools/convert_checkpoint.py --src resnet50-0676ba61.pth --dst resnet50_imagenet.ckpt --init_only
    python tools/convert_checkpoint.py --src mobilenet_v2-b0353104.pth --dst mobilenetv2_imagenet.ckpt \\
        --model tsm_mobilenetv2 --init_only

The result is verified by loading it strictly into a freshly built network; any problem exits non-zero.
"""
import argparse
import logging
import os
import sys

# the checkout's src/ for `python tools/convert_checkpoint.py` from anywhere (an entry script's only path change)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from src.checkpoint import (CheckpointError, convert_params, detect_layout, infer_num_classes,  # noqa: E402
                            load_checkpoint, network_shapes, read_params, save_params)
from src.models import ARCHS, BACKBONES, MODELS, create_model, get_spec  # noqa: E402
from src.models.registry import DEFAULT_MODEL, network_kwargs  # noqa: E402
from src.runtime import apply_runtime_defaults  # noqa: E402

OVERRIDES = ("arch", "backbone", "depth", "num_segments", "shift_div")  # given: override the model's defaults


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", required=True, help="input .pth (torch zip) or .ckpt")
    parser.add_argument("--dst", required=True, help="output MindSpore .ckpt")
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"registered model the weights are for, of "
                        f"{', '.join(MODELS)}, or an arch (its ResNet-50 entry)")
    parser.add_argument("--arch", choices=sorted(ARCHS), help="temporal op (default: the model's)")
    parser.add_argument("--backbone", choices=BACKBONES, help="backbone (default: the model's)")
    parser.add_argument("--depth", type=int, choices=(18, 34, 50, 101), help="ResNet depth (default: the model's)")
    parser.add_argument("--num_classes", type=int, default=None,
                        help="classifier outputs (default: the rows of the stored classifier)")
    parser.add_argument("--num_segments", type=int, help="frames per clip (default: the model's)")
    parser.add_argument("--shift_div", type=int, help="1/shift_div of the channels shift (default: the model's)")
    parser.add_argument("--init_only", action=argparse.BooleanOptionalAction, default=False,
                        help="backbone initialisation (e.g. torchvision ImageNet): the classifier is not converted")
    return parser.parse_args(argv)


def resolve_num_classes(args, raw):
    """--num_classes, else the stored classifier's rows; without a classifier only --init_only can go on (with the
    model's number of classes: the classifier is not converted)."""
    if args.num_classes is not None:
        return args.num_classes
    stored = infer_num_classes(raw, args.src)
    if stored is not None:
        return stored
    if args.init_only:
        return get_spec(args.model).num_classes
    raise CheckpointError(f"{args.src} holds no classifier (new_fc): pass --init_only to convert the backbone, "
                          f"or --num_classes")


def network_name(kwargs):
    """`tsm-R50`, `tsm_online-MobileNetV2`: what the weights were verified against."""
    backbone = f"R{kwargs['depth']}" if kwargs["backbone"] == "resnet" else "MobileNetV2"
    return f"{kwargs['arch']}-{backbone}"


def check_destination(source, dst):
    """Refuse a --dst whose folder is missing or that is --src itself (a training checkpoint would be replaced by
    its weights only)."""
    folder = os.path.dirname(os.path.abspath(dst))
    if not os.path.isdir(folder):
        raise CheckpointError(f"--dst {dst}: the folder {folder} does not exist")
    if os.path.exists(dst) and os.path.exists(source) and os.path.samefile(source, dst):
        raise CheckpointError(f"--dst {dst} is the --src file: write the converted weights to a new file")


def staging_name(dst):
    """Where the output is written and verified before it replaces `dst` (a hidden `.ckpt` next to it)."""
    folder, base = os.path.split(os.path.abspath(dst))
    return os.path.join(folder, f".{base}.converting.ckpt")


def convert(args):
    """Read, map, check, write and verify; return a one-line summary."""
    check_destination(args.src, args.dst)
    raw = read_params(args.src)
    num_classes = resolve_num_classes(args, raw)
    overrides = {key: getattr(args, key) for key in OVERRIDES if getattr(args, key) is not None}
    kwargs = network_kwargs(args.model, num_classes=num_classes, **overrides)
    net = create_model(args.model, num_classes=num_classes, **overrides)
    params = convert_params(raw, network_shapes(net), init_only=args.init_only, source=args.src)
    staged = save_params(params, staging_name(args.dst))  # an existing --dst stays as it is until verified
    fresh = create_model(args.model, num_classes=num_classes, **overrides)
    try:
        left = load_checkpoint(fresh, staged, init_only=args.init_only)
        os.replace(staged, args.dst)
    finally:
        if os.path.exists(staged):
            os.remove(staged)  # never leave an unverified output behind
    kept = f", classifier not converted ({', '.join(left)})" if left else ""
    return (f"wrote {args.dst}: {len(params)} parameters from {args.src} ({detect_layout(list(raw))} layout), "
            f"verified by a strict load into {network_name(kwargs)} with {num_classes} classes{kept}")


def main(argv=None):
    apply_runtime_defaults()  # first: before any MindSpore operation, whatever the import order
    args = parse_args(argv)
    try:
        print(convert(args))
    except (CheckpointError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(main())
