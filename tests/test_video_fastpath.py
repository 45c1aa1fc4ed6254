"""Issue 15: converting only the crop's pixels gives the recipe's numbers exactly; segment decoding on a
process pool gives the in-process result; GPU decoder selection and its fallback to the CPU (simulated)."""
from __future__ import annotations

from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool

import av
import numpy as np
import pytest
import torch

from tests.videos import make_video, read_index
from vtn_core.config import Preprocessing
from vtn_core.video import FrameReader, hwdecode, iter_chunks, preprocess_frames, probe_video, sample_indices, segments
from vtn_core.video import stream as stream_module
from vtn_core.video import yuv_rgb
from vtn_core.video.convert import FrameConverter
from vtn_core.video.preprocess import crop_plan, preprocess_gathered
from vtn_core.video.probe import VideoInfo

SMALL = Preprocessing(resize_short_side=32, crop_size=32)
RESIZED = Preprocessing(resize_short_side=40, crop_size=36)


def _chunks(path, indices, info, prep, **options):
    chunks = iter_chunks(path, indices, prep, 5, info=info, prefetch=0, **options)
    items = list(chunks)
    pixels = torch.cat([c.pixels for c in items]).numpy()
    thumbs = np.concatenate([c.thumbnails for c in items])
    times = np.concatenate([c.timestamps_s for c in items])
    return chunks, pixels, thumbs, times


# ---- the same numbers ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(48, 64), (47, 81), (720, 1280), (64, 48), (32, 32)])
@pytest.mark.parametrize("prep", [SMALL, RESIZED, Preprocessing()])
def test_preprocess_gathered_equals_preprocess_frames_bit_for_bit(shape, prep):
    height, width = shape
    if min(shape) < 16 or (prep.crop_size > 200 and min(shape) < 64):
        pytest.skip("too small for this crop")
    frames = np.random.default_rng(sum(shape)).integers(0, 256, (2, height, width, 3), dtype=np.uint8)
    plan = crop_plan(height, width, prep)
    gathered = frames[:, plan.rows][:, :, plan.cols]
    assert len(plan.rows) <= 2 * prep.crop_size and len(plan.cols) <= 2 * prep.crop_size
    np.testing.assert_array_equal(preprocess_gathered(gathered, plan, prep).numpy(),
                                  preprocess_frames(frames, prep).numpy())


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".avi", ".webm", ".gif"])
def test_chunks_equal_the_whole_frame_recipe_exactly(tmp_path, suffix):
    path = make_video(tmp_path / f"v{suffix}", 40, height=240, width=320)
    info = probe_video(path)
    indices = sample_indices(info, num_frames=13).indices
    for prep in (SMALL, RESIZED):
        _, old, old_thumbs, old_times = _chunks(path, indices, info, prep, conversion="legacy")
        stream, new, thumbs, times = _chunks(path, indices, info, prep)
        np.testing.assert_array_equal(new, old)  # the golden and pre-processing figures are untouched
        np.testing.assert_array_equal(times, old_times)
        assert thumbs.shape == old_thumbs.shape and [read_index(t) for t in thumbs] == list(indices)
        assert np.abs(thumbs.astype(int) - old_thumbs).mean() < 2  # another scaler, the same picture
        # small crops of few scattered pixels: converted straight from the planes (test_video_yuv_rgb.py)
        assert stream.converter.mode_used == ("whole" if suffix == ".gif" else "direct")


