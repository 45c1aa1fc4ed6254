"""A decoded frame → only the pixels the model reads, and an area-averaged thumbnail made from its YUV planes.

Today's recipe converts the whole frame to RGB (``frame.to_ndarray("rgb24")``) and crops afterwards. The same
RGB values come out of FFmpeg's converter when it is given only the YUV rows and columns the crop reads:
its 4:2:0 → RGB conversion works pixel by pixel (each chroma sample serves a 2 x 2 block of luma), so a
compact frame built from whole 2 x 2 blocks converts to exactly the pixels of the full conversion. For a
720p frame and a 48-px crop that is 1.6% of the frame; for a 224-px crop about half.

Safety: the first frame of every stream is also converted the old way and compared; any difference (another
FFmpeg build, another pixel format) switches that stream to whole-frame conversion, which stays exact.
One ``VideoReformatter`` per stream, job (model pixels, thumbnails) and converter thread keeps FFmpeg's
scaler context alive between frames, single-threaded: a fresh context per frame with automatic threads was
most of the cost (13.5 vs 0.5 ms per 720p frame, measured in docs/VIDEO.md). The model input and the
thumbnails are computed by the compiled loops of ``video.kernels``.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import lru_cache

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from vtn_core.config import Preprocessing
from vtn_core.limits import MAX_THUMBNAIL_ASPECT
from vtn_core.video import kernels, yuv_rgb

COMPACT_FORMATS = ("yuv420p", "yuvj420p", "nv12")
CONVERSION_MODES = ("auto", "direct", "compact", "whole", "legacy", "decoder-resize")
# above this share of the frame, converting it whole (one swscale pass) is cheaper than gathering the blocks;
# a window (whole runs of rows and columns, copied row by row) pays off up to a larger share
COMPACT_AREA = 0.25
WINDOW_AREA = 0.8
WINDOW_DENSITY = 0.5  # share of the blocks between the first and last read that makes an axis a window
# our own conversion of the crop's pixels (``yuv_rgb``) costs ~6 ns a pixel against FFmpeg's ~1.4 (SIMD, whole
# rows): it pays where the crop reads few, scattered pixels (not a window), up to this share of the frame
DIRECT_AREA = 0.1
AREA_FORMATS = ("yuv420p", "yuvj420p")  # planar 4:2:0, 8 bits: the area kernel's thumbnails
THUMBNAIL_INTERPOLATION = "AREA"  # FFmpeg's area-averaging downscale: antialiased, like make_thumbnails
# FFmpeg's RGB for compact frames kept per thread: R, G, B and an unused byte per pixel, whole 4-byte stores
# (ViT-B's window of a 720p frame: 0.10 against 0.13 ms as "rgb24"; docs/VIDEO.md). FFmpeg's 4:2:0 loops give
# both the same R, G, B bytes where the width is a multiple of ``PACKED_WIDTH_MULTIPLE`` (any height, colour
# space and range of this build; else the last columns can differ), so kept frames are widened to one, and
# each stream's first frame still compares them. Other frames stay "rgb24" (from a GIF's palette they differ)
PACKED_FORMAT = "rgb0"
PACKED_WIDTH_MULTIPLE = 16


@dataclass(frozen=True)
class CropPixels:
    """``preprocess.CropPlan`` in numpy: the source rows and columns a crop reads in frames of one displayed
    size and its bilinear taps (``None`` for a plain crop). What a decode worker needs, without torch."""

    height: int
    width: int
    rows: np.ndarray
    cols: np.ndarray
    taps: tuple[np.ndarray, ...] | None


def crop_pixels(height: int, width: int, prep: Preprocessing) -> CropPixels:
    """The pixels of a ``height`` x ``width`` frame that the model input is made of, and their taps; kept for the
    process (they depend on the size and the recipe's resize and crop only: ~1 ms with torch to plan again)."""
    return _crop_pixels(height, width, prep.resize_short_side, prep.crop_size)


@lru_cache(maxsize=64)
def _crop_pixels(height: int, width: int, short_side: int, crop: int) -> CropPixels:
    from vtn_core.video.preprocess import crop_plan  # torch: only where no plan was handed over

    plan = crop_plan(height, width, Preprocessing(resize_short_side=short_side, crop_size=crop))
    taps = None if plan.taps is None else tuple(t.numpy() for t in plan.taps)
    return CropPixels(height, width, plan.rows, plan.cols, taps)


def model_input(gathered: np.ndarray, pixels: CropPixels, prep: Preprocessing) -> np.ndarray:
    """uint8 [N, len(rows), len(cols), 3] → float32 [N, 3, crop, crop], the same float32 operations in the
    same order as ``preprocess_frames`` (bilinear blend, then mean/std), so the same bits. numpy on one
    frame at a time stays in cache and avoids torch's per-call and thread-pool costs (larger than the work
    itself on a busy machine)."""
    count, height, width = gathered.shape[:3]
    flat = gathered.reshape(count, height, width * 3)  # (column, channel) flattened, as preprocess_frames
    mean = np.tile(np.asarray(prep.mean, dtype=np.float32) * np.float32(255.0), width if pixels.taps is None else 1)
    std = np.tile(np.asarray(prep.std, dtype=np.float32) * np.float32(255.0), width if pixels.taps is None else 1)
    if pixels.taps is None:
        out = flat.astype(np.float32)
    else:
        r0, r1, h0, h1, c0, c1, w0, w1 = pixels.taps
        rgb = np.arange(3)
        k0, k1 = (c0[:, None] * 3 + rgb).reshape(-1), (c1[:, None] * 3 + rgb).reshape(-1)
        w0, w1 = np.repeat(w0.astype(np.float32), 3), np.repeat(w1.astype(np.float32), 3)
        crop = len(r0)
        mean, std = np.tile(mean, crop), np.tile(std, crop)

        def blend(rows: np.ndarray) -> np.ndarray:
            left = np.take(rows, k0, axis=2).astype(np.float32)
            left *= w0
            right = np.take(rows, k1, axis=2).astype(np.float32)
            right *= w1
            left += right
            return left

        out = blend(flat[:, r0])
        out *= h0.astype(np.float32)[None, :, None]
        lower = blend(flat[:, r1])
        lower *= h1.astype(np.float32)[None, :, None]
        out += lower
    out -= mean
    out /= std
    side = out.shape[1]
    out = out.reshape(count, side, side, 3)
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


@dataclass
class _Blocks:
    """The 2 x 2 luma blocks (one chroma sample each) that hold a plan's rows and columns.

    Along an axis where the crop reads at least ``WINDOW_DENSITY`` of the blocks between its first and last
    (a mild downscale, e.g. 720p to a 224-px crop), every block in between is taken: a window copied row by
    row is cheaper than picking blocks one by one, and FFmpeg converts it just as exactly."""

    row_pairs: np.ndarray  # chroma rows used
    col_pairs: np.ndarray  # chroma columns used
    luma_rows: np.ndarray  # 2 per pair, clipped to the frame
    luma_cols: np.ndarray
    rows_in_compact: np.ndarray  # where each of plan.rows lies in the compact frame
    cols_in_compact: np.ndarray
    # (luma rows, luma columns) when both are whole runs of blocks, else None: derived, see __post_init__
    window: tuple[slice, slice] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        def run(luma: np.ndarray) -> slice | None:
            first = int(luma[0])
            whole = np.array_equal(luma, np.arange(first, first + len(luma)))
            return slice(first, first + len(luma)) if whole else None
        rows, cols = run(self.luma_rows), run(self.luma_cols)
        self.window = (rows, cols) if rows is not None and cols is not None else None

    @property
    def area(self) -> int:
        """Luma pixels of the compact frame."""
        return len(self.luma_rows) * len(self.luma_cols)


def _blocks(plan: CropPixels) -> _Blocks:
    def pairs(kept: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        used = np.unique(kept // 2)
        if len(used) >= WINDOW_DENSITY * (used[-1] - used[0] + 1):
            used = np.arange(used[0], used[-1] + 1)
        luma = np.minimum(np.stack([2 * used, 2 * used + 1], 1).reshape(-1), size - 1)
        position = 2 * np.searchsorted(used, kept // 2) + kept % 2
        return used, luma, position

    row_pairs, luma_rows, rows_at = pairs(plan.rows, plan.height)
    col_pairs, luma_cols, cols_at = pairs(plan.cols, plan.width)
    return _Blocks(row_pairs, col_pairs, luma_rows, luma_cols, rows_at, cols_at)


@dataclass
class FrameConverter:
    """Per stream: ``convert(frame)`` → (model input float32 [3, crop, crop], thumbnail uint8
    [thumb_height, w, 3]). ``rotation`` is the display rotation (degrees) to apply. Safe to call from several
    converter threads at once (``video.overlap``): FFmpeg scalers and scratch frames are kept per thread.

    ``mode``: "direct" (only the crop's pixels, converted by ``yuv_rgb``'s tables straight from the decoded
    planes), "compact" (only the crop's blocks or window are converted by FFmpeg), "whole" (whole frame, kept
    reformatter), "legacy" (``to_ndarray`` per frame, as before). "auto" picks direct for a crop of few scattered
    pixels, else compact, where proven equal on the stream's first frame (direct: also on every (Y, U, V),
    ``yuv_rgb.proven``), else whole, else legacy. "decoder-resize" (opt-in, NOT the recipe): FFmpeg's
    bilinear scaler resizes to the short side while converting, then the centre crop; its effect on logits
    and attention is measured in the bench (``bench.resize``). ``mode_used`` says which one runs. ``known`` hands over
    ``CropPixels`` computed elsewhere (keyed by displayed (height, width)).
    """

    prep: Preprocessing
    thumb_height: int = 96
    rotation: int = 0
    mode: str = "auto"
    mode_used: str | None = None
    known: dict = field(default_factory=dict)
    _local: threading.local = field(default_factory=threading.local, repr=False)  # reformatters per thread
    _choosing: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _plans: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in CONVERSION_MODES:
            raise ValueError(f"unknown conversion mode {self.mode!r}")
        self._mean = np.asarray(self.prep.mean, dtype=np.float32) * np.float32(255.0)
        self._std = np.asarray(self.prep.std, dtype=np.float32) * np.float32(255.0)

    @property
    def _rgb(self) -> VideoReformatter:
        return self._reformatter("rgb")

    @property
    def _thumb(self) -> VideoReformatter:
        return self._reformatter("thumb")

    @property
    def _small(self) -> VideoReformatter:  # compact frames' own size
        return self._reformatter("small")

    def _reformatter(self, job: str) -> VideoReformatter:
        """One FFmpeg scaler per job and thread: a scaler context is not shared between threads."""
        kept = self._local.__dict__
        if job not in kept:
            kept[job] = VideoReformatter()
        return kept[job]

    @property
    def turns(self) -> int:
        return (self.rotation // 90) % 4

    def plan_for(self, frame: av.VideoFrame) -> tuple[CropPixels, _Blocks | None]:
        """The crop's pixels for this frame's displayed size (cached per size)."""
        return self._plan_at(frame.width, frame.height)

    def _plan_at(self, coded_width: int, coded_height: int) -> tuple[CropPixels, _Blocks | None]:
        key = (coded_width, coded_height)
        if key not in self._plans:
            height, width = (coded_width, coded_height) if self.turns % 2 else (coded_height, coded_width)
            known = self.known.get((height, width))
            if known is not None:
                self._plans[key] = (known, _blocks(known) if self.turns == 0 else None)
            else:
                self._plans[key] = _planned(height, width, self.prep.resize_short_side, self.prep.crop_size,
                                            self.turns == 0)
        return self._plans[key]

    def converted_share(self, height: int, width: int) -> float:
        """The share of a displayed ``height`` x ``width`` frame's pixels this converter will turn to RGB per
        frame, as planned before the first frame is seen (1.0 where the whole frame is converted)."""
        if self.mode in ("whole", "legacy", "decoder-resize") or self.turns:
            return 1.0
        plan, blocks = self._plan_at(width, height)  # not turned: coded size = displayed size
        if self.mode in ("auto", "direct") and self._direct_fits(plan, blocks):
            return len(plan.rows) * len(plan.cols) / (height * width)
        limit = WINDOW_AREA if blocks.window is not None else COMPACT_AREA
        return blocks.area / (height * width) if blocks.area <= limit * height * width else 1.0

    def convert(self, frame: av.VideoFrame, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(model input float32 [3, crop, crop], thumbnail uint8 [h, w, 3]) of one decoded frame; the model input
        is written into ``out`` where given (its slot in a chunk: no copy afterwards, ``video.stream``)."""
        if self.mode == "decoder-resize":
            self.mode_used = self.mode
            return self._decoder_resized(frame, out), self.thumbnail(frame)
        plan, blocks = self.plan_for(frame)
        self._settle_mode(frame, plan, blocks)
        planes = _yuv_planes(frame)  # read once, for the crop's blocks and the thumbnail
        image, rows, cols = self._source(frame, plan, blocks, planes)
        return self._model_input(image, rows, cols, plan, out), self.thumbnail(frame, planes)

    def legacy_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        """The recipe's conversion: the whole frame, a fresh reformatter, rotation applied."""
        return self._rotate(frame.to_ndarray(format="rgb24"))

    def thumbnail(self, frame: av.VideoFrame, planes: tuple[np.ndarray, ...] | None = None) -> np.ndarray:
        """Area-averaged straight from YUV (no full-size RGB), aspect kept as ``make_thumbnails``: the Y, U and
        V planes averaged over boxes (``kernels.area_rgb``) and converted to RGB;
        FFmpeg's own area scaler where they cannot (other pixel formats, frames smaller than twice the thumbnail).
        ``planes``: the frame's ``_yuv_planes``, where the caller has them already."""
        height, width = (frame.width, frame.height) if self.turns % 2 else (frame.height, frame.width)
        thumb_w = max(1, int(round(width * self.thumb_height / height)))
        if thumb_w > self.thumb_height * MAX_THUMBNAIL_ASPECT:  # a panorama: make_thumbnails crops it to the cap
            from vtn_core.video.preprocess import make_thumbnails  # torch, only for this rare case

            return make_thumbnails(self._rotate(frame.to_ndarray(format="rgb24"))[None], self.thumb_height)[0]
        out_w, out_h = (self.thumb_height, thumb_w) if self.turns % 2 else (thumb_w, self.thumb_height)
        small = self._area_thumbnail(frame, out_w, out_h, planes)
        if small is None:
            small = self._thumb.reformat(frame, width=out_w, height=out_h, format="rgb24",
                                         interpolation=THUMBNAIL_INTERPOLATION, threads=1).to_ndarray()
        return self._rotate(small)

    def _area_thumbnail(self, frame: av.VideoFrame, out_w: int, out_h: int,
                        planes: tuple[np.ndarray, ...] | None = None) -> np.ndarray | None:
        """uint8 [out_h, out_w, 3] of a planar 4:2:0 frame by the area kernel, or ``None`` where it does not apply.
        ``planes``: the frame's ``_yuv_planes``, where the caller has them already."""
        boxes = kernels.thumbnail_boxes(frame.height, frame.width, out_h, out_w)  # kept per process (lru_cache)
        if boxes is None or frame.format.name not in AREA_FORMATS:
            return None
        return kernels.area_rgb(planes or _yuv_planes(frame), boxes, frame.colorspace, yuv_rgb.is_full_range(frame))

    # ---- the ways to convert ---------------------------------------------------------------------------
    def _settle_mode(self, frame: av.VideoFrame, plan: CropPixels, blocks: _Blocks | None) -> None:
        """Choose the conversion on the first frame (once, whichever converter thread gets there first)."""
        if self.mode_used is None:
            with self._choosing:
                if self.mode_used is None:
                    self.mode_used = self._choose(frame, plan, blocks)

    def _source(self, frame: av.VideoFrame, plan: CropPixels, blocks: _Blocks | None,
                planes: tuple[np.ndarray, ...] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(RGB rows uint8 [H, row bytes], where plan.rows lie in them, where plan.cols lie in bytes)."""
        if self.mode_used == "direct" and yuv_rgb.proven(frame):  # a frame whose colour setup or size changed
            rgb = self._direct(frame, plan, planes)                 # midway and is not proven: FFmpeg, whole
            return rgb, np.arange(len(plan.rows)), 3 * np.arange(len(plan.cols))
        if self.mode_used == "compact":
            rgb = self._compact_frame(frame, blocks, planes)
            return _rows_of(rgb), blocks.rows_in_compact, _bytes(rgb, blocks.cols_in_compact)
        if self.mode_used == "legacy" or self.turns:
            image = self.legacy_rgb(frame) if self.mode_used == "legacy" else self._whole(frame)
            return image.reshape(image.shape[0], -1), plan.rows, 3 * plan.cols
        return _rows_of(self._rgb.reformat(frame, format="rgb24", threads=1)), plan.rows, 3 * plan.cols

    def _model_input(self, image: np.ndarray, rows: np.ndarray, cols: np.ndarray, plan: CropPixels,
                     out: np.ndarray | None = None) -> np.ndarray:
        """The kernel on the RGB rows (no gathered copy), into ``out`` where given; numpy's ``model_input``
        where numba is missing."""
        if kernels.AVAILABLE:
            return kernels.crop_input(image, plan.taps, rows, cols, self._mean, self._std, out)
        pixels = model_input(_gathered(image, rows, cols)[None], plan, self.prep)[0]
        if out is None:
            return pixels
        out[...] = pixels
        return out

    def _direct_fits(self, plan: CropPixels, blocks: _Blocks | None, asked: bool = False) -> bool:
        """Whether the crop can be converted by ``yuv_rgb`` (frames not turned, compiled loops) and, unless
        ``asked`` for, is sparse enough for it to pay (not a window, at most ``DIRECT_AREA`` of the frame)."""
        if blocks is None or not kernels.AVAILABLE:
            return False
        return asked or (blocks.window is None
                         and len(plan.rows) * len(plan.cols) <= DIRECT_AREA * plan.height * plan.width)

    def _choose(self, frame: av.VideoFrame, plan: CropPixels, blocks: _Blocks | None) -> str:
        if self.mode == "direct" and not (self._direct_fits(plan, blocks, asked=True) and yuv_rgb.proven(frame)):
            return "compact" if blocks is not None and frame.format.name in COMPACT_FORMATS else "whole"
        if self.mode != "auto":
            if self.mode == "compact" and (blocks is None or frame.format.name not in COMPACT_FORMATS):
                return "whole"
            return self.mode
        # every candidate's model input must equal, bit for bit, the one made from the recipe's whole-frame RGB
        legacy = self.legacy_rgb(frame)
        expected = self._model_input(legacy.reshape(legacy.shape[0], -1), plan.rows, 3 * plan.cols, plan)

        def agrees(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> bool:
            return bool(np.array_equal(self._model_input(image, rows, cols, plan), expected))

        if self._direct_fits(plan, blocks) and yuv_rgb.proven(frame):
            direct = self._direct(frame, plan, _yuv_planes(frame))
            if agrees(direct, np.arange(len(plan.rows)), 3 * np.arange(len(plan.cols))):
                return "direct"
        small = blocks is not None and blocks.area <= plan.height * plan.width * \
            (WINDOW_AREA if blocks.window is not None else COMPACT_AREA)
        if small and frame.format.name in COMPACT_FORMATS:
            try:
                compact = self._compact_frame(frame, blocks)
                if agrees(_rows_of(compact), blocks.rows_in_compact, _bytes(compact, blocks.cols_in_compact)):
                    return "compact"
            except (ValueError, av.FFmpegError):
                pass
        try:
            whole = self._whole(frame)
            if agrees(whole.reshape(whole.shape[0], -1), plan.rows, 3 * plan.cols):
                return "whole"
        except (ValueError, av.FFmpegError):
            pass
        return "legacy"

    def _decoder_resized(self, frame: av.VideoFrame, out: np.ndarray | None = None) -> np.ndarray:
        """Short side scaled by FFmpeg while converting (bilinear), centre crop, mean/std: float32 [3, c, c]."""
        from math import ceil, floor

        height, width = (frame.width, frame.height) if self.turns % 2 else (frame.height, frame.width)
        side, crop = self.prep.resize_short_side, self.prep.crop_size
        if width <= height:
            new_h, new_w = (height, width) if width == side else (int(floor(height / width * side)), side)
        else:
            new_h, new_w = (height, width) if height == side else (side, int(floor(width / height * side)))
        if new_h < crop or new_w < crop:
            raise ValueError(f"frames of {new_w}x{new_h} are smaller than the {crop}px crop")
        out_w, out_h = (new_h, new_w) if self.turns % 2 else (new_w, new_h)
        image = self._rotate(self._rgb.reformat(frame, width=out_w, height=out_h, format="rgb24",
                                                interpolation="BILINEAR", threads=1).to_ndarray())
        top, left = int(ceil((new_h - crop) / 2)), int(ceil((new_w - crop) / 2))
        block = np.ascontiguousarray(image[top:top + crop, left:left + crop])
        plain = CropPixels(crop, crop, np.arange(crop), np.arange(crop), None)
        return self._model_input(block.reshape(crop, -1), plain.rows, 3 * plain.cols, plain, out)

    def _direct(self, frame: av.VideoFrame, plan: CropPixels, planes: tuple[np.ndarray, ...]) -> np.ndarray:
        """The plan's pixels uint8 [R, 3 C] by ``yuv_rgb``'s tables, into a buffer kept for this thread."""
        key = ("direct", len(plan.rows), len(plan.cols))
        kept = self._local.__dict__
        if key not in kept:
            kept[key] = np.empty((len(plan.rows), 3 * len(plan.cols)), np.uint8)
        return yuv_rgb.convert_pixels(planes, plan.rows, plan.cols, frame.colorspace, yuv_rgb.is_full_range(frame),
                                      kept[key])

    def _whole(self, frame: av.VideoFrame) -> np.ndarray:
        return self._rotate(self._rgb.reformat(frame, format="rgb24", threads=1).to_ndarray())

    def _compact_frame(self, frame: av.VideoFrame, blocks: _Blocks,
                       planes: tuple[np.ndarray, ...] | None = None) -> av.VideoFrame:
        """An RGB frame of only the 2 x 2 blocks the crop reads, converted by FFmpeg (``planes``: the frame's
        ``_yuv_planes``, where the caller has them)."""
        height, width = frame.height, frame.width
        planes = planes or _yuv_planes(frame)
        half_h, half_w = (height + 1) // 2, (width + 1) // 2
        rows, cols = len(blocks.luma_rows), len(blocks.luma_cols)
        target = "yuvj420p" if frame.format.name == "yuvj420p" else "yuv420p"
        window = blocks.window
        if window is not None and frame.format.name != "nv12":  # whole runs of rows and columns: slices
            compact, into = self._kept_frame(cols, rows, target)
            for i, (row_slice, col_slice) in enumerate((window, *[_halved(window)] * 2)):
                part = planes[i][row_slice, col_slice]
                into[i][:part.shape[0], :part.shape[1]] = part
        elif frame.format.name == "nv12" or not kernels.AVAILABLE:
            luma = planes[0][:height, :width][blocks.luma_rows][:, blocks.luma_cols]
            if frame.format.name == "nv12":
                both = planes[1][:half_h, :2 * half_w][blocks.row_pairs]
                u, v = both[:, 2 * blocks.col_pairs], both[:, 2 * blocks.col_pairs + 1]
            else:
                u = planes[1][:half_h, :half_w][blocks.row_pairs][:, blocks.col_pairs]
                v = planes[2][:half_h, :half_w][blocks.row_pairs][:, blocks.col_pairs]
            packed = np.concatenate([luma.reshape(-1), u.reshape(-1), v.reshape(-1)]).reshape(-1, cols)
            compact = av.VideoFrame.from_ndarray(packed, format=target)
        else:  # straight into a frame kept for this thread (no gathered copies, no allocation)
            compact, into = self._kept_frame(cols, rows, target)
            kernels.pack_blocks(planes, blocks.luma_rows, blocks.luma_cols, blocks.row_pairs, blocks.col_pairs, into)
        compact.color_range = frame.color_range
        rgb_format = PACKED_FORMAT if compact.width % PACKED_WIDTH_MULTIPLE == 0 else "rgb24"
        return self._small.reformat(compact, format=rgb_format, src_colorspace=frame.colorspace, threads=1)

    def _kept_frame(self, width: int, height: int, pixel_format: str) -> tuple[av.VideoFrame, tuple[np.ndarray, ...]]:
        """A frame kept for this thread, refilled for every compact conversion (its top left ``width`` x ``height``;
        it is widened to a multiple of ``PACKED_WIDTH_MULTIPLE`` with black columns), and its planes
        (``_yuv_planes``: views of its buffers, which stay where they are)."""
        key = ("compact", width, height, pixel_format)
        kept = self._local.__dict__
        if key not in kept:
            frame = av.VideoFrame(-(-width // PACKED_WIDTH_MULTIPLE) * PACKED_WIDTH_MULTIPLE, height, pixel_format)
            planes = _yuv_planes(frame)
            for plane, value in zip(planes, (0, 128, 128)):
                plane[...] = value
            kept[key] = (frame, planes)
        return kept[key]

    def _rotate(self, image: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.rot90(image, self.turns)) if self.turns else image


@lru_cache(maxsize=64)
def _planned(height: int, width: int, short_side: int, crop: int, with_blocks: bool) -> tuple[CropPixels, _Blocks | None]:
    """The crop's pixels (``crop_pixels``, kept per process) and, for frames not turned, their blocks, kept too."""
    plan = crop_pixels(height, width, Preprocessing(resize_short_side=short_side, crop_size=crop))
    return plan, (_blocks(plan) if with_blocks else None)


def _plane_rows(frame: av.VideoFrame, index: int) -> np.ndarray:
    """Plane ``index`` as uint8 [rows, line size] (C-contiguous, padding included), no copy."""
    return _rows(frame.planes[index])


def _yuv_planes(frame: av.VideoFrame) -> tuple[np.ndarray, ...]:
    """Every plane of ``frame`` as ``_plane_rows`` does it, the planes read once."""
    return tuple(_rows(plane) for plane in frame.planes)


def _rows(plane) -> np.ndarray:
    return np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)


def _halved(window: tuple[slice, slice]) -> tuple[slice, slice]:
    """The chroma rows and columns of a luma window that starts on even rows and columns."""
    return tuple(slice(part.start // 2, (part.stop + 1) // 2) for part in window)


def _bytes(rgb: av.VideoFrame, cols: np.ndarray) -> np.ndarray:
    """Where columns ``cols`` of a packed RGB frame's rows begin, in bytes."""
    return _PIXEL_BYTES[rgb.format.name] * cols


_PIXEL_BYTES = {"rgb24": 3, PACKED_FORMAT: 4}


def _rows_of(rgb: av.VideoFrame) -> np.ndarray:
    """A packed RGB frame's pixel rows uint8 [H, line size] without a copy (the array keeps the frame alive)."""
    return _plane_rows(rgb, 0)[:rgb.height]


def _gathered(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """uint8 [len(rows), len(cols), 3] from RGB rows ``image`` [H, row bytes] (``cols`` in bytes)."""
    columns = (cols[:, None] + np.arange(3)).reshape(-1)
    return image[rows][:, columns].reshape(len(rows), len(cols), 3)
