"""Decode videos into JPEG frame folders (short side 256 by default), in parallel and resumable.

    python tools/extract_frames.py --videos DATA/videos --frames DATA/frames --workers 8

Every video under --videos becomes `<frames>/<relative path without extension>/000001.jpg ...` (all frames, at the
native frame rate, as the reference's `ffmpeg -vf scale=-1:256`). A video is written to a `.part` folder and
renamed when complete, so an interrupted run resumes where it stopped (finished videos are skipped). A video that
fails has its `.part` folder removed, and one left by a killed run is removed when that video is extracted again.
Failures are reported at the end (and in `<frames>/failed.txt`) without stopping the others; the exit status is 1
if any failed.
"""
import argparse
import os
import shutil
import sys
from multiprocessing import Pool

# the checkout's src/ for `python tools/extract_frames.py` from anywhere (an entry script's only path change)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import cv2  # noqa: E402

from src.data.records import BadSampleError  # noqa: E402
from src.data.sources import VIDEO_EXTENSIONS, open_video  # noqa: E402
from src.data.transforms import resize_short_side  # noqa: E402
from src.files import write_text_atomically  # noqa: E402


def find_videos(root):
    """Paths of the videos under root, relative to it, sorted."""
    return sorted(os.path.relpath(os.path.join(folder, name), root) for folder, _, files in os.walk(root)
                  for name in files if os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS)


def extract_video(video, folder, short_side=256, template="{:06d}.jpg", quality=90):
    """Write every frame of `video` into `folder` (via `folder.part`); return the frame count."""
    part = folder + ".part"
    shutil.rmtree(part, ignore_errors=True)  # left over from an interrupted (killed) run
    os.makedirs(part)
    try:
        capture, count = open_video(video), 0
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    break
                count += 1
                frame = resize_short_side(frame, short_side) if short_side else frame
                path = os.path.join(part, template.format(count))
                if not cv2.imwrite(path, frame, [cv2.IMWRITE_JPEG_QUALITY, quality]):
                    raise OSError(f"cannot write {path}")
        finally:
            capture.release()
        if count == 0:
            raise BadSampleError(f"{video}: no decodable frame")
        os.rename(part, folder)
    except BaseException:
        shutil.rmtree(part, ignore_errors=True)  # a failed video leaves nothing behind
        raise
    return count


def extract_job(job):
    """Worker: (video, folder, options) -> (video, frame count or None if skipped, error message or None)."""
    video, folder, options = job
    if os.path.isdir(folder):
        return video, None, None
    try:
        return video, extract_video(video, folder, **options), None
    except (BadSampleError, OSError, cv2.error) as err:
        return video, 0, str(err)


def extract_all(videos_root, frames_root, workers=4, **options):
    """Extract every video under videos_root; return (done, skipped, failures [(video, error)])."""
    jobs = [(os.path.join(videos_root, rel), os.path.join(frames_root, os.path.splitext(rel)[0]), options)
            for rel in find_videos(videos_root)]
    done, skipped, failures = 0, 0, []
    with Pool(workers) as pool:
        for video, count, error in pool.imap_unordered(extract_job, jobs, chunksize=4):
            if error:
                failures.append((video, error))
            elif count is None:
                skipped += 1
            else:
                done += 1
    return done, skipped, sorted(failures)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", required=True, help="root of the videos (searched recursively)")
    parser.add_argument("--frames", required=True, help="output root of the frame folders")
    parser.add_argument("--short_side", type=int, default=256, help="resize the short side to this (0: keep)")
    parser.add_argument("--frame_template", default="{:06d}.jpg", help="frame file names, numbered from 1")
    parser.add_argument("--quality", type=int, default=90, help="JPEG quality")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="parallel videos")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not os.path.isdir(args.videos):
        raise SystemExit(f"extract_frames.py: error: --videos {args.videos}: no such folder")
    os.makedirs(args.frames, exist_ok=True)
    done, skipped, failures = extract_all(args.videos, args.frames, args.workers, short_side=args.short_side,
                                          template=args.frame_template, quality=args.quality)
    print(f"extracted {done} videos, skipped {skipped} already done, {len(failures)} failed")
    write_text_atomically(os.path.join(args.frames, "failed.txt"),
                          "".join(f"{video}\t{error}\n" for video, error in failures))
    for video, error in failures:
        print(f"FAILED {video}: {error}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