def test_model_inputs_are_written_into_their_chunk_in_place(tmp_path, monkeypatch):
    path = make_video(tmp_path / "v.mp4", 12, height=120, width=160)
    info = probe_video(path)
    indices = np.sort(np.r_[np.arange(12), [3, 3, 4, 11, 11, 11]])  # repeats, one across a chunk boundary
    written = []
    original = FrameConverter.convert

    def spy(self, frame, out=None):
        written.append(out)
        return original(self, frame, out)

    monkeypatch.setattr(FrameConverter, "convert", spy)
    # on 2 cores a dense read would also time three conversions into a scratch array to choose its decoder
    # threads (tests/test_decoder_retune.py); here: FFmpeg's threads, every conversion into a slot
    monkeypatch.setattr(stream_module, "one_thread_may_pay", lambda *a, **k: False)
    _, old, _, _ = _chunks(path, indices, info, RESIZED, conversion="legacy")
    written.clear()
    stream, new, _, _ = _chunks(path, indices, info, RESIZED)
    np.testing.assert_array_equal(new, old)  # repeated samples copied into their own slots
    chunks = list(stream)  # a second iteration: fresh chunks, the same numbers
    np.testing.assert_array_equal(torch.cat([c.pixels for c in chunks]).numpy(), old)
    assert len(written) == 2 * 12  # each frame converted once per iteration, repeats not again
    assert all(out is not None for out in written)
    owners = [c.pixels.numpy() for c in chunks]
    for out in written[12:]:  # the second iteration's slots belong to its chunks: no stacking copy
        assert sum(np.shares_memory(out, pixels) for pixels in owners) == 1
    assert [c.pixels.shape[0] for c in chunks] == [5, 5, 5, 3]
    assert all(np.shares_memory(a, b) is False for a, b in zip(owners, owners[1:]))


def test_pinned_chunks_fall_back_to_plain_memory_without_cuda(tmp_path, monkeypatch):
    path = make_video(tmp_path / "v.mp4", 12, height=120, width=160)
    info = probe_video(path)
    _, plain, _, _ = _chunks(path, np.arange(12), info, RESIZED)
    asked = []
    real_empty = torch.empty

    def empty(*args, pin_memory=False, **kwargs):  # this machine's CUDA-less torch, whether or not it has one
        asked.append(pin_memory)
        if pin_memory:
            raise RuntimeError("Found no NVIDIA driver on your system")
        return real_empty(*args, **kwargs)

    monkeypatch.setattr(stream_module.torch, "empty", empty)
    stream, pinned, _, _ = _chunks(path, np.arange(12), info, RESIZED, pin_memory=True)
    np.testing.assert_array_equal(pinned, plain)
    assert asked[:2] == [True, False] and not any(asked[2:])  # asked once, then plain memory for every chunk
    assert stream.pin_memory and not stream._slots.pinned


@pytest.mark.parametrize("rotation", [90, 270])
def test_rotated_videos_convert_whole_frames_and_stay_exact(tmp_path, rotation):
    path = make_video(tmp_path / "rot.mp4", 12, height=48, width=80, rotation=rotation, crf=0)
    info = probe_video(path)
    indices = np.arange(12)
    _, old, old_thumbs, _ = _chunks(path, indices, info, SMALL, conversion="legacy")
    stream, new, thumbs, _ = _chunks(path, indices, info, SMALL)
    np.testing.assert_array_equal(new, old)
    assert thumbs.shape == old_thumbs.shape and stream.converter.mode_used == "whole"


def test_a_compact_conversion_that_differs_falls_back_to_whole_frames(tmp_path, monkeypatch):
    path = make_video(tmp_path / "v.mp4", 10, height=64, width=80)
    info = probe_video(path)
    monkeypatch.setattr(yuv_rgb, "proven", lambda frame: False)  # no direct conversion: compact is tried
    original = FrameConverter._compact_frame

    def differing(self, frame, blocks, planes=None):  # FFmpeg's compact conversion off by one level everywhere
        rgb = original(self, frame, blocks, planes)
        np.frombuffer(rgb.planes[0], np.uint8)[...] ^= 1
        return rgb

    monkeypatch.setattr(FrameConverter, "_compact_frame", differing)
    _, old, _, _ = _chunks(path, np.arange(10), info, RESIZED, conversion="legacy")
    stream, new, _, _ = _chunks(path, np.arange(10), info, RESIZED)
    assert stream.converter.mode_used == "whole"
    np.testing.assert_array_equal(new, old)


def test_bad_conversion_mode_is_refused():
    with pytest.raises(ValueError, match="conversion mode"):
        FrameConverter(SMALL, mode="fast")


# ---- decoding in segments on a process pool ------------------------------------------------------------------

def _info(frames: int, gop: int = 50, variable: bool = False, container: str = "mp4") -> VideoInfo:
    return VideoInfo(path="x.mp4", container=container, codec="h264", width=1280, height=720, coded_width=1280,
                     coded_height=720, rotation=0, fps=25.0, variable_fps=variable, duration_s=frames / 25,
                     num_frames=frames, num_frames_exact=True, has_audio=False, start_time_s=0.0,
                     keyframe_interval=gop)


