"""Bad videos: one specific VideoError (CLI: `error:` line, exit 2), never a traceback, never a cache entry."""
import os
import struct
import subprocess
import sys

import av
import numpy as np
import pytest

import vtn_core
from tests.official_files import save_official, tiny_vit_config
from tests.videos import make_video, read_index
from vtn_core.cache import ResultCache
from vtn_core.inference import run_video
from vtn_core.model import VTN
from vtn_core.video import FrameReader, probe_video, sample_indices


def video_error(path) -> str:
    with pytest.raises(vtn_core.VideoError) as info:
        probe_video(path)
    assert path.name in str(info.value)
    return str(info.value)


def test_non_video_random_bytes_empty_and_truncated(tmp_path):
    (tmp_path / "notes.txt").write_text("this is text\n" * 50)
    assert "not a video file" in video_error(tmp_path / "notes.txt")
    (tmp_path / "noise.mp4").write_bytes(os.urandom(5000))
    video_error(tmp_path / "noise.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert "empty" in video_error(tmp_path / "empty.mp4")
    good = make_video(tmp_path / "good.mp4", 30).read_bytes()
    (tmp_path / "cut.mp4").write_bytes(good[:300])
    video_error(tmp_path / "cut.mp4")


def test_audio_only(tmp_path):
    path = tmp_path / "song.wav"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            container.mux(packet)
    assert "audio only" in video_error(path)


def test_enormous_declared_frame_size_is_refused_before_decoding(tmp_path):
    path = tmp_path / "huge.y4m"
    path.write_bytes(b"YUV4MPEG2 W12000 H12000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + b"\x00" * 1000)
    assert "larger than supported" in video_error(path)


def test_undecodable_frames_mid_stream_are_skipped_and_counted(tmp_path):
    path = make_video(tmp_path / "v.avi", 60, codec="mjpeg", pixel_format="yuvj420p")
    data = bytearray(path.read_bytes())
    # wreck several JPEG frames in the middle: overwrite their start-of-image markers
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    for offset, end in zip(starts[25:30], starts[26:31]):
        data[offset + 2:end - 16] = os.urandom(end - 16 - offset - 2)  # pictures become noise, container intact
    path.write_bytes(bytes(data))
    info = probe_video(path)
    sample = sample_indices(info, num_frames=60)
    reader = FrameReader(path, sample.indices, info, "sequential")
    got = [(k, read_index(image)) for k, image, _ in reader]
    assert len(got) == 60 and reader.skipped >= 1
    good = [k for k, idx in got if idx == k]
    assert len(good) >= 50  # everything else decoded correctly


def test_cli_bad_video_gives_one_error_line_and_no_cache_entry(tmp_path):
    checkpoint = save_official(VTN(tiny_vit_config()).eval(), tmp_path / "m.pyth")
    (tmp_path / "bad.mp4").write_bytes(os.urandom(3000))
    cache_dir = tmp_path / "cache"
    proc = subprocess.run([sys.executable, "-m", "vtn_core", "predict", str(tmp_path / "bad.mp4"), "--checkpoint",
                           str(checkpoint), "--cache-dir", str(cache_dir), "--json", str(tmp_path / "out.json")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: bad.mp4:") and proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr and not (tmp_path / "out.json").exists()
    assert not cache_dir.exists() or not list(cache_dir.rglob("*.npz"))


def test_run_video_error_leaves_cache_empty(tmp_path):
    (tmp_path / "x.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(100))
    cache = ResultCache(tmp_path / "c")
    with pytest.raises(vtn_core.VideoError):
        run_video(VTN(tiny_vit_config()).eval(), tmp_path / "x.mp4", cache=cache)
    assert cache.entries() == []
