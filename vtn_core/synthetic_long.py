"""The long preset of the synthetic dataset: 60–180 s landscape videos (480×270, 25 fps) with one 2–5 s event.

Each video is a small landscape — sky gradient, sun, rolling hills — with drifting muted "balloons" and a slow
camera drift. All of that is per-video *nuisance*: random for every video, drawn from the same distribution for
every class, so it identifies a video but never its class. The class lives only in the event: 2–5 s (at most 5%
of the video, at a random time) in which the vivid hero of the short preset (its class-specific motion and
colour) appears inside the centre square — the region a model sees after resizing the short side and centre
cropping. ``hero_box`` gives the hero's bounding box in source pixels for every event frame.

Rendering is cheap: every layer (background, distractor sprites) is precomputed once per video in YUV 4:2:0
and frames are composited there and handed to x264 as planes (no per-frame RGB conversion); only the event's
frames (≤ 5%) draw the hero with PIL. Deterministic per ``LongSpec.seed``.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from vtn_core.synthetic import CLASSES, HERO_COLOURS, PALETTE, _hero
from vtn_core.videowrite import write_yuv420_video

WIDTH, HEIGHT, FPS = 480, 270, 25
MIN_SECONDS, MAX_SECONDS = 60.0, 180.0
MIN_EVENT_SECONDS, MAX_EVENT_SECONDS = 2.0, 5.0
MAX_EVENT_SHARE = 0.05
HERO_SCALE = 0.8  # the hero's drawing area, as a share of the centre square (its trails stay inside)
MARGIN = 8  # background margin for the camera drift (even: keeps chroma aligned)


@dataclass(frozen=True)
class LongSpec:
    """Everything needed to render one long video (and its label)."""

    label: str
    num_frames: int
    fps: int
    event_start: int  # inclusive frame span of the event
    event_end: int
    width: int
    height: int
    seed: int  # drives the nuisance (background, distractors, camera)

    @property
    def square(self) -> tuple[int, int, int]:
        """(x0, y0, side) of the centre square a resize + centre crop keeps."""
        side = min(self.width, self.height)
        return (self.width - side) // 2, (self.height - side) // 2, side


def sample_long_spec(rng: np.random.Generator, label: str | None = None, num_frames: int | None = None,
                     width: int = WIDTH, height: int = HEIGHT, fps: int = FPS) -> LongSpec:
    """A random long video: 60–180 s (shorter lengths likelier), an event of 2–5 s and ≤ 5% of the frames."""
    label = label or CLASSES[int(rng.integers(len(CLASSES)))]
    seconds = MIN_SECONDS + (MAX_SECONDS - MIN_SECONDS) * float(rng.uniform()) ** 1.5
    frames = int(num_frames or round(seconds * fps))
    length = round(rng.uniform(MIN_EVENT_SECONDS, MAX_EVENT_SECONDS) * fps)
    length = max(2, min(length, int(MAX_EVENT_SHARE * frames)))
    margin = max(2, frames // 20)
    start = int(rng.integers(margin, frames - margin - length + 1))
    return LongSpec(label=label, num_frames=frames, fps=fps, event_start=start, event_end=start + length - 1,
                    width=width, height=height, seed=int(rng.integers(2**31)))


def long_dataset_specs(num_videos: int, seed: int, frames: int | None = None) -> list[LongSpec]:
    """Specs of a long dataset: classes balanced (round robin), everything else random from (seed, index)."""
    return [sample_long_spec(np.random.default_rng([seed, index, 1]), label=CLASSES[index % len(CLASSES)],
                             num_frames=frames) for index in range(num_videos)]


# ---------------------------------------------------------------------------------------------- colour
def rgb_to_yuv(rgb: np.ndarray) -> np.ndarray:
    """BT.601 limited-range Y'CbCr of RGB in [0, 255] (what decoders assume for untagged yuv420p)."""
    rgb = np.asarray(rgb, dtype=np.float32) / 255.0
    matrix = np.array([[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]],
                      dtype=np.float32)
    return rgb @ matrix.T + np.array([16.0, 128.0, 128.0], dtype=np.float32)