def test_segments_are_keyframe_aligned_ordered_and_complete():
    info = _info(20_000, gop=50)
    indices = np.floor(np.linspace(0, 19_999, 700)).astype(np.int64)
    parts = segments.split_segments(info, indices, 2)
    assert len(parts) >= 4
    np.testing.assert_array_equal(np.concatenate([p.indices for p in parts]), indices)
    assert [p.start for p in parts] == list(np.cumsum([0] + [len(p.indices) for p in parts[:-1]]))
    for before, after in zip(parts, parts[1:]):
        assert after.indices[0] // 50 > before.indices[-1] // 50  # no GOP is decoded by two workers
    per_gop = np.bincount(indices // 50).max()  # a GOP's samples stay together
    assert max(len(p.indices) for p in parts) < segments.MAX_SEGMENT_SAMPLES + per_gop


def test_one_worker_for_short_clips_more_for_long_videos(monkeypatch):
    monkeypatch.setattr(segments.os, "cpu_count", lambda: 4)
    dense = lambda n, count: np.floor(np.linspace(0, n - 1, count)).astype(np.int64)  # noqa: E731
    assert segments.plan_workers(_info(300), dense(300, 250)) == 1
    assert segments.plan_workers(_info(90_000), dense(90_000, 3600)) == 4
    assert segments.plan_workers(_info(90_000, variable=True), dense(90_000, 3600)) == 1
    assert segments.plan_workers(_info(90_000, container="gif"), dense(90_000, 3600)) == 1
    assert segments.plan_workers(_info(300), dense(300, 250), requested=3) == 3


def test_two_worker_processes_give_the_in_process_result(tmp_path):
    path = make_video(tmp_path / "v.mp4", 240, height=64, width=80, gop=20)
    info = probe_video(path)
    indices = sample_indices(info, num_frames=70).indices
    single, pixels, thumbs, times = _chunks(path, indices, info, RESIZED, workers=1)
    pooled, pixels2, thumbs2, times2 = _chunks(path, indices, info, RESIZED, workers=2)
    assert single.workers == 1 and pooled.workers == 2
    np.testing.assert_array_equal(pixels2, pixels)
    np.testing.assert_array_equal(thumbs2, thumbs)
    np.testing.assert_array_equal(times2, times)
    assert pooled.skipped == 0 and 0 < pooled.report.decoded <= 240 and not pooled.notices


def test_a_dead_worker_pool_finishes_in_process(tmp_path, monkeypatch):
    path = make_video(tmp_path / "v.mp4", 120, height=48, width=64, gop=10)
    info = probe_video(path)
    indices = np.arange(0, 120, 3)

    def broken(*args, **kwargs) -> Future:
        future: Future = Future()
        future.set_exception(BrokenProcessPool("killed"))
        return future

    _, expected, _, _ = _chunks(path, indices, info, SMALL, workers=1)
    monkeypatch.setattr(stream_module, "submit_segment", broken)
    stream, pixels, thumbs, _ = _chunks(path, indices, info, SMALL, workers=2)
    np.testing.assert_array_equal(pixels, expected)
    assert [read_index(t) for t in thumbs] == list(indices)
    assert any("worker process died" in notice for notice in stream.notices)


# ---- GPU decoding: selection and fallback (simulated: no GPU here) ---------------------------------------------

def _gpu(monkeypatch, present: bool, ffmpeg: bool = True, cores: int = 1) -> None:
    monkeypatch.setattr(hwdecode, "cuda_present", lambda: present)
    monkeypatch.setattr(hwdecode, "ffmpeg_has_cuda", lambda: ffmpeg)
    monkeypatch.setattr(hwdecode, "usable_cores", lambda: cores)


def test_decoder_selection(monkeypatch):
    _gpu(monkeypatch, present=False)
    assert hwdecode.choose_decode_device("auto") == ("cpu", None)
    device, notice = hwdecode.choose_decode_device("cuda")
    assert device == "cpu" and "no CUDA GPU" in notice
    _gpu(monkeypatch, present=True, ffmpeg=False)
    device, notice = hwdecode.choose_decode_device("cuda")
    assert device == "cpu" and "no CUDA decoder" in notice
    _gpu(monkeypatch, present=True)
    assert hwdecode.choose_decode_device("auto") == ("cuda", None)  # one core: NVDEC is the faster decoder
    assert hwdecode.choose_decode_device("CPU") == ("cpu", None)
    _gpu(monkeypatch, present=True, cores=2)  # measured: 2 CPU cores already decode faster than NVDEC
    assert hwdecode.choose_decode_device("auto") == ("cpu", None)
    assert hwdecode.choose_decode_device("cuda") == ("cuda", None)
    with pytest.raises(ValueError, match="decode device"):
        hwdecode.choose_decode_device("tpu")


def test_a_gpu_decoder_that_cannot_open_falls_back_to_the_cpu(tmp_path, monkeypatch):
    path = make_video(tmp_path / "v.mp4", 30, height=48, width=64)
    info = probe_video(path)
    expected = {k: read_index(im) for k, im, _ in FrameReader(path, np.arange(0, 30, 4), info, device="cpu")}
    _gpu(monkeypatch, present=True)

    def no_device(path):
        raise av.error.ExternalError(542398533, "Generic error in an external library")
    monkeypatch.setattr(hwdecode, "open_on_gpu", no_device)
    reader = FrameReader(path, np.arange(0, 30, 4), info, device="auto")
    assert reader.device == "cuda"
    assert {k: read_index(im) for k, im, _ in reader} == expected
    assert reader.device == "cpu" and any("could not start" in n for n in reader.notices)


class _FailingDecoder:
    """A container whose every packet fails to decode (a GPU decoder that breaks on the first frame)."""

    def __init__(self, path):
        self._real = av.open(str(path))
        self.streams = self._real.streams

    def demux(self, stream):
        for packet in self._real.demux(stream):
            yield _FailingPacket()

    def seek(self, *args, **kwargs):
        return self._real.seek(*args, **kwargs)

    def close(self):
        self._real.close()


class _FailingPacket:
    def decode(self):
        raise ValueError("hardware decoder error")


@pytest.mark.parametrize("strategy", ["sequential", "seek"])
def test_a_gpu_decoder_that_fails_before_the_first_frame_restarts_on_the_cpu(tmp_path, monkeypatch, strategy):
    path = make_video(tmp_path / "v.mp4", 40, height=48, width=64, gop=10)
    info = probe_video(path)
    indices = np.array([3, 17, 33])
    _gpu(monkeypatch, present=True)
    monkeypatch.setattr(hwdecode, "open_on_gpu", _FailingDecoder)
    reader = FrameReader(path, indices, info, strategy, device="cuda")
    assert [read_index(im) for _, im, _ in reader] == [3, 17, 33]
    assert reader.device == "cpu" and reader.errors == 0 and reader.skipped == 0
    assert any("GPU decoding failed" in n for n in reader.notices)


class _Nv12Decoder(_FailingDecoder):
    """A container whose packets decode to NV12 frames, as NVDEC's come back to host memory."""

    def demux(self, stream):
        for packet in self._real.demux(stream):
            yield _Nv12Packet(packet)


class _Nv12Packet:
    def __init__(self, packet):
        self._packet = packet

    def decode(self):
        return [frame.reformat(format="nv12") for frame in self._packet.decode()]


def test_nvdec_frames_give_exactly_the_cpu_decoders_numbers(tmp_path, monkeypatch):
    from vtn_core.bench.common import generated_video

    path, _ = generated_video(tmp_path, 2, fps=10, gop=6, size="160x96")  # testsrc2: sharp colour edges
    info = probe_video(path)
    indices = np.array([0, 3, 4, 9, 13, 19])
    expected = _chunks(path, indices, info, RESIZED, decode_device="cpu")
    _gpu(monkeypatch, present=True)
    monkeypatch.setattr(hwdecode, "open_on_gpu", _Nv12Decoder)
    for strategy in ("sequential", "seek"):
        chunks, pixels, thumbs, times = _chunks(path, indices, info, RESIZED, decode_device="cuda", strategy=strategy)
        assert chunks.reader.device == "cuda" and not chunks.notices
        np.testing.assert_array_equal(pixels, expected[1])
        np.testing.assert_array_equal(thumbs, expected[2])
        np.testing.assert_array_equal(times, expected[3])
    # the control: FFmpeg's own NV12 conversion is another one, far from the planar recipe at colour edges
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
    nv12 = frame.reformat(format="nv12")
    assert np.abs(nv12.to_ndarray(format="rgb24").astype(int) - frame.to_ndarray(format="rgb24")).max() > 50
    planar = hwdecode.planar_frame(nv12)
    assert (planar.format.name, planar.pts, planar.colorspace) == ("yuv420p", frame.pts, frame.colorspace)
    np.testing.assert_array_equal(planar.to_ndarray(format="rgb24"), frame.to_ndarray(format="rgb24"))


def _plane(plane, rows, cols):
    return np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:rows, :cols]


