"""probe_video on generated videos: container, codec, sizes, rotation, rate, duration, frame count, audio."""
import time

import numpy as np
import pytest

from tests.videos import make_video, make_video_with_audio, vfr_times
from vtn_core.video import VideoInfo, frame_times, probe_video

CONTAINERS = [(".mp4", "h264", "mp4"), (".mov", "h264", "mov"), (".mkv", "h264", "matroska"),
              (".avi", "mpeg4", "avi"), (".webm", "vp9", "webm"), (".gif", "gif", "gif")]


@pytest.mark.parametrize("suffix,codec,container", CONTAINERS)
def test_containers(tmp_path, suffix, codec, container):
    info = probe_video(make_video(tmp_path / f"v{suffix}", 40, fps=25, height=48, width=80))
    assert isinstance(info, VideoInfo)
    assert container in info.container and info.codec == codec
    assert (info.width, info.height, info.coded_width, info.coded_height, info.rotation) == (80, 48, 80, 48, 0)
    assert info.num_frames == 40 and info.num_frames_exact
    assert abs(info.fps - 25) < 0.01 and not info.variable_fps and not info.has_audio
    assert abs(info.duration_s - 1.6) < 0.1 and abs(info.start_time_s) < 0.1
    assert info.path.endswith(f"v{suffix}")


@pytest.mark.parametrize("fps", [24, 25, 30, 60])
def test_frame_rates(tmp_path, fps):
    info = probe_video(make_video(tmp_path / "v.mp4", 3 * fps, fps=fps))
    assert abs(info.fps - fps) < 0.01 and info.num_frames == 3 * fps and not info.variable_fps
    assert abs(info.duration_s - 3.0) < 0.05


@pytest.mark.parametrize("suffix", [".mkv", ".webm"])
def test_ntsc_rate_in_a_millisecond_time_base_is_not_variable(tmp_path, suffix):
    info = probe_video(make_video(tmp_path / f"v{suffix}", 60, fps=30000 / 1001))
    assert abs(info.fps - 29.97) < 0.01 and not info.variable_fps and info.num_frames == 60


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_variable_frame_rate(tmp_path, suffix):
    times = vfr_times(50, seed=1)
    info = probe_video(make_video(tmp_path / f"vfr{suffix}", 50, timestamps_s=times))
    assert info.variable_fps and info.num_frames == 50 and info.num_frames_exact
    assert abs(info.duration_s - times[-1]) < 0.2
    np.testing.assert_allclose(frame_times(info.path) - info.start_time_s, times, atol=1e-3)


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotation_swaps_displayed_size(tmp_path, rotation):
    info = probe_video(make_video(tmp_path / "r.mp4", 5, height=48, width=80, rotation=rotation))
    assert info.rotation == rotation and (info.coded_width, info.coded_height) == (80, 48)
    assert (info.width, info.height) == ((48, 80) if rotation in (90, 270) else (80, 48))


def test_audio_track_is_noticed(tmp_path):
    info = probe_video(make_video_with_audio(tmp_path / "av.mp4", 30))
    assert info.has_audio and info.num_frames == 30 and info.codec == "h264"


def test_single_frame(tmp_path):
    info = probe_video(make_video(tmp_path / "one.mp4", 1))
    assert info.num_frames == 1 and info.duration_s > 0 and info.width == 64


def test_minutes_long_video_probes_fast(tmp_path):
    path = make_video(tmp_path / "long.mkv", 25 * 150, height=32, width=48, bits=16, gop=250)  # 2.5 minutes
    started = time.perf_counter()
    info = probe_video(path)
    assert time.perf_counter() - started < 3.0
    assert info.num_frames == 3750 and info.num_frames_exact and abs(info.duration_s - 150) < 0.1
    assert info.keyframe_interval >= 200


def test_info_is_frozen(tmp_path):
    info = probe_video(make_video(tmp_path / "v.mp4", 3))
    with pytest.raises(AttributeError):
        info.width = 1  # type: ignore[misc]
