"""Procedural synthetic action dataset written as real video files.

Each video shows one object on a static random texture. Classes come in pairs
that share everything drawn from the random generator (background, object
texture, start position, speed, direction) for the same video index, so within
a pair the classes differ only in the one property the pair tests:

| class          | object          | motion (px/frame)        | separable by              |
|----------------|-----------------|--------------------------|---------------------------|
| red_square     | red square      | one random direction     | RGB (colour). Not flow:   |
| blue_square    | blue square     | same as red_square       | both colours have equal   |
|                |                 |                          | luma, gray frames match   |
| blob_left      | textured blob   | left (within +-11 deg)   | flow. Not one RGB frame:  |
| blob_right     | same blob       | right (the mirror)       | the first frames are equal|
| up_then_down   | same blob       | up, then down (halves)   | order: K >= 2 with an     |
| down_then_up   | same blob       | down, then up            | order-aware consensus     |
|                |                 |                          | (weighted, attention);    |
|                |                 |                          | not K=1, not average      |
| up_and_left    | same blob       | one half up, one left    | K >= 2, any consensus;    |
| down_and_right | same blob       | one half down, one right | K=1 sees one half only,   |
|                |                 | (random which first)     | like blob_left or         |
|                |                 |                          | up_then_down              |

Objects move on a torus (they leave one edge and enter the opposite one) and
start anywhere, so positions are uniform in every frame and no single pixel
reveals a class. Videos are MJPG in .avi: intra-frame, so every frame decodes
on its own; the installed OpenCV wheel writes and reads them back with the
right frame count, and a seed gives byte-identical files.

With ``audio=True`` every video also carries a sound track (muxed with PyAV,
see synthetic_audio.py) and two classes are added whose videos are identical
and whose sounds differ, so only the audio stream separates them:

| class          | object          | motion (px/frame)        | separable by              |
|----------------|-----------------|--------------------------|---------------------------|
| tone_low       | textured blob   | one random direction     | audio only (a low tone;   |
| tone_high      | same blob       | same as tone_low         | a high tone)              |

Untrimmed mode writes longer videos of background with slight camera jitter
holding one or two annotated segments of the first four classes, and an
ActivityNet-style JSON (`v_<id>.avi` files, "training"/"validation" subsets).
"""
import json
import os
from typing import Dict, List, Tuple

import cv2
import numpy as np

from tsn_tf.synthetic import audio as synthetic_audio

CLASSES = ("red_square", "blue_square", "blob_left", "blob_right",
           "up_then_down", "down_then_up", "up_and_left", "down_and_right")
UNTRIMMED_CLASSES = CLASSES[:4]
AUDIO_CLASSES = synthetic_audio.AUDIO_CLASSES
ALL_CLASSES = CLASSES + AUDIO_CLASSES
FOURCC = "MJPG"
EXTENSION = ".avi"
# RGB colours of equal luma under OpenCV's RGB->gray (0.299 R + 0.587 G + 0.114 B ~ 70.3).
RED = (180.0, 20.0, 41.0)
BLUE = (20.0, 60.0, 255.0)
_UP, _DOWN, _LEFT, _RIGHT = (0.0, -1.0), (0.0, 1.0), (-1.0, 0.0), (1.0, 0.0)
_HALVES = {"up_then_down": (_UP, _DOWN), "down_then_up": (_DOWN, _UP),
           "up_and_left": (_UP, _LEFT), "down_and_right": (_DOWN, _RIGHT)}


def _smooth_texture(rng, height, width, channels, cells, low, high) -> np.ndarray:
    coarse = rng.uniform(low, high, (cells[1], cells[0], channels)).astype(np.float32)
    texture = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return texture.reshape(height, width, channels)


def _background(rng, width, height) -> np.ndarray:
    texture = _smooth_texture(rng, height, width, 3, (8, 6), 80, 180)
    texture += rng.normal(0, 10, texture.shape).astype(np.float32)
    return texture