def test_planar_frame_keeps_full_range_and_odd_sizes():
    rng = np.random.default_rng(0)
    y, u, v = rng.integers(0, 256, (37, 23), np.uint8), *rng.integers(0, 256, (2, 19, 12), np.uint8)
    nv12 = av.VideoFrame(23, 37, "nv12")  # as NVDEC gives a full-range stream: interleaved chroma, JPEG range
    _plane(nv12.planes[0], 37, 23)[:] = y
    _plane(nv12.planes[1], 19, 24)[:] = np.stack([u, v], axis=-1).reshape(19, 24)
    nv12.color_range = 2
    planar = hwdecode.planar_frame(nv12)
    assert planar.format.name == "yuvj420p" and planar.color_range == 2
    for plane, expected in zip(planar.planes, (y, u, v)):
        np.testing.assert_array_equal(_plane(plane, *expected.shape), expected)


def test_run_video_reports_an_unavailable_gpu_decoder_and_keeps_the_numbers(tmp_path, monkeypatch):
    from vtn_core.bench.common import BUNDLED_CHECKPOINT
    from vtn_core.checkpoint import load_checkpoint
    from vtn_core.inference import run_video

    model = load_checkpoint(BUNDLED_CHECKPOINT, device="cpu")
    path = make_video(tmp_path / "v.mp4", 40, height=64, width=80)
    _gpu(monkeypatch, present=False)
    plain = run_video(model, path, num_frames=8, cache=False)
    asked = run_video(model, path, num_frames=8, cache=False, decode_device="cuda")
    np.testing.assert_array_equal(asked.logits, plain.logits)
    assert any("GPU decoding asked for" in n for n in asked.notices) and not plain.notices


