"""FFmpeg's 4:2:0 → RGB24 conversion for chosen pixels only, proven equal to FFmpeg's own before it is used.

FFmpeg converts an unscaled planar 4:2:0 frame to RGB pixel by pixel (libswscale's ``yuv2rgb``; on x86 its
SSSE3 loop): with 16-bit fixed-point coefficients derived from the colour space and range, each channel is
``clip(Y' + a(U) + b(V))``, where ``Y' = ((Y << 3) - y_offset) * y_coeff >> 16`` and each chroma term is
``((C << 3) - 1024) * coeff >> 16`` (``pmulhw``). That is five tables of 256 integers, so a crop that reads
few, scattered pixels takes its RGB straight from the decoded planes: for the bundled model's 48-px crop of a
720p frame, 96 x 96 pixels by one compiled loop instead of gathering their 2 x 2 blocks into a compact frame for
FFmpeg (0.21 → 0.10 ms a frame). Per pixel the loop costs ~6 ns against FFmpeg's ~1.4 (SIMD over whole rows),
so a dense crop (ViT-B's 224 px: a window of about half the frame) stays with FFmpeg (docs/VIDEO.md).

Safety: another FFmpeg build or another CPU may convert differently (FFmpeg's C loop rounds through other
tables), so ``proven`` converts a frame holding every (Y, U, V) triple both ways, once per process and colour
setup, and the converter uses the tables only where all 16.7 million agree (and, as for every mode, where
the stream's first frame agrees with the whole-frame recipe).
"""
from __future__ import annotations

import threading
from functools import lru_cache

import av
import numpy as np

from vtn_core.video import kernels

FORMATS = ("yuv420p", "yuvj420p")
FULL_RANGE = 2  # AVCOL_RANGE_JPEG
# libswscale's inverse colour tables (ff_yuv2rgb_coeffs: crv, cbu, cgu, cgv in 16.16) by AVColorSpace number;
# any other colour space converts as BT.601 there, and here
_BT601 = (104597, 132201, 25675, 53279)
_INVERSE = {1: (117489, 138438, 13975, 34925), 4: (104448, 132798, 24759, 53109), 7: (117579, 136230, 16907, 35559),
            9: (110013, 140363, 12277, 42626), 10: (110013, 140363, 12277, 42626)}
PROOF_SIDE = 4096  # a 4096 x 4096 frame: 2048 x 2048 chroma blocks, each (U, V) pair in 64 blocks of 4 luma values
PROOF_BANDS = 4


def _to_int16(value: int) -> int:
    """libswscale's ``roundToInt16``: round a 16.16 value to an integer, saturated to int16."""
    return max(-0x8000, min(0x7FFF, (value + 0x8000) >> 16))


def _c_divide(numerator: int, denominator: int) -> int:
    """C's integer division (towards zero), not Python's floor."""
    quotient = abs(numerator) // abs(denominator)
    return quotient if (numerator >= 0) == (denominator > 0) else -quotient


@lru_cache(maxsize=None)
def tables(colorspace: int, full_range: bool) -> np.ndarray:
    """int32 [5, 256] (read-only): Y', then the V term of red, the U and V terms of green, the U term of blue,
    as FFmpeg's fixed-point conversion computes them for ``colorspace`` (an AVColorSpace number)."""
    crv, cbu, cgu, cgv = _INVERSE.get(int(colorspace), _BT601)
    cgu, cgv = -cgu, -cgv
    cy, oy = 1 << 16, 0
    if full_range:
        crv, cbu, cgu, cgv = (_c_divide(c * 224, 255) for c in (crv, cbu, cgu, cgv))
    else:
        cy, oy = (cy * 255) // 219, 16 << 16
    y_coeff, y_offset = _to_int16(cy << 13), _to_int16(oy << 3)
    red_v, blue_u, green_u, green_v = (_to_int16(c << 13) for c in (crv, cbu, cgu, cgv))
    values = np.arange(256, dtype=np.int64)
    chroma = (values << 3) - 1024
    rows = [(((values << 3) - y_offset) * y_coeff) >> 16, (chroma * red_v) >> 16, (chroma * green_u) >> 16,
            (chroma * green_v) >> 16, (chroma * blue_u) >> 16]
    out = np.stack(rows).astype(np.int32)
    out.flags.writeable = False
    return out


def is_full_range(frame: av.VideoFrame) -> bool:
    """Whether FFmpeg reads ``frame``'s samples as full range (0-255) rather than limited (16-235)."""
    return frame.format.name == "yuvj420p" or frame.color_range == FULL_RANGE


