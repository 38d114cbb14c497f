"""Make list files (`<path> <num_frames> <label>`) and a class file from the Something-Something / Kinetics labels.

    python tools/make_lists.py sthv2 --annotations ANN --videos DATA/videos --out DATA   # train on raw .webm
    python tools/make_lists.py sthv2 --annotations ANN --frames DATA/frames --out DATA   # extracted frames
    python tools/make_lists.py sthv1 --annotations ANN --frames DATA/20bn-something-something-v1 \\
        --frame_template {:05d}.jpg --out DATA
    python tools/make_lists.py kinetics --annotations ANN --videos DATA/videos --out DATA

Annotations: sthv2 `something-something-v2-{labels,train,validation}.json`; sthv1
`something-something-v1-{labels,train,validation}.csv`; kinetics `{train,validate}.csv` (label, youtube_id,
time_start, time_end, ...). Videos and frame folders are found anywhere under --videos / --frames by their name
(`<id>`, or `<youtube_id>_<start:06d>_<end:06d>` for Kinetics); frame counts come from the folders (files named by
--frame_template, every number from 1 to the count present) or from decoding each video to its end (container
headers are not trusted). Writes `category.txt` and `{train,val}_videofolder.txt` (frames) or
`{train,val}_videos.txt` (videos); videos missing or unreadable and frame folders with a gap in their numbering are
left out, listed in `missing_<split>.txt` with the reason, and counted and reported at the end.
"""
import argparse
import csv
import json
import logging
import os
import sys
from multiprocessing import Pool

# the checkout's src/ for `python tools/make_lists.py` from anywhere (an entry script's only path change)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from src.data.records import BadSampleError  # noqa: E402
from src.data.sources import VIDEO_EXTENSIONS, count_frame_files, count_video_frames  # noqa: E402
from src.errors import run_entry  # noqa: E402
from src.files import write_text_atomically  # noqa: E402


def sthv2_annotations(folder):
    """(classes, {split: [(video id, label)]}) from the SSv2 json files; templates lose their [brackets]."""
    def load(name):
        with open(os.path.join(folder, f"something-something-v2-{name}.json"), encoding="utf-8") as f:
            return json.load(f)
    label_ids = {name: int(i) for name, i in load("labels").items()}
    classes = sorted(label_ids, key=label_ids.get)
    splits = {split: [(item["id"], label_ids[item["template"].replace("[", "").replace("]", "")])
                      for item in load(name)] for split, name in (("train", "train"), ("val", "validation"))}
    return classes, splits


def sthv1_annotations(folder):
    """(classes, splits) from the SSv1 csv files: classes sorted by name, lines `<id>;<class name>`."""
    def read(name):
        with open(os.path.join(folder, f"something-something-v1-{name}.csv"), encoding="utf-8") as f:
            return [line.rstrip("\n") for line in f if line.strip()]
    classes = sorted(read("labels"))
    label_ids = {name: i for i, name in enumerate(classes)}
    splits = {split: [(line.split(";", 1)[0], label_ids[line.split(";", 1)[1]]) for line in read(name)]
              for split, name in (("train", "train"), ("val", "validation"))}
    return classes, splits


def kinetics_annotations(folder):
    """(classes, splits) from the Kinetics csv files: classes = sorted train labels, clips named by id and time."""
    def read(name):
        with open(os.path.join(folder, name), encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))
    train, val = read("train.csv"), read("validate.csv")
    classes = sorted({row["label"] for row in train})
    label_ids = {name: i for i, name in enumerate(classes)}
    def clips(rows):
        return [(f"{r['youtube_id']}_{int(float(r['time_start'])):06d}_{int(float(r['time_end'])):06d}",
                 label_ids[r["label"]]) for r in rows]
    return classes, {"train": clips(train), "val": clips(val)}


ANNOTATIONS = {"sthv2": sthv2_annotations, "sthv1": sthv1_annotations, "kinetics": kinetics_annotations}


def index_tree(root, videos):
    """{name without extension: path relative to root} of the videos (files) or frame folders (leaf dirs)."""
    index = {}
    for folder, dirs, files in os.walk(root):
        if videos:
            for name in files:
                stem, ext = os.path.splitext(name)
                if ext.lower() in VIDEO_EXTENSIONS:
                    index[stem] = os.path.relpath(os.path.join(folder, name), root)
        elif not dirs and folder != root:
            index[os.path.basename(folder)] = os.path.relpath(folder, root)
    return index


def count_frames(job):
    """Worker: (path, frame template or None for a video) -> (num_frames, None) or (0, error message)."""
    path, template = job
    try:
        return (count_video_frames(path) if template is None else count_frame_files(path, template)), None
    except BadSampleError as err:
        return 0, str(err)


def make_split(videos, index, root, template, workers):
    """(list lines, missing) for [(name, label)]: lines for the videos found and readable."""
    found = [(index[name], label) for name, label in videos if name in index]
    missing = [f"{name}: not found under {root}" for name, label in videos if name not in index]
    with Pool(workers) as pool:
        counts = pool.map(count_frames, [(os.path.join(root, path), template) for path, _ in found], chunksize=64)
    lines = [f"{path} {n} {label}\n" for (path, label), (n, _) in zip(found, counts) if n > 0]
    return lines, missing + [error for _, error in counts if error]


def write_lines(path, lines):
    """Write a list file atomically: an interrupted run never leaves a half-written list behind."""
    write_text_atomically(path, "".join(lines))


def make_lists(dataset, annotations, out, frames=None, videos=None, frame_template="{:06d}.jpg", workers=4):
    """Write the class file and the train/val list files; return {split: missing videos (with the reason)}."""
    classes, splits = ANNOTATIONS[dataset](annotations)
    root = videos or frames
    index = index_tree(root, videos is not None)
    os.makedirs(out, exist_ok=True)
    write_lines(os.path.join(out, "category.txt"), [name + "\n" for name in classes])
    missing = {}
    for split, items in splits.items():
        lines, missing[split] = make_split(items, index, root, None if videos else frame_template, workers)
        name = f"{split}_videos.txt" if videos else f"{split}_videofolder.txt"
        write_lines(os.path.join(out, name), lines)
        write_lines(os.path.join(out, f"missing_{split}.txt"), [m + "\n" for m in missing[split]])
        logging.info("%s: %d videos, %d missing or unreadable", name, len(lines), len(missing[split]))
    return missing


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", choices=sorted(ANNOTATIONS), help="whose annotation files to read")
    parser.add_argument("--annotations", required=True, help="folder with the label/train/validation files")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--videos", help="root of the video files (frame counts by decoding)")
    where.add_argument("--frames", help="root of the extracted frame folders")
    parser.add_argument("--frame_template", default="{:06d}.jpg", help="frame file names, numbered from 1")
    parser.add_argument("--out", required=True, help="output folder for the class and list files")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="parallel frame counting")
    return parser.parse_args(argv)


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_args(argv)
    root = args.videos or args.frames
    if not os.path.isdir(root):
        raise SystemExit(f"make_lists.py: error: --{'videos' if args.videos else 'frames'} {root}: no such folder")
    missing = make_lists(args.dataset, args.annotations, args.out, args.frames, args.videos, args.frame_template,
                         args.workers)
    for split, problems in missing.items():
        for problem in problems[:10]:
            print(f"{split}: {problem}")
        if problems:
            print(f"{split}: {len(problems)} videos left out (all in {args.out}/missing_{split}.txt)")


if __name__ == "__main__":
    run_entry(main)
