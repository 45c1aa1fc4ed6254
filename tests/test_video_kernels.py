"""Issue 15: the compiled pixel loops give numpy's numbers bit for bit, thumbnails look like FFmpeg's, and
converting on threads beside the decoder keeps order, duplicates, errors and early exits right."""
from __future__ import annotations

import threading
import time
from dataclasses import replace

import av
import numpy as np
import pytest
import torch

from tests.videos import make_video, read_index
from vtn_core.config import Preprocessing
from vtn_core.video import iter_chunks, kernels, probe_video, sample_indices
from vtn_core.video.convert import FrameConverter, crop_pixels, model_input
from vtn_core.video.overlap import converted_in_order, converter_threads, one_thread_may_pay
from vtn_core.video.preprocess import make_thumbnails

pytestmark = pytest.mark.skipif(not kernels.AVAILABLE, reason="numba is not installed")
VIT = Preprocessing()  # 256 short side, 224 crop
BUNDLED = Preprocessing(resize_short_side=48, crop_size=48)


def _mean_std(prep: Preprocessing) -> tuple[np.ndarray, np.ndarray]:
    return (np.asarray(prep.mean, np.float32) * np.float32(255.0), np.asarray(prep.std, np.float32) * np.float32(255.0))


@pytest.mark.parametrize("shape", [(720, 1280), (271, 481), (48, 64), (300, 200), (224, 224)])
@pytest.mark.parametrize("prep", [VIT, BUNDLED, Preprocessing(resize_short_side=40, crop_size=36)])
def test_crop_kernel_equals_numpy_bit_for_bit(shape, prep):
    height, width = shape
    if min(shape) * prep.resize_short_side // min(shape) < prep.crop_size:
        pytest.skip("crop larger than the frame")
    rng = np.random.default_rng(height * width)
    padding = 7  # rows of a decoded frame carry padding after the pixels
    image = rng.integers(0, 256, (height, width * 3 + padding), dtype=np.uint8)
    plan = crop_pixels(height, width, prep)
    gathered = image[:, :width * 3].reshape(height, width, 3)[plan.rows][:, plan.cols]
    expected = model_input(gathered[None], plan, prep)[0]
    got = kernels.crop_input(image, plan.taps, plan.rows, 3 * plan.cols, *_mean_std(prep))
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_box_samples_tile_the_axis_with_at_most_three_centred_samples():
    for size, count in [(720, 96), (1280, 171), (360, 96), (97, 96), (96, 96), (5000, 7)]:
        boxes = kernels.box_samples(size, count)
        edges = (np.arange(count + 1) * size) // count
        first, step, taken = boxes.T
        last = first + step * (taken - 1)
        assert boxes.shape == (count, 3) and np.all(taken >= 1) and np.all(taken <= kernels.SAMPLES_PER_BOX)
        assert np.all(first >= edges[:-1]) and np.all(last < edges[1:])
        # centred: the slack before the first sample and after the last differs by at most one pixel
        assert np.all(np.abs((first - edges[:-1]) - (edges[1:] - 1 - last)) <= 1)


def _yuv_frame(rgb: np.ndarray, colorspace: int, full_range: bool) -> av.VideoFrame:
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    yuv = frame.reformat(format="yuv420p", dst_colorspace=colorspace, dst_color_range=2 if full_range else 1)
    yuv.colorspace, yuv.color_range = colorspace, 2 if full_range else 1
    return yuv


