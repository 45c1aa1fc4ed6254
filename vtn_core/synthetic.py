"""The synthetic event dataset ("short" preset; the "long" one is ``synthetic_long``): one short
class-defining event among distractor motion common to all classes.

Each video has a textured background, drifting distractor discs in muted tones (the same statistics for
every class), camera jitter and sensor noise. The event — 10–15% of the frames, at a random time — is the
only appearance of the vivid "hero" object: its class-specific motion (falling, rising, bouncing, spinning,
splitting, colliding) and colour. Frames outside the event carry no class information, so a model must
find the event to classify.
Deterministic per (seed, video index); frames are rendered at 2x and downsampled (anti-aliased).
"""
from __future__ import annotations

import csv
import math
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from vtn_core.videowrite import write_video

CLASSES = ("falling", "rising", "bouncing", "spinning", "splitting", "colliding")
# distractors: muted tones shared by every class; the hero: one vivid colour per class, seen only during the event
PALETTE = ((176, 140, 132), (132, 156, 176), (150, 170, 140), (190, 176, 130), (160, 140, 170), (185, 160, 140))
HERO_COLOURS = {"falling": (231, 76, 60), "rising": (52, 152, 219), "bouncing": (46, 204, 113),
                "spinning": (241, 196, 15), "splitting": (155, 89, 182), "colliding": (255, 127, 0)}
MAX_EVENT_SHARE = 0.15
MIN_FRAMES = 64


@dataclass(frozen=True)
class VideoSpec:
    """Everything needed to render one video (and its label)."""

    label: str
    num_frames: int
    fps: int
    event_start: int  # inclusive frame span of the event
    event_end: int
    size: int
    seed: int  # drives rendering details (background, distractors, noise)


