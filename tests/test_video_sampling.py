"""sample_indices (uniform as the original, fixed rate, variable rate) and frame_positions."""
import dataclasses

import numpy as np
import pytest

from tests.videos import make_video, read_index, vfr_times
from vtn_core.video import FrameReader, frame_positions, probe_video, sample_indices


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = make_video(tmp_path_factory.mktemp("s") / "v.mp4", 100, fps=25)  # 4 s
    return probe_video(path)


@pytest.mark.parametrize("n,count", [(100, 16), (100, 250), (100, 1), (100, 100), (1, 5), (7, 3), (3000, 250)])
def test_uniform_is_floor_of_linspace(clip, n, count):
    info = dataclasses.replace(clip, num_frames=n)
    sample = sample_indices(info, num_frames=count)
    expected = np.clip(np.floor(np.linspace(0, n - 1, count)), 0, n - 1).astype(np.int64)
    assert sample.indices.dtype == np.int64 and sample.timestamps_s.dtype == np.float64
    np.testing.assert_array_equal(sample.indices, expected)
    np.testing.assert_allclose(sample.timestamps_s, expected / 25)
    assert sample.indices.min() >= 0 and sample.indices.max() <= n - 1


def test_more_samples_than_frames_repeats_frames_like_the_original(clip):
    sample = sample_indices(dataclasses.replace(clip, num_frames=4), num_frames=10)
    assert list(sample.indices) == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3]


def test_fixed_rate(clip):
    sample = sample_indices(clip, fps=2)
    assert list(sample.indices) == [0, 12, 25, 37, 50, 62, 75, 87]
    np.testing.assert_allclose(sample.timestamps_s, sample.indices / 25)
    assert list(sample_indices(clip, fps=25).indices) == list(range(100))
    assert list(sample_indices(clip, fps=100).indices[:6]) == [0, 0, 0, 0, 1, 1]  # faster than the video


def test_arguments_are_checked(clip):
    for kwargs in ({}, {"num_frames": 4, "fps": 2.0}, {"num_frames": 0}, {"fps": 0.0}, {"fps": -1.0}):
        with pytest.raises(ValueError):
            sample_indices(clip, **kwargs)
    with pytest.raises(ValueError):
        sample_indices(dataclasses.replace(clip, duration_s=1e9), fps=25)  # absurd sample count, no allocation


def test_sampled_frames_are_the_painted_ones(clip):
    for kwargs in ({"num_frames": 13}, {"fps": 3.0}):
        sample = sample_indices(clip, **kwargs)
        got = {k: read_index(image) for k, image, _ in FrameReader(clip.path, sample.indices, clip)}
        assert [got[k] for k in range(len(sample.indices))] == list(sample.indices)


def test_variable_rate_timestamps_are_the_real_frame_times(tmp_path):
    times = vfr_times(60, seed=3)
    path = make_video(tmp_path / "vfr.mp4", 60, timestamps_s=times)
    info = probe_video(path)
    assert info.variable_fps
    sample = sample_indices(info, num_frames=12)
    np.testing.assert_allclose(sample.timestamps_s - info.start_time_s, times[sample.indices], atol=1e-3)
    # fixed rate over a variable-rate video: the frame on screen at each sample time
    fixed = sample_indices(info, fps=4)
    wanted = np.arange(len(fixed.indices)) / 4
    expected = np.searchsorted(times, wanted + 1e-6, side="right") - 1
    np.testing.assert_array_equal(fixed.indices, expected)
    assert len(fixed.indices) == int(np.floor(info.duration_s * 4 - 1e-9)) + 1


def test_position_schemes():
    idx = np.array([0, 100, 599], dtype=np.int64)
    wrap = frame_positions(idx, "wrap", 600, 286)
    assert wrap.dtype == np.int64 and list(wrap) == [0, 100, 599]
    assert list(frame_positions(idx, "rescale", 600, 286)) == [0, 47, 285]
    many = frame_positions(np.arange(5000), "rescale", 5000, 286)
    assert many.min() == 0 and many.max() == 285 and np.all(np.diff(many) >= 0)
    assert list(frame_positions(np.array([0, 0]), "rescale", 1, 286)) == [0, 0]  # one-frame video
    with pytest.raises(ValueError):
        frame_positions(idx, "spiral", 600, 286)