@pytest.mark.parametrize("colorspace,full_range", [(1, False), (5, False), (9, False), (1, True), (2, False)])
def test_area_thumbnail_shows_the_picture_in_its_colours(colorspace, full_range):
    y, x = np.mgrid[0:360, 0:640]
    rgb = np.stack([x * 255 // 639, y * 255 // 359, (x + y) * 255 // 998], -1).astype(np.uint8)
    rgb[100:200, 200:400] = (250, 30, 40)  # saturated blocks test the matrix, gradients the averaging
    rgb[220:300, 420:600] = (20, 200, 60)
    rgb[30:34, :] = 255  # a thin line: averaged into a faint one, not dropped
    frame = _yuv_frame(rgb, colorspace, full_range)
    ours = FrameConverter(BUNDLED, thumb_height=48).thumbnail(frame)
    truth = make_thumbnails(rgb[None], 48)[0]  # the picture itself, exact area average
    ffmpeg = make_thumbnails(frame.to_ndarray(format="rgb24")[None], 48)[0]  # FFmpeg's colours
    assert ours.shape == truth.shape == (48, 85, 3)
    difference = np.abs(ours.astype(int) - truth)[6:]  # below the line: gradients and block edges
    assert difference.mean() < 2 and np.percentile(difference, 95) <= 8  # edges: a box vs a tent filter
    assert np.abs(ours.astype(int) - ffmpeg)[6:].mean() < 3  # FFmpeg rounds ~1 level low (no ACCURATE_RND)
    assert np.abs(ours[20, 40].astype(int) - (250, 30, 40)).max() <= 3  # inside the red block
    line, around = ours[4].astype(int).mean(), ours[[1, 7]].astype(int).mean()
    assert line > around + 40  # 4 px of 7.5 are white: a visible line, fainter than the picture's 255


def test_thumbnails_fall_back_to_ffmpeg_where_the_boxes_do_not_apply_and_numpy_gives_the_same(monkeypatch):
    frame = _yuv_frame(np.full((64, 96, 3), 128, np.uint8), 1, False)
    converter = FrameConverter(BUNDLED, thumb_height=48)
    assert converter._area_thumbnail(frame, 72, 48) is None  # chroma planes (32 rows) smaller than the thumbnail
    assert converter.thumbnail(frame).shape == (48, 72, 3)  # FFmpeg's area scaler
    y, x = np.mgrid[0:360, 0:640]
    big = _yuv_frame(np.stack([x % 256, y % 256, (3 * x + y) % 256], -1).astype(np.uint8), 1, True)
    compiled = converter.thumbnail(big)
    monkeypatch.setattr(kernels, "AVAILABLE", False)
    np.testing.assert_array_equal(FrameConverter(BUNDLED, thumb_height=48).thumbnail(big), compiled)


@pytest.mark.parametrize("height,width,out_h,out_w", [(271, 481, 96, 170), (720, 1280, 96, 171), (97, 64, 48, 32)])
@pytest.mark.parametrize("full_range", [False, True])
def test_the_thumbnail_loop_and_its_numpy_twin_give_the_same_bytes(height, width, out_h, out_w, full_range):
    rng = np.random.default_rng(height + width)
    chroma = ((height + 1) // 2, (width + 1) // 2)
    padding = 5  # decoded planes carry padding after each row
    planes = (rng.integers(0, 256, (height, width + padding), dtype=np.uint8),
              rng.integers(0, 256, (chroma[0], chroma[1] + padding), dtype=np.uint8),
              rng.integers(0, 256, (chroma[0], chroma[1] + padding), dtype=np.uint8))
    boxes = kernels.thumbnail_boxes(height, width, out_h, out_w)
    compiled = kernels.area_rgb(planes, boxes, 1, full_range)
    twin = kernels._area_rgb_numpy(planes, boxes, kernels.colour_matrix(1), full_range)
    assert compiled.shape == (out_h, out_w, 3)
    np.testing.assert_array_equal(compiled, twin)
    grey = tuple(np.full_like(p, 128 if i else 126) for i, p in enumerate(planes))  # mid grey, padding alike
    level = kernels.area_rgb(grey, boxes, 1, full_range)
    assert np.all(level == level[0, 0]) and abs(int(level[0, 0, 0]) - (126 if full_range else 128)) <= 1


def test_without_numba_the_converter_gives_the_same_model_input(tmp_path, monkeypatch):
    path = make_video(tmp_path / "v.mp4", 12, height=240, width=320)
    info = probe_video(path)
    indices = sample_indices(info, num_frames=7).indices

    def read() -> tuple[np.ndarray, np.ndarray]:
        items = list(iter_chunks(path, indices, BUNDLED, 4, info=info, prefetch=0))
        return torch.cat([c.pixels for c in items]).numpy(), np.concatenate([c.thumbnails for c in items])

    fast, fast_thumbs = read()
    monkeypatch.setattr(kernels, "AVAILABLE", False)
    slow, slow_thumbs = read()
    np.testing.assert_array_equal(fast, slow)
    np.testing.assert_array_equal(fast_thumbs, slow_thumbs)
    assert [read_index(t) for t in fast_thumbs] == list(indices)


def test_warm_up_compiles_what_the_converter_calls(tmp_path):
    kernels.warm_up()
    compiled = {name: len(getattr(kernels, name).signatures) for name in ("_bilinear", "_plain", "_area_rgb",
                                                                         "_pack_blocks", "_yuv_pixels")}
    path = make_video(tmp_path / "v.mp4", 4, height=240, width=320)
    info = probe_video(path)
    for prep, mode in ((BUNDLED, "direct"), (BUNDLED, "compact"), (VIT, "whole"), (Preprocessing(240, 224), "whole"),
                       (BUNDLED, "decoder-resize")):
        list(iter_chunks(path, np.arange(4), prep, 4, info=info, prefetch=0, conversion=mode))
    assert {name: len(getattr(kernels, name).signatures) for name in compiled} == compiled


# ---- converting beside the decoder ---------------------------------------------------------------------------

def _items(count: int, repeat_every: int = 0):
    frame = None
    for k in range(count):
        if frame is None or not repeat_every or k % repeat_every:
            frame = object()
        yield k, frame, k / 10


def test_converted_in_order_keeps_order_and_converts_a_repeated_frame_once():
    calls = []
    lock = threading.Lock()

    def convert(frame):
        time.sleep(np.random.default_rng(id(frame) % 1000).uniform(0, 0.004))  # out-of-order finishes
        with lock:
            calls.append(frame)
        return id(frame)

    items = list(_items(60, repeat_every=3))
    for threads in (0, 1, 3):
        calls.clear()
        out = list(converted_in_order(iter(items), convert, threads))
        assert [k for k, _, _ in out] == list(range(60)) and [t for _, _, t in out] == [k / 10 for k in range(60)]
        assert [value for _, value, _ in out] == [id(frame) for _, frame, _ in items]
        assert len(calls) == len({id(frame) for _, frame, _ in items}) == 41  # 19 repeats converted once


@pytest.mark.parametrize("threads", [1, 2])  # 1: one converter fed through queues; 2: the pool
def test_a_conversion_error_arrives_in_order_after_the_frames_before_it(threads):
    def convert(frame):
        if frame == 7:
            raise ValueError("bad frame 7")
        return frame * 2

    got = []
    with pytest.raises(ValueError, match="bad frame 7"):
        for k, value, _ in converted_in_order(((k, k, 0.0) for k in range(20)), convert, threads):
            got.append(value)
    assert got == [0, 2, 4, 6, 8, 10, 12]


@pytest.mark.parametrize("threads", [1, 2])
def test_leaving_early_stops_the_decoder_and_the_converters(threads):
    decoded = []

    def frames():
        for k in range(10_000):
            decoded.append(k)
            yield k, k, 0.0

    stream = converted_in_order(frames(), lambda frame: frame, threads)
    assert [next(stream)[1] for _ in range(3)] == [0, 1, 2]
    stream.close()
    assert len(decoded) <= 3 + threads * 3 + 1  # what was read ahead is bounded by the converters' queue
    assert not [t for t in threading.enumerate() if t.name.startswith("vtn-convert")]


def test_threads_scale_with_cores():
    assert [converter_threads(c) for c in (1, 2, 3, 4, 8, 64)] == [1, 1, 1, 2, 4, 4]
    # dense reads with a heavy conversion on 2 cores: one decoding thread beside the converter may pay (the
    # read measures: tests/test_decoder_retune.py); elsewhere FFmpeg's frame threads
    assert [one_thread_may_pay(1.2, 0.56, cpus=c) for c in (1, 2, 3, 16)] == [True, True, False, False]
    assert not one_thread_may_pay(6.0, 0.56, cpus=2)  # samples spread out: decoding dominates
    assert not one_thread_may_pay(1.2, 0.02, cpus=2)  # a light conversion leaves FFmpeg's threads a core


def test_ffmpeg_threads_are_one_per_core(tmp_path):
    from vtn_core.video.decode import FrameReader, automatic_decoder_threads

    assert [automatic_decoder_threads(c) for c in (1, 2, 8, 64)] == [1, 2, 8, 16]
    path = make_video(tmp_path / "v.mp4", 6, height=120, width=160)
    info = probe_video(path)
    for threads, expected in ((None, automatic_decoder_threads()), (1, 1)):
        reader = FrameReader(path, np.arange(6), info, threads=threads)
        container, stream = reader._open()
        try:
            assert stream.codec_context.thread_count == expected
        finally:
            container.close()
        assert len(list(FrameReader(path, np.arange(6), info, threads=threads))) == 6


def test_the_converted_share_follows_the_crop_and_the_mode():
    bundled, vit = FrameConverter(BUNDLED), FrameConverter(VIT)
    assert bundled.converted_share(720, 1280) < 0.1  # a 48-px crop of 720p: its blocks only
    assert 0.3 < vit.converted_share(720, 1280) < 0.8  # ViT-B's 224-px crop: a window of about half the frame
    assert FrameConverter(BUNDLED, mode="whole").converted_share(720, 1280) == 1.0
    assert FrameConverter(BUNDLED, rotation=90).converted_share(1280, 720) == 1.0  # turned frames: converted whole


@pytest.mark.parametrize("converters", [0, 1, 3])
def test_chunks_are_the_same_whatever_the_number_of_converters(tmp_path, converters):
    path = make_video(tmp_path / "v.mp4", 30, height=180, width=320)
    info = probe_video(path)
    indices = np.array([0, 1, 1, 2, 5, 9, 9, 9, 14, 20, 29, 29])  # duplicates: the same frame again

    def read(count):
        items = list(iter_chunks(path, indices, VIT, 5, info=info, prefetch=1, converters=count))
        return torch.cat([c.pixels for c in items]).numpy(), np.concatenate([c.thumbnails for c in items])

    reference, reference_thumbs = read(0)
    pixels, thumbs = read(converters)
    np.testing.assert_array_equal(pixels, reference)
    np.testing.assert_array_equal(thumbs, reference_thumbs)
    assert [read_index(t) for t in thumbs] == list(indices)


# ---- the backbone's threads beside decoding -------------------------------------------------------------------

def test_a_decode_bound_backbone_gives_cores_to_the_decoder_and_gets_them_back(monkeypatch):
    from vtn_core import cpu_threads
    from vtn_core.cpu_threads import BackboneThreads, backbone_threads

    monkeypatch.setattr(cpu_threads.os, "cpu_count", lambda: 4)
    before = torch.get_num_threads()
    torch.set_num_threads(4)
    try:
        assert backbone_threads("cuda", 1, cores=4) is None  # a GPU backbone takes no CPU threads
        assert backbone_threads("cpu", 1, cores=4) == 2 and backbone_threads("cpu", 3, cores=4) == 1
        with BackboneThreads("cpu", 1) as threads:
            threads.after_chunk(decode_s=0.05, compute_s=0.01, frames=32)  # decoding sets the pace
            assert threads.share == 2 and torch.get_num_threads() == 2
            threads.after_chunk(decode_s=0.0, compute_s=9.0, frames=32)  # decided once
            assert threads.decode_bound is True
        assert torch.get_num_threads() == 4
        with BackboneThreads("cpu", 1) as threads:
            threads.after_chunk(decode_s=0.05, compute_s=3.0, frames=32)  # a ViT-B on the CPU: keeps every thread
            assert torch.get_num_threads() == 4 and threads.decode_bound is False
    finally:
        torch.set_num_threads(before)


def test_a_model_seen_before_is_given_its_threads_before_its_first_chunk(monkeypatch):
    from vtn_core import cpu_threads
    from vtn_core.cpu_threads import BackboneThreads

    monkeypatch.setattr(cpu_threads.os, "cpu_count", lambda: 4)
    small, large = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)  # stand-ins: any model object is a key
    before = torch.get_num_threads()
    torch.set_num_threads(4)
    try:
        with BackboneThreads("cpu", 1, small) as threads:
            threads.before_chunk(decode_s=0.05, frames=32)  # never seen: nothing to go on, every thread
            assert threads.decode_bound is None and torch.get_num_threads() == 4
            threads.after_chunk(decode_s=0.05, compute_s=0.016, frames=32)  # 0.5 ms a frame, remembered
            assert torch.get_num_threads() == 2
        with BackboneThreads("cpu", 1, large) as threads:
            threads.after_chunk(decode_s=0.05, compute_s=3.2, frames=32)  # 100 ms a frame: backbone-bound
        with BackboneThreads("cpu", 1, small) as threads:  # the next analysis: its share from the start
            threads.before_chunk(decode_s=0.04, frames=16)
            assert threads.decode_bound is True and torch.get_num_threads() == 2
        assert torch.get_num_threads() == 4
        with BackboneThreads("cpu", 1, large) as threads:
            threads.before_chunk(decode_s=0.04, frames=16)
            assert threads.decode_bound is False and torch.get_num_threads() == 4
        with BackboneThreads("cpu", 1, small) as threads:  # decoding far faster this time: backbone-bound
            threads.before_chunk(decode_s=0.001, frames=16)
            assert threads.decode_bound is False and torch.get_num_threads() == 4
        with BackboneThreads("cuda", 1, small) as threads:  # a GPU backbone: nothing to decide
            threads.before_chunk(decode_s=0.05, frames=16)
            assert threads.decode_bound is None and torch.get_num_threads() == 4
    finally:
        torch.set_num_threads(before)


def test_the_loops_refuse_indices_outside_the_image_before_reading():
    image = np.zeros((4, 12), np.uint8)
    mean, std = np.zeros(3, np.float32), np.ones(3, np.float32)
    with pytest.raises(ValueError, match="outside the frame"):
        kernels.crop_input(image, None, np.array([0, 4]), np.array([0, 3]), mean, std)  # row 4 of 4
    with pytest.raises(ValueError, match="outside the frame"):
        kernels.crop_input(image, None, np.array([0, 1]), np.array([0, 10]), mean, std)  # bytes 10..12 of 12
    planes = (np.zeros((4, 4), np.uint8), np.zeros((2, 2), np.uint8), np.zeros((2, 2), np.uint8))
    for_bigger_frames = kernels.thumbnail_boxes(8, 8, 2, 2)  # rows 0..7 of planes with 4
    with pytest.raises(ValueError, match="thumbnail"):
        kernels.area_rgb(planes, for_bigger_frames, 1, False)
    with pytest.raises(ValueError, match="thumbnail"):
        kernels._area_rgb_numpy(planes, for_bigger_frames, kernels.colour_matrix(1), False)
    fits = kernels.thumbnail_boxes(4, 4, 2, 2)
    far = np.array(fits.luma_taps)
    far[0, 1] = 99  # a column tap far past the plane
    with pytest.raises(ValueError, match="thumbnail"):
        kernels.area_rgb(planes, replace(fits, luma_taps=far), 1, False)
    assert kernels.thumbnail_boxes(4, 4, 3, 2) is None  # chroma planes (2 rows) smaller than the thumbnail
    into = tuple(np.zeros((2, 2), np.uint8) for _ in range(3))
    with pytest.raises(ValueError, match="block index"):
        kernels.pack_blocks(planes, np.arange(2), np.arange(4), np.arange(1), np.arange(2), into)  # 4 cols into 2


def test_a_frame_that_cannot_be_converted_is_a_clear_video_error(tmp_path, monkeypatch):
    from vtn_core.errors import VideoError

    path = make_video(tmp_path / "v.mp4", 8, height=120, width=160)

    def broken(self, frame, out=None):
        raise ValueError("internal detail")

    monkeypatch.setattr(FrameConverter, "convert", broken)
    with pytest.raises(VideoError, match=r"v\.mp4: decoding failed \(ValueError\)") as caught:
        list(iter_chunks(path, np.arange(8), BUNDLED, 4, prefetch=1))
    assert "internal detail" not in str(caught.value)


def test_decode_workers_run_without_numba_and_give_the_same_thumbnails(tmp_path):
    import sys

    from vtn_core.video import segments

    path = make_video(tmp_path / "v.mp4", 60, height=240, width=320, gop=10)
    info = probe_video(path)
    indices = np.arange(0, 60, 2)
    single = list(iter_chunks(path, indices, BUNDLED, 8, info=info, prefetch=0, workers=1))
    pooled = list(iter_chunks(path, indices, BUNDLED, 8, info=info, prefetch=0, workers=2))
    np.testing.assert_array_equal(np.concatenate([c.thumbnails for c in pooled]),
                                  np.concatenate([c.thumbnails for c in single]))  # numpy twin == compiled loop
    np.testing.assert_array_equal(torch.cat([c.pixels for c in pooled]).numpy(),
                                  torch.cat([c.pixels for c in single]).numpy())
    loaded = segments.decode_pool(2).submit(eval, "sorted(__import__('sys').modules)").result()
    assert "numba" not in loaded and "torch" not in loaded and "vtn_core.video.kernels" in loaded
    assert "numba" in sys.modules  # this process keeps the compiled loops