def _object_layer(rng, kind, width, height) -> Tuple[np.ndarray, np.ndarray]:
    """Float RGB sprite and [0, 1] mask, both full-frame with the object at the origin."""
    side = int(round(min(width, height) * rng.uniform(0.25, 0.35)))
    sprite = np.zeros((height, width, 3), np.float32)
    mask = np.zeros((height, width), np.float32)
    if kind == "blob":
        pattern = rng.uniform(0, 255, (side, side)).astype(np.float32)
        pattern = cv2.GaussianBlur(pattern, (3, 3), 0.8)
        sprite[:side, :side] = pattern[..., None]
        cv2.ellipse(mask, (side // 2, side // 2), (side // 2, side // 2), 0, 0, 360, 1.0, -1)
    else:
        shade = rng.uniform(0.75, 1.0, (side, side)).astype(np.float32)
        sprite[:side, :side] = shade[..., None] * np.array(kind, np.float32)
        mask[:side, :side] = 1.0
    return sprite, cv2.GaussianBlur(mask, (3, 3), 0.8)


def _velocities(class_name, rng, num_frames) -> np.ndarray:
    """(num_frames - 1, 2) displacement between consecutive frames, px."""
    speed = rng.uniform(1.0, 2.5)
    angle = rng.uniform(0, 2 * np.pi)
    tilt = rng.uniform(-0.2, 0.2)
    swap_halves = rng.random() < 0.5
    steps = num_frames - 1
    if class_name in ("red_square", "blue_square") or class_name in AUDIO_CLASSES:
        return np.tile([np.cos(angle), np.sin(angle)], (steps, 1)) * speed
    if class_name in ("blob_left", "blob_right"):
        sign = -1.0 if class_name == "blob_left" else 1.0
        return np.tile([sign * np.cos(tilt), np.sin(tilt)], (steps, 1)) * speed
    first, second = _HALVES[class_name]
    if class_name in ("up_and_left", "down_and_right") and swap_halves:
        first, second = second, first
    half = steps // 2
    return np.array([first] * half + [second] * (steps - half)) * speed


def _object_kind(class_name):
    return {"red_square": RED, "blue_square": BLUE}.get(class_name, "blob")


def _to_bgr(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.clip(frame + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR)


def _render(background, sprite, mask, positions) -> List[np.ndarray]:
    """uint8 BGR frames: the sprite translated (with wrap-around) over `background(i)`."""
    height, width = mask.shape
    frames = []
    for index, (x, y) in enumerate(positions):
        shift = np.float32([[1, 0, x], [0, 1, y]])
        moved = cv2.warpAffine(sprite, shift, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_WRAP)
        alpha = cv2.warpAffine(mask, shift, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_WRAP)[..., None]
        frames.append(_to_bgr(background(index) * (1 - alpha) + moved * alpha))
    return frames


def render_trimmed(class_name: str, *, seed: int, index: int, num_frames: int,
                   size: Tuple[int, int]) -> List[np.ndarray]:
    """BGR frames of video `index` of `class_name` (see the module table)."""
    if class_name not in ALL_CLASSES:
        raise ValueError(f"unknown synthetic class {class_name!r}; expected one of "
                         f"{ALL_CLASSES}")
    pair = ALL_CLASSES.index(class_name) // 2
    rng = np.random.default_rng([seed, pair, index])
    width, height = size
    background = _background(rng, width, height)
    sprite, mask = _object_layer(rng, _object_kind(class_name), width, height)
    start = rng.uniform(0, [width, height])
    steps = _velocities(class_name, rng, num_frames)
    positions = start + np.concatenate([np.zeros((1, 2)), np.cumsum(steps, axis=0)])
    return _render(lambda _: background, sprite, mask, positions)


def _jittered_background(rng, width, height, num_frames, margin=6):
    """Per-frame view of a larger texture through a camera that jitters (random walk)."""
    scene = _background(rng, width + 2 * margin, height + 2 * margin)
    walk = np.cumsum(rng.normal(0, 0.3, (num_frames, 2)), axis=0)
    offsets = np.clip(walk, -margin + 1, margin - 1) + margin

    def view(index):
        shift = np.float32([[1, 0, -offsets[index, 0]], [0, 1, -offsets[index, 1]]])
        return cv2.warpAffine(scene, shift, (width, height), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT)
    return view


def _untrimmed_segments(rng, num_frames) -> List[Tuple[int, int, str]]:
    """One or two (start, end_exclusive, class) frame spans, one per equal part of the video."""
    count = 1 + int(rng.random() < 0.5)
    part = num_frames // count
    spans = []
    for number in range(count):
        length = int(rng.integers(num_frames // 6, num_frames // 3 + 1))
        start = number * part + int(rng.integers(0, part - length + 1))
        spans.append((start, start + length, UNTRIMMED_CLASSES[rng.integers(4)]))
    return spans


def render_untrimmed(*, seed: int, index: int, num_frames: int, size: Tuple[int, int]):
    """BGR frames of untrimmed video `index` and its (start, end, class) frame spans."""
    rng = np.random.default_rng([seed, 1000, index])
    width, height = size
    background = _jittered_background(rng, width, height, num_frames)
    spans = _untrimmed_segments(rng, num_frames)
    frames = [_to_bgr(background(i)) for i in range(num_frames)]
    for start, end, class_name in spans:
        sprite, mask = _object_layer(rng, _object_kind(class_name), width, height)
        steps = _velocities(class_name, rng, end - start)
        origin = rng.uniform(0, [width, height])
        positions = origin + np.concatenate([np.zeros((1, 2)), np.cumsum(steps, axis=0)])
        frames[start:end] = _render(lambda i, s=start: background(s + i), sprite, mask,
                                    positions)
    return frames, spans


def write_video(path: str, frames_bgr: List[np.ndarray], fps: float):
    """Writes uint8 BGR frames as an MJPG .avi; raises if OpenCV cannot write it."""
    height, width = frames_bgr[0].shape[:2]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*FOURCC), float(fps), (width, height))
    if not writer.isOpened():
        raise OSError(f"{path}: OpenCV cannot open a {FOURCC} video writer")
    for frame in frames_bgr:
        writer.write(frame)
    writer.release()


def _write_lines(path, lines):
    with open(path, "w") as handle:
        handle.write("".join(line + "\n" for line in lines))
    return path


def make_synthetic_dataset(out_dir: str, *, videos_per_class: int = 12, num_frames=None,
                           size: Tuple[int, int] = (96, 72), fps: float = 25.0,
                           test_fraction: float = 0.25, seed: int = 0,
                           untrimmed: bool = False, audio: bool = False) -> Dict[str, str]:
    """Writes the synthetic videos and their lists under `out_dir`.

    Trimmed (default; `num_frames` defaults to 48): `videos/<class>/<class>_NNN.avi`,
    `train.csv` and `test.csv` with `relative/path.avi,class` lines (the last
    `test_fraction` of each class's videos are test), and `classes.txt`.
    With `audio` (trimmed only): a tone track in every video and the
    `AUDIO_CLASSES` after the 8 video classes (see the module doc).
    Untrimmed (`num_frames` defaults to 150): `videos_untrimmed/v_untrimmed_NNNN.avi`,
    `videos_per_class * 4` of them, and `activitynet.json` ("training" or, for
    the last `test_fraction`, "validation").
    Returns {"train", "test", "classes"} or {"annotations", "classes"} -> path.
    """
    if videos_per_class <= 0:
        raise ValueError(f"videos_per_class must be positive; received {videos_per_class}")
    if untrimmed and audio:
        raise ValueError("audio=True is for the trimmed set; received untrimmed=True")
    os.makedirs(out_dir, exist_ok=True)
    if untrimmed:
        return _make_untrimmed(out_dir, videos_per_class * len(UNTRIMMED_CLASSES),
                               num_frames or 150, size, fps, test_fraction, seed)
    num_frames = num_frames or 48
    if num_frames < 4:
        raise ValueError(f"num_frames must be at least 4; received {num_frames}")
    num_test = int(round(videos_per_class * test_fraction))
    lists = {"train": [], "test": []}
    classes = ALL_CLASSES if audio else CLASSES
    for class_name in classes:
        os.makedirs(os.path.join(out_dir, "videos", class_name), exist_ok=True)
        for index in range(videos_per_class):
            relative = f"videos/{class_name}/{class_name}_{index:03d}{EXTENSION}"
            frames = render_trimmed(class_name, seed=seed, index=index, num_frames=num_frames,
                                    size=size)
            path = os.path.join(out_dir, relative)
            write_video(path, frames, fps)
            if audio:
                track = synthetic_audio.render_track(class_name, seed=seed, index=index,
                                                     duration_s=num_frames / fps)
                synthetic_audio.add_audio_track(path, track, path)
            split = "test" if index >= videos_per_class - num_test else "train"
            lists[split].append(f"{relative},{class_name}")
    return {"train": _write_lines(os.path.join(out_dir, "train.csv"), lists["train"]),
            "test": _write_lines(os.path.join(out_dir, "test.csv"), lists["test"]),
            "classes": _write_lines(os.path.join(out_dir, "classes.txt"), classes)}


def _make_untrimmed(out_dir, num_videos, num_frames, size, fps, test_fraction, seed):
    os.makedirs(os.path.join(out_dir, "videos_untrimmed"), exist_ok=True)
    num_validation = int(round(num_videos * test_fraction))
    database = {}
    for index in range(num_videos):
        video_id = f"untrimmed_{index:04d}"
        frames, spans = render_untrimmed(seed=seed, index=index, num_frames=num_frames,
                                         size=size)
        write_video(os.path.join(out_dir, "videos_untrimmed", f"v_{video_id}{EXTENSION}"),
                    frames, fps)
        subset = "validation" if index >= num_videos - num_validation else "training"
        database[video_id] = {
                "subset": subset, "duration": round(num_frames / fps, 6),
                "resolution": f"{size[0]}x{size[1]}",
                "annotations": [{"segment": [round(start / fps, 6), round(end / fps, 6)],
                                 "label": name} for start, end, name in spans]}
    annotations = os.path.join(out_dir, "activitynet.json")
    with open(annotations, "w") as handle:
        json.dump({"version": "synthetic", "database": database}, handle, indent=1)
    return {"annotations": annotations,
            "classes": _write_lines(os.path.join(out_dir, "classes_untrimmed.txt"),
                                    UNTRIMMED_CLASSES)}
