"""Issue 15: FFmpeg's 4:2:0 → RGB conversion reproduced for chosen pixels (``video.yuv_rgb``): equal to FFmpeg's
for every (Y, U, V), refused where it is not, and used by the converter only for small crops, exactly; FFmpeg's
own conversion of a dense crop's window into 4-byte pixels, the same bytes."""
from __future__ import annotations

import av
import numpy as np
import pytest

from tests.videos import make_video
from vtn_core.config import Preprocessing
from vtn_core.video import iter_chunks, kernels, probe_video, yuv_rgb
from vtn_core.video.convert import PACKED_FORMAT, PACKED_WIDTH_MULTIPLE, FrameConverter, _rows_of, _yuv_planes

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")
VIT = Preprocessing()  # 256 short side, 224 crop: a dense read, a window converted by FFmpeg
BUNDLED = Preprocessing(resize_short_side=48, crop_size=48)


def _frame(height: int, width: int, pixel_format: str = "yuv420p", colorspace: int = 1, color_range: int = 1,
           seed: int = 0) -> av.VideoFrame:
    """A frame of random samples (a decoded frame's planes, padding included)."""
    frame = av.VideoFrame(width, height, pixel_format)
    rng = np.random.default_rng(seed)
    for plane in frame.planes:
        samples = np.frombuffer(plane, np.uint8)
        samples[:] = rng.integers(0, 256, samples.shape, dtype=np.uint8)
    frame.colorspace, frame.color_range = colorspace, color_range
    return frame


# ---- the tables are FFmpeg's arithmetic ---------------------------------------------------------------------

def test_the_proof_frame_holds_every_triple_exactly_once():
    seen = np.zeros(1 << 24, np.int64)
    for band in range(yuv_rgb.PROOF_BANDS):
        luma, u, v = yuv_rgb.proof_band(band)
        assert luma.shape == (1024, 4096) and u.shape == v.shape == (512, 2048)
        chroma = (u.astype(np.int64) << 8 | v).repeat(2, 0).repeat(2, 1)
        seen += np.bincount((luma.astype(np.int64) << 16 | chroma).ravel(), minlength=1 << 24)
    assert seen.min() == seen.max() == 1


@pytest.mark.parametrize("pixel_format,colorspace,color_range", [
    ("yuv420p", 1, 1),  # BT.709, limited range: most H.264 video
    ("yuv420p", 5, 2),  # BT.601, full range
    ("yuvj420p", 2, 0),  # unspecified colour space (BT.601), JPEG range by its pixel format
    ("yuv420p", 7, 2),  # SMPTE 240M, full range: negative coefficients divided as C divides
    ("yuv420p", 9, 1),  # BT.2020
])
def test_the_tables_give_ffmpegs_rgb_for_every_triple(pixel_format, colorspace, color_range):
    assert yuv_rgb._proven.__wrapped__(pixel_format, colorspace, color_range)


def test_a_table_one_step_off_fails_the_proof(monkeypatch):
    right = yuv_rgb.tables(1, False)
    wrong = right.copy()
    wrong[2, 200] += 1  # the green term of one U value
    monkeypatch.setattr(yuv_rgb, "tables", lambda colorspace, full_range: wrong)
    assert not yuv_rgb._proven.__wrapped__("yuv420p", 1, 1)


