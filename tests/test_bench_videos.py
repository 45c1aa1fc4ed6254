"""The benchmark's generated videos: testsrc2 encoded by PyAV's FFmpeg, long videos as stream-copied loops."""
from __future__ import annotations

import av
import numpy as np

from vtn_core.bench.common import generated_video
from vtn_core.video import probe_video


def _packets(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return [(p.pts, p.dts, p.is_keyframe) for p in container.demux(stream) if p.dts is not None]


def _frames(path):
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def test_encoded_clip_has_the_asked_length_size_and_keyframe_interval(tmp_path):
    path, made_s = generated_video(tmp_path, 3, fps=10, gop=7, size="160x96")
    info = probe_video(path)
    assert (info.width, info.height, info.fps, info.num_frames) == (160, 96, 10.0, 30)
    keys = [index for index, (_, _, key) in enumerate(_packets(path)) if key]
    assert keys == [0, 7, 14, 21, 28]  # lavfi marks every frame I; left as it is, every frame would be a key
    frames = _frames(path)
    assert len(frames) == 30 and frames[0].std() > 20  # the pattern, not a blank frame
    assert not np.array_equal(frames[0], frames[10])  # testsrc2 moves
    assert made_s > 0
    again, cached_s = generated_video(tmp_path, 3, fps=10, gop=7, size="160x96")
    assert again == path and cached_s == 0.0
    assert not list(tmp_path.glob("*.tmp.mp4"))


def test_long_video_is_the_segment_copied_end_to_end(tmp_path):
    path, _ = generated_video(tmp_path, 6, fps=10, gop=10, size="160x96", segment_s=2)
    segment = tmp_path / "testsrc2_160x96_10fps_g10_2s.mp4"
    assert segment.is_file()
    packets = _packets(path)
    assert len(packets) == 60
    pts = [p for p, _, _ in packets]
    assert all(later > earlier for earlier, later in zip(pts, pts[1:]))
    assert [i for i, (_, _, key) in enumerate(packets) if key] == [0, 10, 20, 30, 40, 50]
    info = probe_video(path)
    assert info.num_frames == 60 and abs(info.duration_s - 6.0) < 1e-6
    frames, original = _frames(path), _frames(segment)
    assert len(frames) == 60
    for round_index in range(3):  # packets copied, not re-encoded: every round decodes to the segment's pixels
        for offset in (0, 7, 19):
            assert np.array_equal(frames[round_index * 20 + offset], original[offset])
    with open(path, "rb") as head:
        start = head.read(4096)
    assert 0 <= start.find(b"moov") < max(start.find(b"mdat"), 4096)  # index first (faststart)


def test_camera_encoding_is_x264_defaults_on_a_noisy_picture(tmp_path):
    cheap, _ = generated_video(tmp_path, 1, fps=10, gop=10, size="160x96")
    camera, _ = generated_video(tmp_path, 1, fps=10, gop=10, size="160x96", encoding="camera")
    assert camera.name == "testsrc2_160x96_10fps_g10_1s_camera.mp4" and camera != cheap
    profiles = {}
    for path in (cheap, camera):
        with av.open(str(path)) as container:
            profiles[path] = container.streams.video[0].codec_context.profile
    assert profiles[cheap] == "Constrained Baseline" and profiles[camera] == "High"  # CAVLC vs CABAC
    pts = [p for p, _, _ in _packets(camera)]
    assert pts != sorted(pts)  # B-frames: packets leave the encoder out of display order
    assert sorted(_packets(cheap)) == _packets(cheap)
    assert probe_video(camera).num_frames == probe_video(cheap).num_frames == 10
    cheap_frames, camera_frames = _frames(cheap), _frames(camera)
    # sensor-like noise: the camera clip's consecutive frames differ everywhere, a little
    assert np.abs(camera_frames[1].astype(int) - camera_frames[0]).mean() > \
        np.abs(cheap_frames[1].astype(int) - cheap_frames[0]).mean()
