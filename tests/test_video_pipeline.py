"""The video pipeline on generated videos: probe, sampling, decoding the right frames, pre-processing, thumbnails."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.videos import make_video, painted_frame, read_index
from vtn_core.config import Preprocessing
from vtn_core.video import (FrameReader, frame_positions, iter_chunks, make_thumbnails, preprocess_frames,
                            probe_video, sample_indices)
from vtn_core.videowrite import write_video


@pytest.mark.parametrize("suffix,codec", [(".mp4", "h264"), (".mov", "h264"), (".mkv", "h264"), (".avi", "mpeg4"),
                                          (".webm", "vp9"), (".gif", "gif")])
def test_containers_probe_and_decode_the_requested_frames(tmp_path, suffix, codec):
    path = make_video(tmp_path / f"v{suffix}", 90, fps=25)
    info = probe_video(path)
    assert (info.codec, info.width, info.height, info.num_frames) == (codec, 64, 48, 90)
    assert info.num_frames_exact and abs(info.fps - 25) < 0.5 and abs(info.duration_s - 3.6) < 0.15
    sample = sample_indices(info, num_frames=16)
    for strategy in ("seek", "sequential"):
        reader = FrameReader(path, sample.indices, info, strategy)
        got = {k: read_index(image) for k, image, _ in reader}
        assert [got[k] for k in range(16)] == list(sample.indices), strategy
        assert reader.skipped == 0


@pytest.mark.parametrize("fps", [24, 25, 30, 60])
def test_frame_rates_and_timestamps(tmp_path, fps):
    path = make_video(tmp_path / "v.mp4", 2 * fps, fps=fps)
    info = probe_video(path)
    assert abs(info.fps - fps) < 0.01 and info.num_frames == 2 * fps and not info.variable_fps
    sample = sample_indices(info, num_frames=10)
    expected = np.floor(np.linspace(0, 2 * fps - 1, 10)).astype(int)
    assert list(sample.indices) == list(expected)
    times = [t for _, _, t in FrameReader(path, sample.indices, info)]
    np.testing.assert_allclose(times, expected / fps, atol=1e-3)


def test_uniform_sampling_matches_original_recipe_and_duplicates(tmp_path):
    info = probe_video(make_video(tmp_path / "short.mp4", 5))
    sample = sample_indices(info, num_frames=12)  # more samples than frames: duplicates, like the original
    assert list(sample.indices) == list(np.floor(np.linspace(0, 4, 12)).astype(int))
    got = [read_index(image) for _, image, _ in FrameReader(tmp_path / "short.mp4", sample.indices, info)]
    assert got == list(sample.indices)


def test_fixed_rate_sampling(tmp_path):
    info = probe_video(make_video(tmp_path / "v.mp4", 100, fps=25))  # 4 s
    sample = sample_indices(info, fps=2)
    assert list(sample.indices) == [0, 12, 25, 37, 50, 62, 75, 87]
    np.testing.assert_allclose(sample.timestamps_s, sample.indices / 25)


def test_position_schemes():
    idx = np.array([0, 100, 599])
    assert list(frame_positions(idx, "wrap", 600, 286)) == [0, 100, 599]
    assert list(frame_positions(idx, "rescale", 600, 286)) == [0, 47, 285]
    with pytest.raises(ValueError):
        frame_positions(idx, "spiral", 600, 286)


def test_variable_frame_rate(tmp_path):
    rng = np.random.default_rng(0)
    times = np.cumsum(np.r_[0, rng.uniform(0.02, 0.12, 59)])
    path = write_video(tmp_path / "vfr.mp4", (painted_frame(i) for i in range(60)), 25, timestamps_s=times)
    info = probe_video(path)
    assert info.variable_fps and info.num_frames == 60
    sample = sample_indices(info, num_frames=12)
    decoded = [(read_index(image), t) for _, image, t in FrameReader(path, sample.indices, info)]
    assert [i for i, _ in decoded] == list(sample.indices)
    np.testing.assert_allclose([t for _, t in decoded], times[sample.indices], atol=2e-3)  # the true times


def test_rotated_phone_clip(tmp_path):
    path = make_video(tmp_path / "rot.mp4", 20, rotation=90, crf=0)
    info = probe_video(path)
    assert info.rotation == 90 and (info.width, info.height) == (48, 64)
    _, image, _ = next(iter(FrameReader(path, np.array([3]), info)))
    assert image.shape == (64, 48, 3)
    # rotated 90° counter-clockwise: the red top-left mark is now bottom-left
    assert image[-5:, :5, 0].mean() > 200 and image[-5:, :5, 1].mean() < 60
    assert read_index(np.rot90(image, -1)) == 3


def test_single_frame_and_long_video(tmp_path):
    one = probe_video(make_video(tmp_path / "one.mp4", 1))
    assert one.num_frames == 1
    assert list(sample_indices(one, num_frames=8).indices) == [0] * 8
    long_path = make_video(tmp_path / "long.mp4", 25 * 120, height=32, width=64, gop=250)  # two minutes
    info = probe_video(long_path)
    assert info.num_frames == 3000 and abs(info.duration_s - 120) < 0.1
    sample = sample_indices(info, num_frames=9)
    reader = FrameReader(long_path, sample.indices, info)
    assert reader.strategy == "seek"
    assert [read_index(im) for _, im, _ in reader] == [i % 256 for i in sample.indices]


def reference_recipe(frame: np.ndarray, prep: Preprocessing) -> torch.Tensor:
    """PySlowFast in its own order: normalise, short-side scale, centre crop."""
    x = torch.from_numpy(frame).float() / 255.0
    x = (x - torch.tensor(prep.mean)) / torch.tensor(prep.std)
    x = x.permute(2, 0, 1)[None]
    h, w = x.shape[-2:]
    size = prep.resize_short_side
    if w < h:
        new_h, new_w = int(math.floor(float(h) / w * size)), size
    else:
        new_h, new_w = size, int(math.floor(float(w) / h * size))
    x = F.interpolate(x, size=(new_h, new_w), mode="bilinear", align_corners=False)
    y0, x0 = int(math.ceil((new_h - prep.crop_size) / 2)), int(math.ceil((new_w - prep.crop_size) / 2))
    return x[0, :, y0:y0 + prep.crop_size, x0:x0 + prep.crop_size]


@pytest.mark.parametrize("shape", [(240, 320), (320, 240), (256, 300)])
def test_preprocessing_equals_the_original_recipe(shape):
    rng = np.random.default_rng(0)
    h, w = shape
    frame = (np.add.outer(np.arange(h), np.arange(w)) % 256).astype(np.uint8)[..., None].repeat(3, -1)
    frame[..., 1] = rng.integers(0, 255, (h, w))
    prep = Preprocessing()
    ours = preprocess_frames(frame[None], prep)[0]
    assert ours.shape == (3, 224, 224)
    torch.testing.assert_close(ours, reference_recipe(frame, prep), atol=1e-5, rtol=0)


def test_thumbnails_keep_aspect():
    frames = np.stack([painted_frame(i, 120, 160) for i in range(3)])
    thumbs = make_thumbnails(frames, 96)
    assert thumbs.shape == (3, 96, 128, 3) and thumbs.dtype == np.uint8
    assert read_index(thumbs[2]) == 2


def test_chunks_bounded_and_in_order(tmp_path):
    path = make_video(tmp_path / "v.mp4", 60, height=64, width=64)
    info = probe_video(path)
    sample = sample_indices(info, num_frames=25)
    prep = Preprocessing(resize_short_side=32, crop_size=32)
    for prefetch in (0, 2):
        chunks = list(iter_chunks(path, sample.indices, prep, 8, info=info, prefetch=prefetch))
        assert [c.start for c in chunks] == [0, 8, 16, 24]
        assert [c.pixels.shape[0] for c in chunks] == [8, 8, 8, 1]
        assert all(c.pixels.shape[1:] == (3, 32, 32) for c in chunks)
        indices = [read_index(t) for c in chunks for t in c.thumbnails]
        assert indices == list(sample.indices)
