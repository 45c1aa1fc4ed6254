"""Compiled pixel loops (numba, ``nogil``) for the two per-frame jobs that numpy does slowly.

``crop_input``: the model input of one frame, read straight from the converted RGB rows (no gathered copy),
with the float32 operations of ``convert.model_input`` in the same order, so the same bits (tests compare
them). ``area_rgb``: a thumbnail averaged over boxes of a 4:2:0 frame's Y, U and V planes (up to
``SAMPLES_PER_BOX`` evenly spaced rows and columns of each box), then converted to RGB.

Both release the GIL, so a converter thread runs on one core while the decoder runs on another. Compiled
on first use and cached on disk (numba's cache: ``__pycache__`` here, or the user cache when that is
read-only). Where numba is not installed (or in decode workers), ``AVAILABLE`` is False and callers keep
their numpy paths; ``area_rgb`` has a numpy twin that gives the same thumbnails.
"""
from __future__ import annotations

import os

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
    for y in range(rows0.shape[0]):
        upper, lower, weight_upper, weight_lower = rows0[y], rows1[y], row_w0[y], row_w1[y]
        for x in range(cols0.shape[0]):
            left, right, weight_left, weight_right = cols0[x], cols1[x], col_w0[x], col_w1[x]
            for channel in range(3):
                top = np.float32(image[upper, left + channel]) * weight_left
                top += np.float32(image[upper, right + channel]) * weight_right
                top *= weight_upper
                bottom = np.float32(image[lower, left + channel]) * weight_left
                bottom += np.float32(image[lower, right + channel]) * weight_right
                bottom *= weight_lower
                value = top + bottom
                value -= mean[channel]
                value /= std[channel]
                out[channel, y, x] = value


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
def _area(plane, width, rows, cols, out):
    out_h, out_w = out.shape
    if width > plane.shape[1] or rows.shape[0] < out_h or cols.shape[0] < out_w:
        raise ValueError("thumbnail boxes do not fit the plane")
    for i in range(out_h):
        if rows[i, 0] < 0 or rows[i, 1] < 1 or rows[i, 0] + rows[i, 1] * (rows[i, 2] - 1) >= plane.shape[0]:
            raise ValueError("a thumbnail row lies outside the plane")
    for j in range(out_w):
        if cols[j, 0] < 0 or cols[j, 1] < 1 or cols[j, 0] + cols[j, 1] * (cols[j, 2] - 1) >= width:
            raise ValueError("a thumbnail column lies outside the plane")
    rows_sum = np.empty(width, np.uint16)
    for i in range(out_h):
        rows_sum[:] = 0
        for t in range(rows[i, 2]):
            source = plane[rows[i, 0] + t * rows[i, 1]]
            for c in range(width):
                rows_sum[c] = rows_sum[c] + np.uint16(source[c])
        for j in range(out_w):
            total = np.uint32(0)
            for t in range(cols[j, 2]):
                total += rows_sum[cols[j, 0] + t * cols[j, 1]]
            out[i, j] = np.uint8(np.float32(total) / np.float32(rows[i, 2] * cols[j, 2]) + np.float32(0.5))


@_compile
def _area_rgb(luma, chroma_u, chroma_v, width, chroma_width, luma_rows, luma_cols, chroma_rows, chroma_cols,
              matrix, full_range, out):  # boxes: (first, step, count) per output row / column
    out_h, out_w = out.shape[0], out.shape[1]
    y = np.empty((out_h, out_w), np.uint8)
    u = np.empty((out_h, out_w), np.uint8)
    v = np.empty((out_h, out_w), np.uint8)
    _area(luma, width, luma_rows, luma_cols, y)
    _area(chroma_u, chroma_width, chroma_rows, chroma_cols, u)
    _area(chroma_v, chroma_width, chroma_rows, chroma_cols, v)
    luma_scale = np.float32(1.0) if full_range else np.float32(255.0 / 219.0)
    chroma_scale = np.float32(1.0) if full_range else np.float32(255.0 / 224.0)
    luma_zero = np.float32(0.0) if full_range else np.float32(16.0)
    for i in range(out_h):
        for j in range(out_w):
            yy = (np.float32(y[i, j]) - luma_zero) * luma_scale
            uu = (np.float32(u[i, j]) - np.float32(128.0)) * chroma_scale
            vv = (np.float32(v[i, j]) - np.float32(128.0)) * chroma_scale
            for channel in range(3):
                value = yy + matrix[channel, 0] * uu + matrix[channel, 1] * vv + np.float32(0.5)
                out[i, j, channel] = np.uint8(min(max(value, np.float32(0.0)), np.float32(255.0)))


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


