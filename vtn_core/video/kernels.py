"""Compiled pixel loops (numba, ``nogil``) for the per-frame jobs that numpy does slowly.

``crop_input``: the model input of one frame, read straight from the converted RGB rows (no gathered copy),
with the float32 operations of ``convert.model_input`` in the same order, so the same bits (tests compare
them). ``area_rgb``: a thumbnail averaged over boxes of a 4:2:0 frame's Y, U and V planes (up to
``SAMPLES_PER_BOX`` evenly spaced rows and columns of each box), then converted to RGB. ``yuv_pixels``: the RGB
of chosen pixels of a 4:2:0 frame by FFmpeg's fixed-point tables (``video.yuv_rgb``, which proves them first).

Both release the GIL, so a converter thread runs on one core while the decoder runs on another. Compiled
on first use and cached on disk (numba's cache: ``__pycache__`` here, or the user cache when that is
read-only). Where numba is not installed (or in decode workers), ``AVAILABLE`` is False and callers keep
their numpy paths; ``area_rgb`` has a numpy twin that gives the same thumbnails.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

# decode worker processes run without (``VTN_COMPILED_LOOPS=0``): importing numba costs ~100 MB and loading
# the compiled loops ~50 MB per process, for conversion that is a few % of a long video's decoding there
COMPILED = os.environ.get("VTN_COMPILED_LOOPS", "1") != "0"
try:  # numba is a declared dependency; without it the converter uses numpy (the same numbers)
    if not COMPILED:
        raise ImportError("compiled loops switched off")
    import numba

    AVAILABLE = True
except ImportError:
    numba = None
    AVAILABLE = False

# a thumbnail pixel averages up to 3 x 3 evenly spaced samples of its box (a 720p frame's 7.5 x 7.5-pixel
# boxes: 9 of ~56 pixels, 40% of the rows read): thumbnails only, never the model input; sums fit uint16
SAMPLES_PER_BOX = 3


# float32(v) for every byte v: a table lookup is cheaper than converting in the crop's inner loop, same value
_BYTE_VALUES = np.arange(256, dtype=np.float32)


def _compile(function):
    return numba.njit(nogil=True, cache=True)(function) if AVAILABLE else function


@_compile
def _within(indices, size, extra):
    """Every index (plus ``extra``) inside 0 .. size - 1: the loops do not check their indices themselves."""
    for value in indices.ravel():
        if value < 0 or value + extra >= size:
            return False
    return True


@_compile
def _bilinear(image, rows0, rows1, row_w0, row_w1, cols0, cols1, col_w0, col_w1, mean, std, out):
    if not (_within(rows0, image.shape[0], 0) and _within(rows1, image.shape[0], 0)
            and _within(cols0, image.shape[1], 2) and _within(cols1, image.shape[1], 2)):
        raise ValueError("a crop index lies outside the frame")
    width = cols0.shape[0]
    blended = np.empty((3, width), np.float32)
    for y in range(rows0.shape[0]):
        upper, lower, weight_upper, weight_lower = image[rows0[y]], image[rows1[y]], row_w0[y], row_w1[y]
        for x in range(width):  # gathers: one pixel at a time, its three channels together
            left, right, weight_left, weight_right = cols0[x], cols1[x], col_w0[x], col_w1[x]
            for channel in range(3):
                top = _BYTE_VALUES[upper[left + channel]] * weight_left
                top += _BYTE_VALUES[upper[right + channel]] * weight_right
                top *= weight_upper
                bottom = _BYTE_VALUES[lower[left + channel]] * weight_left
                bottom += _BYTE_VALUES[lower[right + channel]] * weight_right
                bottom *= weight_lower
                blended[channel, x] = top + bottom
        for channel in range(3):  # contiguous: the mean and the division run on vectors
            row, values, channel_mean, channel_std = out[channel, y], blended[channel], mean[channel], std[channel]
            for x in range(width):
                row[x] = (values[x] - channel_mean) / channel_std


@_compile
def _plain(image, rows, cols, mean, std, out):
    if not (_within(rows, image.shape[0], 0) and _within(cols, image.shape[1], 2)):
        raise ValueError("a crop index lies outside the frame")
    for y in range(rows.shape[0]):
        row = rows[y]
        for x in range(cols.shape[0]):
            col = cols[x]
            for channel in range(3):
                value = np.float32(image[row, col + channel])
                value -= mean[channel]
                value /= std[channel]
                out[channel, y, x] = value


@_compile
def _row_sums(plane, rows, i, width, counts, sums):
    """Row ``i`` of the boxes: the sum of its sampled rows of ``plane`` (columns 0 .. width - 1) as float32."""
    first, step, count = rows[i, 0], rows[i, 1], rows[i, 2]
    source = plane[first]
    for c in range(width):
        counts[c] = np.uint16(source[c])
    for t in range(1, count):
        source = plane[first + t * step]
        for c in range(width):
            counts[c] += np.uint16(source[c])
    for c in range(width):
        sums[c] = np.float32(counts[c])


@_compile
def _fits(rows, taps, plane_rows, width):
    """Every sampled row inside the plane and every column tap inside 0 .. width (width: the zero pad)."""
    for i in range(rows.shape[0]):
        if rows[i, 0] < 0 or rows[i, 1] < 1 or rows[i, 2] < 1 or rows[i, 0] + rows[i, 1] * (rows[i, 2] - 1) >= plane_rows:
            return False
    return _within(taps, width + 1, 0)


@_compile
def _area_rgb(luma, chroma_u, chroma_v, width, chroma_width, luma_rows, luma_taps, luma_inverse, chroma_rows,
              chroma_taps, chroma_inverse, matrix, full_range, out):
    out_h, out_w = out.shape[0], out.shape[1]
    if (width > luma.shape[1] or chroma_width > min(chroma_u.shape[1], chroma_v.shape[1])
            or luma_rows.shape[0] != out_h or chroma_rows.shape[0] != out_h
            or luma_taps.shape[1] != out_w or chroma_taps.shape[1] != out_w
            or luma_inverse.shape[0] != out_w or chroma_inverse.shape[0] != out_w
            or not _fits(luma_rows, luma_taps, luma.shape[0], width)
            or not _fits(chroma_rows, chroma_taps, min(chroma_u.shape[0], chroma_v.shape[0]), chroma_width)):
        raise ValueError("thumbnail boxes do not fit the planes")
    counts = np.empty(width, np.uint16)
    sum_y = np.zeros(width + 1, np.float32)  # the last entry stays 0: where absent samples point
    sum_u = np.zeros(chroma_width + 1, np.float32)
    sum_v = np.zeros(chroma_width + 1, np.float32)
    box_y = np.empty(out_w, np.float32)
    box_u = np.empty(out_w, np.float32)
    box_v = np.empty(out_w, np.float32)
    luma_scale = np.float32(1.0) if full_range else np.float32(255.0 / 219.0)
    chroma_scale = np.float32(1.0) if full_range else np.float32(255.0 / 224.0)
    luma_offset = (np.float32(0.0) if full_range else np.float32(16.0)) * luma_scale
    chroma_offset = np.float32(128.0) * chroma_scale
    flat = out.reshape(out_h, out_w * 3)
    for i in range(out_h):
        _row_sums(luma, luma_rows, i, width, counts, sum_y)
        _row_sums(chroma_u, chroma_rows, i, chroma_width, counts, sum_u)
        _row_sums(chroma_v, chroma_rows, i, chroma_width, counts, sum_v)
        for j in range(out_w):
            box_y[j] = sum_y[luma_taps[0, j]] + sum_y[luma_taps[1, j]] + sum_y[luma_taps[2, j]]
            a, b, c = chroma_taps[0, j], chroma_taps[1, j], chroma_taps[2, j]
            box_u[j] = sum_u[a] + sum_u[b] + sum_u[c]
            box_v[j] = sum_v[a] + sum_v[b] + sum_v[c]
        luma_k = luma_scale / np.float32(luma_rows[i, 2])
        chroma_k = chroma_scale / np.float32(chroma_rows[i, 2])
        row = flat[i]
        for j in range(out_w):
            yy = box_y[j] * luma_inverse[j] * luma_k - luma_offset
            weight = chroma_inverse[j] * chroma_k
            uu = box_u[j] * weight - chroma_offset
            vv = box_v[j] * weight - chroma_offset
            for channel in range(3):
                value = yy + matrix[channel, 0] * uu + matrix[channel, 1] * vv + np.float32(0.5)
                row[3 * j + channel] = np.uint8(min(max(value, np.float32(0.0)), np.float32(255.0)))


@_compile
def _pack_blocks(luma, chroma_u, chroma_v, luma_rows, luma_cols, row_pairs, col_pairs, out_y, out_u, out_v):
    if not (_within(luma_rows, luma.shape[0], 0) and _within(luma_cols, luma.shape[1], 0)
            and _within(row_pairs, min(chroma_u.shape[0], chroma_v.shape[0]), 0)
            and _within(col_pairs, min(chroma_u.shape[1], chroma_v.shape[1]), 0)
            and out_y.shape[0] >= luma_rows.shape[0] and out_y.shape[1] >= luma_cols.shape[0]
            and min(out_u.shape[0], out_v.shape[0]) >= row_pairs.shape[0]
            and min(out_u.shape[1], out_v.shape[1]) >= col_pairs.shape[0]):
        raise ValueError("a block index lies outside the frame")
    for i in range(luma_rows.shape[0]):
        source, target = luma[luma_rows[i]], out_y[i]
        for j in range(luma_cols.shape[0]):
            target[j] = source[luma_cols[j]]
    for i in range(row_pairs.shape[0]):
        source_u, source_v, target_u, target_v = chroma_u[row_pairs[i]], chroma_v[row_pairs[i]], out_u[i], out_v[i]
        for j in range(col_pairs.shape[0]):
            target_u[j] = source_u[col_pairs[j]]
            target_v[j] = source_v[col_pairs[j]]


@_compile
def _yuv_pixels(luma, chroma_u, chroma_v, rows, cols, from_y, red_v, green_u, green_v, blue_u, out):
    if not (_within(rows, luma.shape[0], 0) and _within(cols, luma.shape[1], 0)
            and _within(rows >> 1, min(chroma_u.shape[0], chroma_v.shape[0]), 0)
            and _within(cols >> 1, min(chroma_u.shape[1], chroma_v.shape[1]), 0)
            and out.shape[0] >= rows.shape[0] and out.shape[1] >= 3 * cols.shape[0]):
        raise ValueError("a pixel index lies outside the frame")
    for i in range(rows.shape[0]):
        row = rows[i]
        source_y, source_u, source_v, target = luma[row], chroma_u[row >> 1], chroma_v[row >> 1], out[i]
        for j in range(cols.shape[0]):
            col = cols[j]
            y, u, v = from_y[source_y[col]], source_u[col >> 1], source_v[col >> 1]
            target[3 * j] = min(max(y + red_v[v], 0), 255)
            target[3 * j + 1] = min(max(y + green_u[u] + green_v[v], 0), 255)
            target[3 * j + 2] = min(max(y + blue_u[u], 0), 255)


def yuv_pixels(planes: tuple[np.ndarray, np.ndarray, np.ndarray], rows: np.ndarray, cols: np.ndarray,
               tables: np.ndarray, out: np.ndarray) -> np.ndarray:
    """RGB of the ``rows`` x ``cols`` pixels of planar 4:2:0 ``planes`` (rows padded to their line size) into
    ``out`` uint8 [len(rows), 3 len(cols)] (or larger; its top left is written): each channel the clipped sum
    of ``tables`` int32 [5, 256] entries (Y, then V for red, U and V for green, U for blue; ``video.yuv_rgb``)."""
    _yuv_pixels(planes[0], planes[1], planes[2], rows, cols, tables[0], tables[1], tables[2], tables[3], tables[4],
                out)
    return out


def crop_input(image: np.ndarray, taps: tuple[np.ndarray, ...] | None, rows: np.ndarray, cols: np.ndarray,
               mean: np.ndarray, std: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """float32 [3, crop, crop] from ``image`` uint8 [H, row bytes] (RGB rows, 3 bytes a pixel, any padding).

    ``rows``/``cols``: where the plan's rows and columns lie in ``image`` (columns in bytes); ``taps``: the
    plan's bilinear taps into them (``None``: a plain crop); ``mean``/``std``: float32 [3], already x 255;
    ``out``: where to write it (e.g. a frame's slot in its chunk; a new array where ``None``)."""
    side_rows, side_cols = (len(rows), len(cols)) if taps is None else (len(taps[0]), len(taps[4]))
    if out is None:
        out = np.empty((3, side_rows, side_cols), np.float32)
    elif out.shape != (3, side_rows, side_cols) or out.dtype != np.float32:
        raise ValueError(f"out must be float32 {(3, side_rows, side_cols)}, got {out.dtype} {out.shape}")
    if taps is None:
        _plain(image, rows, cols, mean, std, out)
        return out
    r0, r1, h0, h1, c0, c1, w0, w1 = taps
    _bilinear(image, rows[r0], rows[r1], h0, h1, cols[c0], cols[c1], w0, w1, mean, std, out)
    return out


def box_samples(size: int, count: int) -> np.ndarray:
    """int64 [count, 3]: for ``count`` boxes of nearly equal length tiling ``0 .. size`` (size >= count), the
    (first, step, how many) of the at most ``SAMPLES_PER_BOX`` evenly spaced, centred positions each averages."""
    edges = (np.arange(count + 1, dtype=np.int64) * size) // count
    length = np.diff(edges)
    step = np.maximum(1, -(-length // SAMPLES_PER_BOX))
    taken = (length - 1) // step + 1
    first = edges[:-1] + (length - 1 - step * (taken - 1)) // 2
    return np.stack([first, step, taken], axis=1)


@dataclass(frozen=True)
class ThumbnailBoxes:
    """Where each thumbnail pixel samples a planar 4:2:0 frame: per output row the (first, step, how many) of
    its luma and chroma rows (``box_samples``); per output column up to 3 luma and 3 chroma column taps (a
    missing sample points one past the plane's width, at a zero) and 1 / the number of columns sampled."""

    width: int  # the frame's
    luma_rows: np.ndarray  # int64 [out_h, 3]
    chroma_rows: np.ndarray
    luma_taps: np.ndarray  # int64 [3, out_w]
    chroma_taps: np.ndarray
    luma_inverse: np.ndarray  # float32 [out_w]
    chroma_inverse: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """(out_h, out_w)."""
        return len(self.luma_rows), len(self.luma_inverse)


def _column_taps(size: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    boxes = box_samples(size, count)
    first, step, taken = boxes.T
    taps = np.stack([np.where(t < taken, first + t * step, size) for t in range(SAMPLES_PER_BOX)])
    return np.ascontiguousarray(taps), (np.float32(1.0) / taken.astype(np.float32))


@lru_cache(maxsize=64)
def thumbnail_boxes(height: int, width: int, out_h: int, out_w: int) -> ThumbnailBoxes | None:
    """The sampling of a ``height`` x ``width`` 4:2:0 frame into an ``out_h`` x ``out_w`` thumbnail, or ``None``
    where the chroma planes are smaller than the thumbnail (the caller scales another way)."""
    chroma_h, chroma_w = (height + 1) // 2, (width + 1) // 2
    if chroma_h < out_h or chroma_w < out_w or out_h < 1 or out_w < 1:
        return None
    luma_taps, luma_inverse = _column_taps(width, out_w)
    chroma_taps, chroma_inverse = _column_taps(chroma_w, out_w)
    return ThumbnailBoxes(width, box_samples(height, out_h), box_samples(chroma_h, out_h),
                          luma_taps, chroma_taps, luma_inverse, chroma_inverse)


# Kr, Kb of FFmpeg's colour spaces by AVColorSpace number (swscale's choice: anything else is BT.601)
_KR_KB = {1: (0.2126, 0.0722), 4: (0.30, 0.11), 7: (0.212, 0.087), 9: (0.2627, 0.0593), 10: (0.2627, 0.0593)}
_BT601 = (0.299, 0.114)


@lru_cache(maxsize=None)
def colour_matrix(colorspace: int) -> np.ndarray:
    """float32 [3, 2] (read-only): each of R, G, B = Y + a U + b V (U, V centred) for FFmpeg colour space
    ``colorspace``."""
    kr, kb = _KR_KB.get(int(colorspace), _BT601)
    kg = 1.0 - kr - kb
    matrix = np.asarray([[0.0, 2 * (1 - kr)],
                         [-2 * kb * (1 - kb) / kg, -2 * kr * (1 - kr) / kg],
                         [2 * (1 - kb), 0.0]], dtype=np.float32)
    matrix.flags.writeable = False
    return matrix


def area_rgb(planes: tuple[np.ndarray, np.ndarray, np.ndarray], boxes: ThumbnailBoxes, colorspace: int,
             full_range: bool) -> np.ndarray:
    """uint8 [out_h, out_w, 3]: a planar 4:2:0 image's Y, U and V (rows padded to their line size) averaged
    over ``boxes``, then converted to RGB (limited or full range, as FFmpeg reads ``colorspace``)."""
    matrix = colour_matrix(int(colorspace))
    if not AVAILABLE:
        return _area_rgb_numpy(planes, boxes, matrix, bool(full_range))
    out = np.empty((*boxes.shape, 3), np.uint8)
    _area_rgb(planes[0], planes[1], planes[2], boxes.width, (boxes.width + 1) // 2, boxes.luma_rows,
              boxes.luma_taps, boxes.luma_inverse, boxes.chroma_rows, boxes.chroma_taps, boxes.chroma_inverse,
              matrix, bool(full_range), out)
    return out


def _box_sums_numpy(plane: np.ndarray, width: int, rows: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """float32 [out_h, out_w]: ``_row_sums`` and the taps' sum of ``_area_rgb``, in the same order."""
    if rows.size and ((rows[:, 0] + rows[:, 1] * (rows[:, 2] - 1)).max() >= plane.shape[0] or rows.min() < 0
                      or taps.min() < 0 or taps.max() > width or width > plane.shape[1]):
        raise ValueError("thumbnail boxes do not fit the planes")
    counts = np.zeros((len(rows), width), np.uint16)
    for t in range(int(rows[:, 2].max(initial=0))):
        taken = rows[:, 2] > t
        counts[taken] += plane[rows[taken, 0] + t * rows[taken, 1], :width]
    sums = np.zeros((len(rows), width + 1), np.float32)
    sums[:, :width] = counts
    return (sums[:, taps[0]] + sums[:, taps[1]]) + sums[:, taps[2]]


def _area_rgb_numpy(planes: tuple[np.ndarray, np.ndarray, np.ndarray], boxes: ThumbnailBoxes,
                    matrix: np.ndarray, full_range: bool) -> np.ndarray:
    """``_area_rgb`` in numpy, the float32 operations in the same order: the same thumbnail."""
    chroma_width = (boxes.width + 1) // 2
    box_y = _box_sums_numpy(planes[0], boxes.width, boxes.luma_rows, boxes.luma_taps)
    box_u = _box_sums_numpy(planes[1], chroma_width, boxes.chroma_rows, boxes.chroma_taps)
    box_v = _box_sums_numpy(planes[2], chroma_width, boxes.chroma_rows, boxes.chroma_taps)
    luma_scale = np.float32(1.0) if full_range else np.float32(255.0 / 219.0)
    chroma_scale = np.float32(1.0) if full_range else np.float32(255.0 / 224.0)
    luma_offset = (np.float32(0.0) if full_range else np.float32(16.0)) * luma_scale
    chroma_offset = np.float32(128.0) * chroma_scale
    luma_k = (luma_scale / boxes.luma_rows[:, 2].astype(np.float32))[:, None]
    chroma_k = (chroma_scale / boxes.chroma_rows[:, 2].astype(np.float32))[:, None]
    yy = box_y * boxes.luma_inverse * luma_k - luma_offset
    weight = boxes.chroma_inverse * chroma_k
    uu = box_u * weight - chroma_offset
    vv = box_v * weight - chroma_offset
    channels = [np.clip(yy + matrix[c, 0] * uu + matrix[c, 1] * vv + np.float32(0.5), 0, 255) for c in range(3)]
    return np.stack(channels, axis=-1).astype(np.uint8)


def pack_blocks(planes: tuple[np.ndarray, np.ndarray, np.ndarray], luma_rows: np.ndarray, luma_cols: np.ndarray,
                row_pairs: np.ndarray, col_pairs: np.ndarray,
                into: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    """Copy the chosen luma rows x columns and chroma rows x columns of planar 4:2:0 ``planes`` into the top
    left of ``into`` (a frame's planes, rows padded to their line size)."""
    _pack_blocks(planes[0], planes[1], planes[2], luma_rows, luma_cols, row_pairs, col_pairs, *into)


def warm_up() -> None:
    """Compile (or load from numba's cache) every kernel now, on tiny inputs, so no first analysis waits."""
    if not AVAILABLE:
        return
    image = np.zeros((4, 12), np.uint8)
    index, weight = np.zeros(2, np.int64), np.ones(2, np.float32)
    mean, std = np.zeros(3, np.float32), np.ones(3, np.float32)
    crop_input(image, None, index, index, mean, std)
    crop_input(image, (index, index, weight, weight, index, index, weight, weight), index, index, mean, std)
    planes = (np.zeros((4, 4), np.uint8), np.zeros((2, 2), np.uint8), np.zeros((2, 2), np.uint8))
    area_rgb(planes, thumbnail_boxes(4, 4, 2, 2), 1, False)
    into = tuple(np.zeros((size, 32), np.uint8) for size in (2, 1, 1))  # a frame's planes, padded rows
    pack_blocks(planes, np.arange(2), np.arange(2), np.arange(1), np.arange(1), into)
    tables = np.zeros((5, 256), np.int32)
    tables.flags.writeable = False  # read-only, as ``yuv_rgb.tables`` hands them over (numba types it apart)
    yuv_pixels(planes, np.arange(2), np.arange(2), tables, np.zeros((2, 6), np.uint8))