def convert_pixels(planes: tuple[np.ndarray, ...], rows: np.ndarray, cols: np.ndarray, colorspace: int,
                   full_range: bool, out: np.ndarray | None = None) -> np.ndarray:
    """uint8 [len(rows), 3 len(cols)] (``out``, or a new array): the RGB of the ``rows`` x ``cols`` pixels of a
    planar 4:2:0 frame's ``planes`` (each [rows, line size]) by the tables (``kernels.yuv_pixels``; the
    compiled loops must be available: in numpy this would cost more than FFmpeg's conversion saves)."""
    if not kernels.AVAILABLE:
        raise RuntimeError("direct conversion needs the compiled loops (numba)")
    if out is None:
        out = np.empty((len(rows), 3 * len(cols)), np.uint8)
    return kernels.yuv_pixels(planes, rows, cols, tables(int(colorspace), bool(full_range)), out)


def proof_band(band: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Y [1024, 4096], U and V [512, 2048]: band ``band`` (0 .. 3) of a 4096 x 4096 frame holding every
    (Y, U, V). Chroma block (r, c) of the whole frame carries the pair p = 32 r + c // 64 (U = p // 256,
    V = p % 256: each pair in 64 blocks side by side) and its 4 luma samples 4 k .. 4 k + 3, k = c % 64, so
    every Y value meets every pair once."""
    rows = PROOF_SIDE // PROOF_BANDS
    chroma_row = np.arange(band * rows // 2, (band + 1) * rows // 2)[:, None]
    pair = 32 * chroma_row + (np.arange(PROOF_SIDE // 2)[None, :] >> 6)
    across = np.arange(PROOF_SIDE)
    upper = (4 * ((across >> 1) & 63) + (across & 1)).astype(np.uint8)  # even luma rows; odd rows: + 2
    luma = np.empty((rows, PROOF_SIDE), np.uint8)
    luma[0::2], luma[1::2] = upper, upper + 2
    return luma, (pair >> 8).astype(np.uint8), (pair & 255).astype(np.uint8)


_proving = threading.Lock()


def _agrees(frame: av.VideoFrame) -> bool:
    """Whether every pixel of ``frame`` (its colour space and range set) converts to FFmpeg's RGB by the tables."""
    try:
        expected = frame.to_ndarray(format="rgb24")
    except (ValueError, av.FFmpegError):  # a colour space FFmpeg will not convert
        return False
    planes = tuple(np.frombuffer(p, np.uint8).reshape(-1, p.line_size) for p in frame.planes)
    converted = convert_pixels(planes, np.arange(frame.height), np.arange(frame.width), frame.colorspace,
                               is_full_range(frame))
    return bool(np.array_equal(converted.reshape(expected.shape), expected))


def _filled(width: int, height: int, pixel_format: str, colorspace: int, color_range: int,
            planes: tuple[np.ndarray, ...] | None = None, seed: int = 0) -> av.VideoFrame:
    """A frame of this size, format and colour setup holding ``planes`` (top left), else random samples."""
    frame = av.VideoFrame(width, height, pixel_format)
    rng = np.random.default_rng(seed)
    for index, plane in enumerate(frame.planes):
        rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
        if planes is None:
            rows[:] = rng.integers(0, 256, rows.shape, dtype=np.uint8)
        else:
            rows[:planes[index].shape[0], :planes[index].shape[1]] = planes[index]
    frame.colorspace, frame.color_range = colorspace, color_range
    return frame


@lru_cache(maxsize=None)
def _proven(pixel_format: str, colorspace: int, color_range: int) -> bool:
    """Every (Y, U, V) triple, a band of ``proof_band`` at a time (~30 MB at once instead of ~120)."""
    for band in range(PROOF_BANDS):
        values = proof_band(band)
        if not _agrees(_filled(PROOF_SIDE, len(values[0]), pixel_format, colorspace, color_range, values)):
            return False
    return True


@lru_cache(maxsize=64)
def _proven_at(pixel_format: str, colorspace: int, color_range: int, width: int, height: int) -> bool:
    """FFmpeg picks its conversion by frame size too (an odd height leaves the pixel-by-pixel loop for its
    general scaler, which blends chroma rows): a frame of this size and random samples, converted both ways."""
    return _agrees(_filled(width, height, pixel_format, colorspace, color_range, seed=width * 65536 + height))


def proven(frame: av.VideoFrame) -> bool:
    """Whether the tables give FFmpeg's RGB for every (Y, U, V) in frames like ``frame`` (pixel format, colour
    space, range): checked once per process and setup on a frame of all 16.7 million triples (~0.2 s), and
    once per frame size on a frame of random samples. Always False without the compiled loops."""
    if frame.format.name not in FORMATS or not kernels.AVAILABLE:
        return False
    setup = (frame.format.name, int(frame.colorspace), int(frame.color_range))
    with _proving:  # converter threads of one stream ask at once: prove once
        return _proven(*setup) and _proven_at(*setup, frame.width, frame.height)