@dataclass
class _Layer:
    """An RGBA image as YUV 4:2:0 planes with matching alpha planes (float32)."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    alpha: np.ndarray  # full resolution
    alpha_c: np.ndarray  # chroma resolution


def _to_layer(rgba: np.ndarray) -> _Layer:
    """Split an RGBA uint8 image (even height and width) into YUV 4:2:0 planes with alpha."""
    h, w = rgba.shape[:2]
    yuv = rgb_to_yuv(rgba[..., :3])
    alpha = rgba[..., 3].astype(np.float32) / 255.0
    # chroma: alpha-weighted 2×2 average, so half-covered chroma pixels take the sprite's colour, not black
    a4 = alpha.reshape(h // 2, 2, w // 2, 2)
    alpha_c = a4.mean(axis=(1, 3))
    weights = np.maximum(a4.sum(axis=(1, 3)), 1e-6)
    u = (yuv[..., 1] * alpha).reshape(h // 2, 2, w // 2, 2).sum(axis=(1, 3)) / weights
    v = (yuv[..., 2] * alpha).reshape(h // 2, 2, w // 2, 2).sum(axis=(1, 3)) / weights
    return _Layer(yuv[..., 0], u, v, alpha, alpha_c)


# ---------------------------------------------------------------------------------------------- layers
def _background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A landscape RGB uint8 [H, W, 3]: sky gradient, a sun, three hill layers, a soft texture."""
    yy = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    top, horizon = rng.uniform(60, 150, 3), rng.uniform(150, 230, 3)
    image = np.broadcast_to(top * (1 - yy) + horizon * yy, (height, width, 3)).copy()
    canvas = Image.fromarray(image.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(canvas, "RGBA")
    sx, sy, sr = rng.uniform(0.05, 0.95) * width, rng.uniform(0.08, 0.3) * height, rng.uniform(12, 24)
    for k in range(4, 0, -1):  # a sun with a soft glow
        r = sr * (1 + 0.35 * k)
        draw.ellipse([sx - r, sy - r, sx + r, sy + r], fill=(255, 240, 200, 28))
    draw.ellipse([sx - sr, sy - sr, sx + sr, sy + sr], fill=(255, 236, 180, 255))
    xs = np.arange(width + 1, dtype=np.float64)
    base_colour = rng.uniform(50, 140, 3)
    for layer in range(3):  # far (light) to near (dark) hills
        level = height * (0.45 + 0.15 * layer + rng.uniform(-0.04, 0.04))
        ridge = level + sum(rng.uniform(4, 18) * np.sin(xs / width * np.pi * rng.uniform(1, 6) + rng.uniform(0, 6))
                            for _ in range(3))
        colour = tuple(int(c) for c in (base_colour * (1.25 - 0.25 * layer)).clip(0, 255))
        draw.polygon([(0, height)] + list(zip(xs.tolist(), ridge.tolist())) + [(width, height)], fill=(*colour, 255))
    texture = Image.fromarray(rng.integers(0, 255, (height // 6, width // 6), dtype=np.uint8)).resize(
        (width, height), Image.BICUBIC).filter(ImageFilter.GaussianBlur(3))
    image = np.asarray(canvas, dtype=np.float32) + (np.asarray(texture, dtype=np.float32)[..., None] - 128) * 0.10
    return image.clip(0, 255).astype(np.uint8)


def _sprite(radius: float, colour: tuple[int, int, int], outline: tuple[int, int, int, int]) -> np.ndarray:
    """An anti-aliased disc RGBA uint8 (drawn at 2× and halved), even-sized."""
    side = int(np.ceil(radius + 2)) * 2
    side += side % 2
    big = Image.new("RGBA", (side * 2, side * 2), (0, 0, 0, 0))
    draw = ImageDraw.Draw(big, "RGBA")
    c = side
    draw.ellipse([c - 2 * radius, c - 2 * radius, c + 2 * radius, c + 2 * radius], fill=(*colour, 235),
                 outline=outline, width=3)
    hi = tuple(min(255, int(v * 1.2 + 20)) for v in colour)  # a highlight: looks like a balloon
    draw.ellipse([c - 1.1 * radius, c - 1.3 * radius, c - 0.3 * radius, c - 0.5 * radius], fill=(*hi, 200))
    return np.asarray(big.resize((side, side), Image.LANCZOS))


class _ShiftedDraw:
    """An ImageDraw whose ellipses and lines are moved by ``shift`` pixels right and down."""

    def __init__(self, draw: ImageDraw.ImageDraw, shift: float) -> None:
        self.draw, self.shift = draw, shift

    def _move(self, xy: list[float]) -> list[float]:
        return [v + self.shift for v in xy]

    def ellipse(self, xy: list[float], **kwargs) -> None:
        self.draw.ellipse(self._move(xy), **kwargs)

    def line(self, xy: list[float], **kwargs) -> None:
        self.draw.line(self._move(xy), **kwargs)


def _reflect(values: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Fold positions into [low, high] as a ball bouncing between two walls."""
    span = high - low
    t = np.mod(values - low, 2 * span)
    return low + np.where(t > span, 2 * span - t, t)


class _Scene:
    """The precomputed layers and trajectories of one long video."""

    def __init__(self, spec: LongSpec) -> None:
        rng = np.random.default_rng(spec.seed)
        self.spec = spec
        w, h = spec.width, spec.height
        self.background = _to_layer(np.dstack([_background(rng, w + 2 * MARGIN, h + 2 * MARGIN),
                                               np.full((h + 2 * MARGIN, w + 2 * MARGIN), 255, np.uint8)]))
        self.bg_y = self.background.y.round().clip(0, 255).astype(np.uint8)
        self.bg_u = self.background.u.round().clip(0, 255).astype(np.uint8)
        self.bg_v = self.background.v.round().clip(0, 255).astype(np.uint8)
        count = int(rng.integers(3, 7))
        t = np.arange(spec.num_frames, dtype=np.float64)[:, None]
        self.sprites, self.paths = [], []
        for _ in range(count):
            radius = float(rng.uniform(0.04, 0.07) * h)
            colour = PALETTE[int(rng.integers(len(PALETTE)))]
            layer = _to_layer(_sprite(radius, colour, (30, 30, 30, 200)))
            side = layer.y.shape[0]
            start = rng.uniform(0, 1, 2) * [w - side, h - side]
            speed = rng.normal(0, 0.6, 2)
            wander = np.cumsum(rng.normal(0, 0.03, (spec.num_frames, 2)), axis=0)
            raw = start + speed * t + wander
            low, high = np.zeros(2), np.array([w - side, h - side], dtype=np.float64)
            self.sprites.append(layer)
            self.paths.append(np.rint(_reflect(raw, low, high)).astype(np.int64))
        drift = np.cumsum(rng.normal(0, 0.08, (spec.num_frames, 2)), axis=0)
        self.camera = (2 * np.rint(_reflect(drift + MARGIN / 2, np.zeros(2), np.full(2, MARGIN / 1.0)) / 2)
                       ).astype(np.int64).clip(0, MARGIN)

    def hero_layer(self, frame: int) -> tuple[_Layer, tuple[int, int]] | None:
        """The hero's layer (cropped to its pixels, inside the centre square) at ``frame`` and its top-left
        corner in frame pixels, or None outside the event."""
        spec = self.spec
        if not spec.event_start <= frame <= spec.event_end:
            return None
        x0, y0, side = spec.square
        ex, ey = x0 + x0 % 2, y0 + y0 % 2  # an even origin inside the square keeps the chroma aligned
        canvas_side = side - 2
        hero_side = int(HERO_SCALE * canvas_side)
        canvas = Image.new("RGBA", (canvas_side * 2, canvas_side * 2), (0, 0, 0, 0))
        shift = float(canvas_side - hero_side)  # centre the hero: (canvas - hero) / 2, in 2× pixels
        draw = _ShiftedDraw(ImageDraw.Draw(canvas, "RGBA"), shift)
        progress = (frame - spec.event_start) / max(spec.event_end - spec.event_start, 1)
        _hero(draw, spec, progress, HERO_COLOURS[spec.label], hero_side, 2.0)  # type: ignore[arg-type]
        small = canvas.reduce(2)  # 2×2 box filter: anti-aliased and much faster than a resampling filter
        bbox = small.getchannel("A").getbbox()
        if bbox is None:
            return None
        left, top = bbox[0] - bbox[0] % 2, bbox[1] - bbox[1] % 2
        right, bottom = bbox[2] + (bbox[2] - left) % 2, bbox[3] + (bbox[3] - top) % 2
        return _to_layer(np.asarray(small.crop((left, top, right, bottom)))), (ex + left, ey + top)

    def frame(self, index: int, with_event: bool = True,
              boxes: list[tuple[int, int, int, int, int]] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Y, U, V uint8 planes of frame ``index``; appends the hero's box to ``boxes`` when it is drawn."""
        w, h = self.spec.width, self.spec.height
        cx, cy = self.camera[index]
        y = self.bg_y[cy:cy + h, cx:cx + w].copy()
        u = self.bg_u[cy // 2:cy // 2 + h // 2, cx // 2:cx // 2 + w // 2].copy()
        v = self.bg_v[cy // 2:cy // 2 + h // 2, cx // 2:cx // 2 + w // 2].copy()
        for sprite, path in zip(self.sprites, self.paths):
            _blend(y, u, v, sprite, int(path[index, 0]), int(path[index, 1]))
        if with_event:
            hero = self.hero_layer(index)
            if hero is not None:
                _blend(y, u, v, hero[0], *hero[1])
                if boxes is not None:
                    boxes.append((index, *_alpha_box(hero[0].alpha, *hero[1])))
        return y, u, v


def _blend(y: np.ndarray, u: np.ndarray, v: np.ndarray, layer: _Layer, x: int, top: int) -> None:
    """Alpha-composite ``layer`` onto the planes in place at (x, top) (both even)."""
    x, top = x - x % 2, top - top % 2
    h, w = layer.y.shape
    region = y[top:top + h, x:x + w]
    a = layer.alpha[:region.shape[0], :region.shape[1]]
    region[...] = (region * (1 - a) + layer.y[:region.shape[0], :region.shape[1]] * a + 0.5).astype(np.uint8)
    for plane, values in ((u, layer.u), (v, layer.v)):
        region = plane[top // 2:top // 2 + h // 2, x // 2:x // 2 + w // 2]
        a = layer.alpha_c[:region.shape[0], :region.shape[1]]
        region[...] = (region * (1 - a) + values[:region.shape[0], :region.shape[1]] * a + 0.5).astype(np.uint8)


def iter_long_planes(spec: LongSpec, with_event: bool = True) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Every frame of ``spec`` as (Y, U, V) uint8 planes, in order."""
    scene = _Scene(spec)
    for index in range(spec.num_frames):
        yield scene.frame(index, with_event)


def render_long_frames(spec: LongSpec, indices: list[int] | np.ndarray, with_event: bool = True) -> np.ndarray:
    """Frames ``indices`` of ``spec`` as RGB uint8 [N, H, W, 3] (for tests and previews; not the writer's path)."""
    scene = _Scene(spec)
    return np.stack([yuv420_to_rgb(*scene.frame(int(i), with_event)) for i in indices])


def yuv420_to_rgb(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inverse of ``rgb_to_yuv`` for 4:2:0 planes (chroma upsampled by repetition)."""
    u = np.repeat(np.repeat(u, 2, 0), 2, 1).astype(np.float32) - 128
    v = np.repeat(np.repeat(v, 2, 0), 2, 1).astype(np.float32) - 128
    luma = (y.astype(np.float32) - 16) * 255 / 219
    r = luma + 1.596 * v * 255 / 255
    g = luma - 0.392 * u - 0.813 * v
    b = luma + 2.017 * u
    return np.dstack([r, g, b]).clip(0, 255).round().astype(np.uint8)


def hero_boxes(spec: LongSpec) -> list[tuple[int, int, int, int, int]]:
    """(frame, x0, y0, x1, y1) of the hero in source pixels (inclusive corners) for every event frame."""
    scene = _Scene(spec)
    boxes = []
    for frame in range(spec.event_start, spec.event_end + 1):
        layer, (ox, oy) = scene.hero_layer(frame)  # type: ignore[misc]
        boxes.append((frame, *_alpha_box(layer.alpha, ox, oy)))
    return boxes


def _alpha_box(alpha: np.ndarray, ox: int, oy: int) -> tuple[int, int, int, int]:
    """Inclusive box of every pixel the layer touches, widened to whole 2×2 chroma blocks (``ox``, ``oy`` even)."""
    rows, cols = np.flatnonzero((alpha > 0).any(axis=1)), np.flatnonzero((alpha > 0).any(axis=0))
    return int(ox + cols[0] - cols[0] % 2), int(oy + rows[0] - rows[0] % 2), int(ox + (cols[-1] | 1)), \
        int(oy + (rows[-1] | 1))


def write_long_video(path: Path, spec: LongSpec) -> list[tuple[int, int, int, int, int]]:
    """Render and encode ``spec`` to ``path`` (x264 ultrafast, one thread); returns its hero boxes."""
    scene = _Scene(spec)
    boxes: list[tuple[int, int, int, int, int]] = []
    write_yuv420_video(path, (scene.frame(i, boxes=boxes) for i in range(spec.num_frames)), spec.fps, crf=26)
    return boxes