def sample_spec(rng: np.random.Generator, label: str | None = None, num_frames: int | None = None,
                size: int = 96, fps: int = 25) -> VideoSpec:
    """A random video description: length 64–128 frames unless given, an event of 10–15% of it."""
    label = label or CLASSES[int(rng.integers(len(CLASSES)))]
    frames = int(num_frames or rng.integers(MIN_FRAMES, 129))
    length = max(6, int(frames * rng.uniform(0.10, 0.15)))
    length = min(length, int(MAX_EVENT_SHARE * frames))
    margin = max(2, frames // 20)
    start = int(rng.integers(margin, frames - margin - length + 1))
    return VideoSpec(label=label, num_frames=frames, fps=fps, event_start=start, event_end=start + length - 1,
                     size=size, seed=int(rng.integers(2**31)))


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth two-colour gradient with a soft noise texture, float [S, S, 3]."""
    a, b = rng.uniform(40, 110, 3), rng.uniform(90, 170, 3)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size] / size
    t = (np.cos(angle) * xx + np.sin(angle) * yy)
    t = (t - t.min()) / max(t.max() - t.min(), 1e-6)
    base = a[None, None] * (1 - t[..., None]) + b[None, None] * t[..., None]
    noise = Image.fromarray(rng.integers(0, 255, (size // 4, size // 4), dtype=np.uint8)).resize(
        (size, size), Image.BICUBIC).filter(ImageFilter.GaussianBlur(2))
    return base + (np.asarray(noise, dtype=np.float64)[..., None] - 128) * 0.12


def _disc(draw: ImageDraw.ImageDraw, x: float, y: float, r: float, fill, outline=None, scale: float = 2.0,
          squash: float = 1.0) -> None:
    rx, ry = r * scale / squash, r * scale * squash
    draw.ellipse([x * scale - rx, y * scale - ry, x * scale + rx, y * scale + ry], fill=fill, outline=outline,
                 width=int(2 * scale))


def _streak(draw: ImageDraw.ImageDraw, x: float, y: float, dx: float, dy: float, r: float, colour, scale: float = 2.0) -> None:
    """A fading motion trail behind an object moving by (dx, dy) per frame."""
    for k in range(1, 5):
        alpha = int(150 * (1 - k / 5))
        _disc(draw, x - dx * k * 0.8, y - dy * k * 0.8, r * (1 - 0.12 * k), (*colour, alpha), scale=scale)


def _hero(draw: ImageDraw.ImageDraw, spec: VideoSpec, t: float, colour, size: int, scale: float = 2.0) -> None:
    """Draw the class-defining object at event progress ``t`` in [0, 1]."""
    r = size * 0.13
    cx = size * 0.5
    white = (*[min(255, c + 60) for c in colour], 255)
    ring = (*colour, 255)
    if spec.label in ("falling", "rising"):
        y0, y1 = (size * 0.12, size * 0.88) if spec.label == "falling" else (size * 0.88, size * 0.12)
        y = y0 + (y1 - y0) * t
        dy = (y1 - y0) / 6
        _streak(draw, cx, y, 0, dy, r, colour, scale)
        _disc(draw, cx, y, r, white, ring, scale)
    elif spec.label == "bouncing":
        floor = size * 0.86
        y = size * 0.2 + (floor - size * 0.2) * (1 - abs(2 * t - 1) ** 1.0)  # down then up
        squash = 1.0 - 0.35 * max(0.0, 1 - abs(2 * t - 1) * 4)
        draw.line([0, (floor + r) * scale, size * scale, (floor + r) * scale], fill=(255, 255, 255, 200), width=int(3 * scale))
        _disc(draw, cx, y, r, white, ring, scale, squash=squash)
    elif spec.label == "spinning":
        angle = t * 4 * math.pi
        for offset in (0.0, math.pi / 2):
            ca, sa = math.cos(angle + offset), math.sin(angle + offset)
            length = size * 0.3
            draw.line([(cx - ca * length) * scale, (cx - sa * length) * scale, (cx + ca * length) * scale,
                       (cx + sa * length) * scale], fill=ring, width=int(size * 0.07 * scale))
        _disc(draw, cx, cx, r * 0.45, white, ring, scale)
    elif spec.label == "splitting":
        gap = size * 0.32 * t
        radius = r * (1 - 0.3 * t)
        for sign in (-1, 1):
            _streak(draw, cx + sign * gap, cx, sign * size * 0.05, 0, radius, colour, scale)
            _disc(draw, cx + sign * gap, cx, radius, white, ring, scale)
    elif spec.label == "colliding":
        gap = size * 0.36 * (1 - t) + r * 0.9
        for sign in (-1, 1):
            _streak(draw, cx + sign * gap, cx, -sign * size * 0.05, 0, r * 0.8, colour, scale)
            _disc(draw, cx + sign * gap, cx, r * 0.8, white, ring, scale)
    else:
        raise ValueError(f"unknown class {spec.label!r}")


def render_video(spec: VideoSpec, with_event: bool = True) -> np.ndarray:
    """All frames of ``spec`` as uint8 [T, S, S, 3] (``with_event=False`` leaves the hero out)."""
    rng = np.random.default_rng(spec.seed)
    size, scale = spec.size, 2.0
    background = _background(rng, size + 8)
    count = int(rng.integers(3, 6))
    pos = rng.uniform(0.15, 0.85, (count, 2)) * size
    vel = rng.normal(0, 0.6, (count, 2))
    radii = rng.uniform(0.05, 0.08, count) * size
    colours = [PALETTE[int(i)] for i in rng.integers(len(PALETTE), size=count)]
    hero_colour = HERO_COLOURS[spec.label]
    jitter = np.cumsum(rng.normal(0, 0.5, (spec.num_frames, 2)), axis=0).clip(-4, 4)
    noise_rng = np.random.default_rng(spec.seed + 1)
    frames = np.empty((spec.num_frames, size, size, 3), np.uint8)
    span = max(spec.event_end - spec.event_start, 1)
    for f in range(spec.num_frames):
        ox, oy = (4 + jitter[f]).round().astype(int)
        canvas = Image.new("RGBA", (int(size * scale), int(size * scale)), (0, 0, 0, 0))
        draw = ImageDraw.Draw(canvas, "RGBA")
        pos += vel + rng.normal(0, 0.25, (count, 2))
        for i in range(count):  # bounce the distractors off the walls
            for axis in (0, 1):
                if not radii[i] <= pos[i, axis] <= size - radii[i]:
                    vel[i, axis] *= -1
                    pos[i, axis] = np.clip(pos[i, axis], radii[i], size - radii[i])
            _disc(draw, pos[i, 0], pos[i, 1], radii[i], (*colours[i], 235), (30, 30, 30, 200), scale)
        if with_event and spec.event_start <= f <= spec.event_end:
            _hero(draw, spec, (f - spec.event_start) / span, hero_colour, size, scale)
        layer = np.asarray(canvas.resize((size, size), Image.LANCZOS), dtype=np.float64)
        alpha = layer[..., 3:4] / 255.0
        base = background[oy:oy + size, ox:ox + size]
        image = base * (1 - alpha) + layer[..., :3] * alpha + noise_rng.normal(0, 3.0, (size, size, 1))
        frames[f] = np.clip(image, 0, 255).astype(np.uint8)
    return frames


def hero_boxes(spec: VideoSpec) -> list[tuple[int, int, int, int, int]]:
    """(frame, x0, y0, x1, y1) of the hero in pixels (inclusive corners) for every event frame.

    The hero is drawn alone on the same 2x canvas as in ``render_video`` and downsampled the same way; its box
    is where that layer is at least 10% opaque (the hero is drawn in frame coordinates: no camera jitter).
    """
    size, scale = spec.size, 2.0
    span = max(spec.event_end - spec.event_start, 1)
    boxes = []
    for f in range(spec.event_start, spec.event_end + 1):
        canvas = Image.new("RGBA", (int(size * scale), int(size * scale)), (0, 0, 0, 0))
        _hero(ImageDraw.Draw(canvas, "RGBA"), spec, (f - spec.event_start) / span, HERO_COLOURS[spec.label], size, scale)
        alpha = np.asarray(canvas.resize((size, size), Image.LANCZOS))[..., 3] >= 26
        rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
        boxes.append((f, int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])))
    return boxes


def dataset_specs(num_videos: int, seed: int, frames: int | None = None, size: int = 96) -> list[VideoSpec]:
    """Specs of a dataset: classes balanced (round robin), everything else random from (seed, index)."""
    specs = []
    for index in range(num_videos):
        rng = np.random.default_rng([seed, index])
        specs.append(sample_spec(rng, label=CLASSES[index % len(CLASSES)], num_frames=frames, size=size))
    return specs


PRESETS = ("short", "long")
BOX_COLUMNS = ["path", "frame", "x0", "y0", "x1", "y1"]


def _write_one(args: tuple[Path, Any]) -> list[tuple[int, int, int, int, int]]:
    """Write one video; returns its hero boxes."""
    path, spec = args
    if isinstance(spec, VideoSpec):
        write_video(path, render_video(spec), spec.fps, crf=20)
        return hero_boxes(spec)
    from vtn_core.synthetic_long import write_long_video
    return write_long_video(path, spec)


def generate_dataset(out_dir: str | Path, num_videos: int, seed: int, frames: int | None = None, size: int = 96,
                     workers: int | None = None, progress: Callable[[int, int], None] | None = None,
                     preset: str = "short") -> Path:
    """Write ``out_dir/videos/*.mp4``, ``out_dir/boxes.csv`` (the hero's box per event frame) and
    ``out_dir/labels.csv`` (written last, atomically); returns the labels CSV path.

    ``preset`` "short": 64–128-frame square clips of ``size`` px; "long": 60–180 s 480×270 videos
    (``vtn_core.synthetic_long``; ``size`` is ignored there and ``frames`` fixes the length).
    """
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {PRESETS}, got {preset!r}")
    out_dir = Path(out_dir)
    (out_dir / "videos").mkdir(parents=True, exist_ok=True)
    if preset == "long":
        from vtn_core.synthetic_long import long_dataset_specs
        specs: list[Any] = long_dataset_specs(num_videos, seed, frames)
    else:
        specs = dataset_specs(num_videos, seed, frames, size)
    jobs = [(out_dir / "videos" / f"{index:05d}_{spec.label}.mp4", spec) for index, spec in enumerate(specs)]
    workers = workers or min(2, os.cpu_count() or 1)
    all_boxes: list[list[tuple[int, int, int, int, int]]] = []
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for boxes in pool.map(_write_one, jobs, chunksize=1 if preset == "long" else 4):
                all_boxes.append(boxes)
                if progress:
                    progress(len(all_boxes), len(jobs))
    else:
        for job in jobs:
            all_boxes.append(_write_one(job))
            if progress:
                progress(len(all_boxes), len(jobs))
    _write_csv(out_dir, "boxes.csv", BOX_COLUMNS,
               [[path.relative_to(out_dir).as_posix(), *box] for (path, _), boxes in zip(jobs, all_boxes) for box in boxes])
    return _write_csv(out_dir, "labels.csv", ["path", "label", "event_start", "event_end", "num_frames", "fps"],
                      [[path.relative_to(out_dir).as_posix(), spec.label, spec.event_start, spec.event_end,
                        spec.num_frames, spec.fps] for path, spec in jobs])


def _write_csv(out_dir: Path, name: str, header: list[str], rows: list[list[Any]]) -> Path:
    """Write ``out_dir/name`` atomically (a temporary file, then a rename)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out_dir)
    with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    target = out_dir / name
    os.replace(tmp, target)
    return target
