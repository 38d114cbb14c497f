"""Synthetic demo dataset whose classes differ only in temporal order, in the SSv2 frame layout.

Classes come in pairs: a video of the second class is a video of the first one played backwards (left -> right
vs right -> left, approaching vs receding, appearing vs disappearing; optionally clockwise vs counter-clockwise). Object
shape, colour, size, position, background, speed and noise are drawn per video from the same distribution for
both classes of a pair, so within a pair every frame, and the set of frames as a bag, is equally likely under
either class: a per-frame model (TSN) is at chance within each pair (at best 1 / 2 overall, knowing only the pair;
exactly chance with one pair), while a temporal model can reach 100 %.

Layout (as the SSv2 tools make): `<root>/frames/<id>/000001.jpg ...`, `train_videofolder.txt`,
`val_videofolder.txt` (`<id> <num_frames> <label>`), `category.txt` (one class name a line).
"""
import os

import cv2
import numpy as np

MOTIONS = {  # motion -> (forward class, backward class)
    "move": ("moving something from left to right", "moving something from right to left"),
    "turn": ("turning something clockwise", "turning something counter-clockwise"),
    "zoom": ("something approaching the camera", "something moving away from the camera"),
    "fade": ("something appearing", "something disappearing"),
}
# The default set: a ResNet-18 learns each of these from scratch in minutes on CPU; `turn` (the direction of a small
# rotation) needs far longer and is there to make the task harder on purpose.
DEFAULT_MOTIONS = ("move", "zoom", "fade")


def random_background(rng, colour, height, width):
    """`colour` with a faint smooth random texture, (H, W, 3) float32."""
    coarse = rng.uniform(-10, 10, size=(4, 4, 3)).astype(np.float32)
    texture = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(colour + texture, 0, 255)


def random_polygon(rng):
    """An irregular star-shaped polygon (no rotational symmetry), unit radius, vertices (k, 2)."""
    k = int(rng.integers(4, 8))
    angles = (np.arange(k) + rng.uniform(-0.3, 0.3, k)) * (2 * np.pi / k)  # spread out: no slivers
    radii = rng.uniform(0.6, 1.0, k)
    return np.stack([np.cos(angles) * radii, np.sin(angles) * radii], axis=1)


def motion_state(motion, u, params):
    """Object (x, y, radius, angle, opacity) at progress u in [0, 1] of the forward motion."""
    x, y, radius, angle, opacity = params["x"], params["y"], params["radius"], params["angle"], 1.0
    if motion == "move":
        x += (u - 0.5) * params["travel"]
    elif motion == "turn":
        angle += u * params["turn"]  # image y points down, so a growing angle turns clockwise on screen
    elif motion == "zoom":
        radius *= params["zoom"] ** (u - 0.5)
    else:  # fade
        opacity = u
    return x, y, radius, angle, opacity


def video_params(rng, height, width):
    """Per-video randomness, drawn the same way for every class.

    A bright object on a dark background, large and moving far: a ResNet trained from scratch on CPU for a few
    minutes learns the direction of such changes (with random contrast polarity and small motions it does not).
    """
    short = min(height, width)
    return {"x": width / 2 + rng.uniform(-0.05, 0.05) * width, "y": height / 2 + rng.uniform(-0.1, 0.1) * height,
            "radius": rng.uniform(0.25, 0.35) * short, "angle": rng.uniform(0, 2 * np.pi),
            "travel": rng.uniform(0.7, 0.9) * width, "turn": rng.uniform(0.5, 1.0) * np.pi,
            "zoom": rng.uniform(2.0, 3.0), "start": rng.uniform(0, 0.1), "end": rng.uniform(0.9, 1.0),
            "polygon": random_polygon(rng), "background": rng.uniform(0, 60, size=3).astype(np.float32),
            "colour": rng.uniform(180, 255, size=3).astype(np.float32)}


def render_frame(background, params, state, rng):
    """Draw the object (anti-aliased polygon) over the background, with light pixel noise; uint8 RGB."""
    x, y, radius, angle, opacity = state
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = params["polygon"] @ rotation.T * radius + (x, y)
    mask = np.zeros(background.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(points * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    alpha = mask[..., None].astype(np.float32) * (opacity / 255)
    frame = background * (1 - alpha) + params["colour"] * alpha + rng.normal(0, 4, background.shape)
    return np.clip(frame, 0, 255).astype(np.uint8)


def render_video(rng, motion, backward, num_frames, height, width):
    """Frames (num_frames, H, W, 3) uint8 RGB of one video; `backward` plays the forward video in reverse."""
    params = video_params(rng, height, width)
    background = random_background(rng, params["background"], height, width)
    times = np.linspace(0, 1, num_frames)
    progress = np.clip((times - params["start"]) / (params["end"] - params["start"]), 0, 1)
    frames = np.stack([render_frame(background, params, motion_state(motion, u, params), rng) for u in progress])
    return frames[::-1] if backward else frames


def write_frames(folder, frames, template="{:06d}.jpg", quality=90):
    """Write frames as JPEGs numbered from 1."""
    os.makedirs(folder, exist_ok=True)
    for i, frame in enumerate(frames, 1):
        path = os.path.join(folder, template.format(i))
        if not cv2.imwrite(path, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]):
            raise OSError(f"cannot write {path}")


def make_demo_dataset(root, videos_per_class=(32, 8), num_frames=16, height=96, width=128,
                      motions=DEFAULT_MOTIONS, seed=0):
    """Write the demo dataset under `root`; `videos_per_class` = (train, val). Returns the list file paths.

    Video `i` (ids 1.., train first) has label `(i - 1) % num_classes` and is drawn from `rng(seed, i)`, so the
    output depends only on the arguments.
    """
    classes = [name for motion in motions for name in MOTIONS[motion]]
    os.makedirs(root, exist_ok=True)
    paths = {"category": os.path.join(root, "category.txt")}
    with open(paths["category"], "w", encoding="utf-8") as f:
        f.write("".join(name + "\n" for name in classes))
    video_id = 0
    for split, count in zip(("train", "val"), videos_per_class):
        lines = []
        for _ in range(count * len(classes)):
            video_id += 1
            label = (video_id - 1) % len(classes)
            rng = np.random.default_rng((seed, video_id))
            frames = render_video(rng, motions[label // 2], label % 2 == 1, num_frames, height, width)
            write_frames(os.path.join(root, "frames", str(video_id)), frames)
            lines.append(f"{video_id} {num_frames} {label}\n")
        paths[split] = os.path.join(root, f"{split}_videofolder.txt")
        with open(paths[split], "w", encoding="utf-8") as f:
            f.write("".join(lines))
    return paths
