"""Write the synthetic demo dataset (SSv2 frame layout; classes differ only in temporal order).

    python tools/make_demo_dataset.py --out demo_data
    python train.py --data_root demo_data/frames --train_list demo_data/train_videofolder.txt ...

See src/data/demo.py for what the videos show and why a per-frame model cannot tell the classes of a pair apart.
"""
import argparse
import os
import sys

# the checkout's src/ for `python tools/make_demo_dataset.py` from anywhere (an entry script's only path change)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from src.data.demo import DEFAULT_MOTIONS, MOTIONS, make_demo_dataset  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="demo_data", help="output folder")
    parser.add_argument("--train_per_class", type=int, default=32, help="training videos per class")
    parser.add_argument("--val_per_class", type=int, default=8, help="validation videos per class")
    parser.add_argument("--num_frames", type=int, default=16, help="frames per video")
    parser.add_argument("--height", type=int, default=96, help="frame height")
    parser.add_argument("--width", type=int, default=128, help="frame width")
    parser.add_argument("--motions", nargs="+", default=list(DEFAULT_MOTIONS), choices=list(MOTIONS),
                        help="class pairs to include (2 classes each)")
    parser.add_argument("--seed", type=int, default=0, help="the output depends only on the arguments")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    paths = make_demo_dataset(args.out, (args.train_per_class, args.val_per_class), args.num_frames, args.height,
                              args.width, tuple(args.motions), args.seed)
    num_classes = 2 * len(args.motions)
    print(f"{num_classes} classes, {args.train_per_class * num_classes} train / {args.val_per_class * num_classes} "
          f"val videos: {paths['train']}, {paths['val']}, {paths['category']}, frames in {args.out}/frames")


if __name__ == "__main__":
    main()