@pytest.mark.parametrize("shape", [(48, 64), (50, 81), (360, 640)])
def test_chosen_pixels_equal_ffmpegs_whole_frame(shape):
    height, width = shape
    frame = _frame(height, width, seed=height)
    rng = np.random.default_rng(width)
    rows = np.sort(rng.choice(height, size=height // 3, replace=False))
    cols = np.sort(rng.choice(width, size=width // 2, replace=False))
    expected = frame.to_ndarray(format="rgb24")[rows][:, cols]
    got = yuv_rgb.convert_pixels(_yuv_planes(frame), rows, cols, frame.colorspace, False)
    np.testing.assert_array_equal(got.reshape(expected.shape), expected)
    assert yuv_rgb.proven(frame)


def test_an_odd_height_is_refused_as_ffmpeg_converts_it_otherwise():
    frame = _frame(47, 81)
    whole = np.arange(47), np.arange(81)
    assert not np.array_equal(yuv_rgb.convert_pixels(_yuv_planes(frame), *whole, 1, False).reshape(47, 81, 3),
                              frame.to_ndarray(format="rgb24"))
    assert not yuv_rgb.proven(frame)


def test_an_index_outside_the_frame_is_refused_by_the_loop():
    frame = _frame(48, 64)
    with pytest.raises(ValueError, match="outside the frame"):
        yuv_rgb.convert_pixels(_yuv_planes(frame), np.array([0, 4000]), np.arange(4), 1, False)
    with pytest.raises(ValueError, match="outside the frame"):
        yuv_rgb.convert_pixels(_yuv_planes(frame), np.arange(4), np.array([-1, 2]), 1, False)


def test_without_the_compiled_loops_nothing_is_converted_directly(monkeypatch):
    monkeypatch.setattr(kernels, "AVAILABLE", False)
    frame = _frame(48, 64)
    assert not yuv_rgb.proven(frame)
    with pytest.raises(RuntimeError, match="compiled loops"):
        yuv_rgb.convert_pixels(_yuv_planes(frame), np.arange(2), np.arange(2), 1, False)


# ---- the converter ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("pixel_format,colorspace,color_range", [("yuv420p", 1, 1), ("yuv420p", 5, 2),
                                                                 ("yuvj420p", 2, 0)])
def test_small_crops_are_converted_directly_and_exactly(pixel_format, colorspace, color_range):
    frames = [_frame(360, 640, pixel_format, colorspace, color_range, seed=k) for k in range(3)]
    direct, legacy = FrameConverter(BUNDLED), FrameConverter(BUNDLED, mode="legacy")
    for frame in frames:
        (pixels, thumbnail), (old, old_thumbnail) = direct.convert(frame), legacy.convert(frame)
        np.testing.assert_array_equal(pixels, old)
        np.testing.assert_array_equal(thumbnail, old_thumbnail)  # thumbnails are made as before
    assert direct.mode_used == "direct" and direct.converted_share(360, 640) < 0.05


def test_dense_crops_stay_with_ffmpeg_unless_asked():
    frame = _frame(360, 640)
    legacy = FrameConverter(VIT, mode="legacy").convert(frame)[0]
    window, asked = FrameConverter(VIT), FrameConverter(VIT, mode="direct")
    np.testing.assert_array_equal(window.convert(frame)[0], legacy)
    np.testing.assert_array_equal(asked.convert(frame)[0], legacy)
    assert (window.mode_used, asked.mode_used) == ("compact", "direct")


def _packed_rgb(frame: av.VideoFrame, pixel_format: str) -> np.ndarray:
    """uint8 [H, W, 3]: FFmpeg's R, G, B of ``frame`` converted to ``pixel_format`` (3 or 4 bytes a pixel)."""
    rgb = av.video.reformatter.VideoReformatter().reformat(frame, format=pixel_format, threads=1)
    rows = _rows_of(rgb)
    step = 4 if pixel_format == PACKED_FORMAT else 3
    return rows[:, :step * frame.width].reshape(frame.height, frame.width, step)[..., :3]


@pytest.mark.parametrize("pixel_format,colorspace,color_range", [("yuv420p", 1, 1), ("yuv420p", 5, 2),
                                                                 ("yuv420p", 9, 0), ("yuvj420p", 2, 0)])
def test_packed_rgb_has_ffmpegs_rgb24_bytes_at_the_kept_widths(pixel_format, colorspace, color_range):
    for k, (height, width) in enumerate([(2, 16), (7, 48), (97, 640), (360, 1280), (31, 208)]):
        assert width % PACKED_WIDTH_MULTIPLE == 0
        frame = _frame(height, width, pixel_format, colorspace, color_range, seed=k)
        np.testing.assert_array_equal(_packed_rgb(frame, PACKED_FORMAT), _packed_rgb(frame, "rgb24"))


@pytest.mark.parametrize("shape", [(720, 1280), (480, 854), (362, 640)])
def test_a_dense_crops_window_is_converted_to_packed_rgb_exactly(shape):
    frames = [_frame(*shape, seed=k) for k in range(2)]
    window, legacy = FrameConverter(VIT), FrameConverter(VIT, mode="legacy")
    for frame in frames:
        np.testing.assert_array_equal(window.convert(frame)[0], legacy.convert(frame)[0])
    plan, blocks = window.plan_for(frames[0])
    compact = window._compact_frame(frames[0], blocks)
    assert window.mode_used == "compact" and blocks.window is not None
    assert compact.format.name == PACKED_FORMAT and compact.width % PACKED_WIDTH_MULTIPLE == 0
    assert compact.width >= len(blocks.luma_cols) > compact.width - PACKED_WIDTH_MULTIPLE


def test_a_direct_conversion_that_differs_falls_back_to_ffmpeg(monkeypatch):
    frame = _frame(360, 640)
    legacy = FrameConverter(BUNDLED, mode="legacy").convert(frame)[0]
    original = FrameConverter._direct
    monkeypatch.setattr(FrameConverter, "_direct", lambda self, *args: original(self, *args) ^ 1)
    converter = FrameConverter(BUNDLED)
    np.testing.assert_array_equal(converter.convert(frame)[0], legacy)
    assert converter.mode_used == "compact"


def test_direct_is_not_used_where_unproven_or_turned(monkeypatch):
    frame = _frame(360, 640)
    turned = FrameConverter(BUNDLED, rotation=90, mode="direct")
    turned.convert(frame)
    assert turned.mode_used == "whole"
    monkeypatch.setattr(yuv_rgb, "proven", lambda frame: False)
    for mode in ("auto", "direct"):
        converter = FrameConverter(BUNDLED, mode=mode)
        converter.convert(frame)
        assert converter.mode_used == "compact"


def test_a_frame_whose_colour_setup_changes_midway_is_proven_again(monkeypatch):
    limited, full = _frame(360, 640, color_range=1, seed=1), _frame(360, 640, color_range=2, seed=2)
    legacy = FrameConverter(BUNDLED, mode="legacy")
    checked = []

    def only_limited(frame):
        checked.append(frame.color_range)
        return frame.color_range == 1
    monkeypatch.setattr(yuv_rgb, "proven", only_limited)
    converter = FrameConverter(BUNDLED)
    for frame in (limited, full, limited):  # the full-range frame: FFmpeg converts it, exactly
        np.testing.assert_array_equal(converter.convert(frame)[0], legacy.convert(frame)[0])
    assert converter.mode_used == "direct" and 2 in checked


def test_an_odd_height_video_is_read_exactly_without_direct_conversion(tmp_path):
    path = make_video(tmp_path / "odd.mkv", 6, height=47, width=80, codec="ffv1")  # lossless, any size
    info = probe_video(path)
    chunks = {}
    for conversion in ("auto", "legacy"):
        stream = iter_chunks(path, np.arange(6), Preprocessing(resize_short_side=24, crop_size=24), 3, info=info,
                             prefetch=0, conversion=conversion)
        chunks[conversion] = np.concatenate([chunk.pixels.numpy() for chunk in stream])
        if conversion == "auto":
            assert stream.converter.mode_used not in ("direct", "compact")
    np.testing.assert_array_equal(chunks["auto"], chunks["legacy"])