def crop_input(image: np.ndarray, taps: tuple[np.ndarray, ...] | None, rows: np.ndarray, cols: np.ndarray,
               mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """float32 [3, crop, crop] from ``image`` uint8 [H, row bytes] (RGB rows, 3 bytes a pixel, any padding).

    ``rows``/``cols``: where the plan's rows and columns lie in ``image`` (columns in bytes); ``taps``: the
    plan's bilinear taps into them (``None``: a plain crop); ``mean``/``std``: float32 [3], already x 255."""
    if taps is None:
        out = np.empty((3, len(rows), len(cols)), np.float32)
        _plain(image, rows, cols, mean, std, out)
        return out
    r0, r1, h0, h1, c0, c1, w0, w1 = taps
    out = np.empty((3, len(r0), len(c0)), np.float32)
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


# Kr, Kb of FFmpeg's colour spaces by AVColorSpace number (swscale's choice: anything else is BT.601)
_KR_KB = {1: (0.2126, 0.0722), 4: (0.30, 0.11), 7: (0.212, 0.087), 9: (0.2627, 0.0593), 10: (0.2627, 0.0593)}
_BT601 = (0.299, 0.114)


def colour_matrix(colorspace: int) -> np.ndarray:
    """float32 [3, 2]: each of R, G, B = Y + a U + b V (U, V centred) for FFmpeg colour space ``colorspace``."""
    kr, kb = _KR_KB.get(int(colorspace), _BT601)
    kg = 1.0 - kr - kb
    return np.asarray([[0.0, 2 * (1 - kr)],
                       [-2 * kb * (1 - kb) / kg, -2 * kr * (1 - kr) / kg],
                       [2 * (1 - kb), 0.0]], dtype=np.float32)


def area_rgb(planes: tuple[np.ndarray, np.ndarray, np.ndarray], width: int, boxes: tuple[np.ndarray, ...],
             colorspace: int, full_range: bool) -> np.ndarray:
    """uint8 [out_h, out_w, 3]: a planar 4:2:0 image's Y, U and V averaged over boxes (``boxes``: the
    ``box_samples`` of luma rows, luma columns, chroma rows, chroma columns), then converted to RGB (limited
    or full range, as FFmpeg reads ``colorspace``)."""
    luma_rows, luma_cols, chroma_rows, chroma_cols = boxes
    if not AVAILABLE:
        return _area_rgb_numpy(planes, width, boxes, colour_matrix(colorspace), bool(full_range))
    out = np.empty((len(luma_rows), len(luma_cols), 3), np.uint8)
    _area_rgb(planes[0], planes[1], planes[2], width, (width + 1) // 2, luma_rows, luma_cols, chroma_rows,
              chroma_cols, colour_matrix(colorspace), bool(full_range), out)
    return out


def _area_numpy(plane: np.ndarray, width: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``_area`` in numpy: the same samples, sums and rounding."""
    if rows.size and (rows[:, 0] + rows[:, 1] * (rows[:, 2] - 1)).max() >= plane.shape[0]:
        raise ValueError("a thumbnail row lies outside the plane")
    if cols.size and (cols[:, 0] + cols[:, 1] * (cols[:, 2] - 1)).max() >= width:
        raise ValueError("a thumbnail column lies outside the plane")
    sums = np.zeros((len(rows), width), np.uint32)
    for t in range(int(rows[:, 2].max(initial=0))):
        taken = rows[:, 2] > t
        sums[taken] += plane[rows[taken, 0] + t * rows[taken, 1], :width]
    total = np.zeros((len(rows), len(cols)), np.uint32)
    for t in range(int(cols[:, 2].max(initial=0))):
        taken = cols[:, 2] > t
        total[:, taken] += sums[:, cols[taken, 0] + t * cols[taken, 1]]
    count = (rows[:, 2][:, None] * cols[:, 2][None, :]).astype(np.float32)
    return (total.astype(np.float32) / count + np.float32(0.5)).astype(np.uint8)


def _area_rgb_numpy(planes: tuple[np.ndarray, np.ndarray, np.ndarray], width: int, boxes: tuple[np.ndarray, ...],
                    matrix: np.ndarray, full_range: bool) -> np.ndarray:
    """``_area_rgb`` in numpy, the float32 operations in the same order: the same thumbnail."""
    luma_rows, luma_cols, chroma_rows, chroma_cols = boxes
    chroma_width = (width + 1) // 2
    y = _area_numpy(planes[0], width, luma_rows, luma_cols).astype(np.float32)
    u = _area_numpy(planes[1], chroma_width, chroma_rows, chroma_cols).astype(np.float32)
    v = _area_numpy(planes[2], chroma_width, chroma_rows, chroma_cols).astype(np.float32)
    luma_scale = np.float32(1.0) if full_range else np.float32(255.0 / 219.0)
    chroma_scale = np.float32(1.0) if full_range else np.float32(255.0 / 224.0)
    luma_zero = np.float32(0.0) if full_range else np.float32(16.0)
    yy = (y - luma_zero) * luma_scale
    uu = (u - np.float32(128.0)) * chroma_scale
    vv = (v - np.float32(128.0)) * chroma_scale
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
    rows = box_samples(4, 2)
    area_rgb(planes, 4, (rows, rows, box_samples(2, 2), box_samples(2, 2)), 1, False)
    into = tuple(np.zeros((size, 32), np.uint8) for size in (2, 1, 1))  # a frame's planes, padded rows
    pack_blocks(planes, np.arange(2), np.arange(2), np.arange(1), np.arange(1), into)