# ---- the opt-in decoder-side resize ---------------------------------------------------------------------------

def test_decoder_resize_is_opt_in_close_to_the_recipe_but_not_equal(tmp_path):
    path = make_video(tmp_path / "v.mp4", 20, height=120, width=160)
    info = probe_video(path)
    indices = np.arange(0, 20, 2)
    _, exact, thumbs, _ = _chunks(path, indices, info, RESIZED)
    stream, fast, fast_thumbs, _ = _chunks(path, indices, info, RESIZED, conversion="decoder-resize")
    assert stream.converter.mode_used == "decoder-resize" and fast.shape == exact.shape
    assert not np.array_equal(fast, exact)  # another resize kernel: not the recipe
    assert np.abs(fast - exact).mean() < 0.1  # ... but the same picture (values are in std units)
    np.testing.assert_array_equal(fast_thumbs, thumbs)


def test_run_video_resize_setting(tmp_path):
    from vtn_core.bench.common import BUNDLED_CHECKPOINT
    from vtn_core.checkpoint import load_checkpoint
    from vtn_core.inference import run_video

    model = load_checkpoint(BUNDLED_CHECKPOINT, device="cpu")
    path = make_video(tmp_path / "v.mp4", 30, height=72, width=96)
    exact = run_video(model, path, num_frames=6, cache=False)
    fast = run_video(model, path, num_frames=6, cache=False, resize="decoder")
    assert "resize" not in exact.settings and fast.settings["resize"] == "decoder"
    assert fast.logits.shape == exact.logits.shape and not np.array_equal(fast.logits, exact.logits)
    with pytest.raises(ValueError, match="resize"):
        run_video(model, path, num_frames=6, cache=False, resize="nearest")
