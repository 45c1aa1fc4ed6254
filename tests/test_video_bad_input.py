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
from tests.videos import make_audio, make_video, read_index
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
    assert "audio only" in video_error(make_audio(tmp_path / "voice.m4a", codec="aac"))
    assert "audio only" in video_error(make_audio(tmp_path / "tone.mp4", codec="aac"))  # a video suffix


@pytest.mark.parametrize("keep", [8, 40, 200, 0.5, 0.9])
def test_truncated_files(tmp_path, keep):
    """Cut in the header: a VideoError; cut in the data: the frames that are there, the rest counted."""
    good = make_video(tmp_path / "good.mp4", 60, gop=10).read_bytes()
    size = int(len(good) * keep) if isinstance(keep, float) else keep
    path = tmp_path / "cut.mp4"
    path.write_bytes(good[:size])
    try:
        info = probe_video(path)
    except vtn_core.VideoError as exc:
        assert "cut.mp4" in str(exc)
        return
    reader = FrameReader(path, sample_indices(info, num_frames=10).indices, info)
    try:
        frames = [(k, read_index(image)) for k, image, _ in reader]
    except vtn_core.VideoError as exc:
        assert "cut.mp4" in str(exc)
        return
    assert len(frames) == 10


def test_garbage_header(tmp_path):
    data = bytearray(make_video(tmp_path / "good.mkv", 20).read_bytes())
    data[:64] = os.urandom(64)
    (tmp_path / "garbled.mkv").write_bytes(bytes(data))
    assert "garbled.mkv" in video_error(tmp_path / "garbled.mkv")


def test_wrong_suffix_still_works(tmp_path):
    path = make_video(tmp_path / "clip.webm", 12)
    renamed = path.rename(tmp_path / "clip.gif")
    info = probe_video(renamed)
    assert info.codec == "vp9" and info.num_frames == 12


def test_single_frame_video_works(tmp_path):
    for suffix in (".mp4", ".gif", ".avi"):
        path = make_video(tmp_path / f"one{suffix}", 1)
        info = probe_video(path)
        assert info.num_frames == 1
        frames = list(FrameReader(path, sample_indices(info, num_frames=4).indices, info))
        assert [read_index(image) for _, image, _ in frames] == [0, 0, 0, 0]


def test_enormous_declared_frame_size_is_refused_before_decoding(tmp_path):
    path = tmp_path / "huge.y4m"
    path.write_bytes(b"YUV4MPEG2 W12000 H12000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + b"\x00" * 1000)
    assert "larger than supported" in video_error(path)


def _patched_mov(tmp_path, width: int, height: int):
    """A small raw-video .mov whose sample description (stsd) is patched to declare another frame size."""
    data = bytearray(make_video(tmp_path / "small.mov", 3, codec="rawvideo", pixel_format="rgb24").read_bytes())
    at = data.find(b"stsd") + 4 + 4 + 4 + 4 + 4 + 6 + 2 + 2 + 2 + 4 + 4 + 4  # the visual sample entry's width
    assert struct.unpack(">HH", data[at:at + 4]) == (64, 48)
    struct.pack_into(">HH", data, at, width, height)
    path = tmp_path / f"huge_{width}x{height}.mov"
    path.write_bytes(bytes(data))
    return path


MEASURE = """
import resource, sys, time
from vtn_core.errors import VideoError
from vtn_core.video import probe_video
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    probe_video(sys.argv[1]); outcome = "probed"
except VideoError as exc:
    outcome = str(exc)
print(time.perf_counter() - start, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
print(outcome)
"""


@pytest.mark.parametrize("width,height", [(12000, 12000), (20000, 1000), (9000, 8000)])
def test_enormous_size_in_an_mp4_family_header_is_refused_quickly_without_allocating(tmp_path, width, height):
    path = _patched_mov(tmp_path, width, height)
    proc = subprocess.run([sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True,
                          cwd=os.path.dirname(os.path.dirname(__file__)), timeout=120)
    timing, outcome = proc.stdout.strip().split("\n")[-2:]
    seconds, grown_mb = map(float, timing.split())
    assert outcome.startswith(path.name) and "larger than supported" in outcome and f"{width}x{height}" in outcome
    assert seconds < 1.0 and grown_mb < 100  # a decoded frame would be 300+ MB


def test_undecodable_h264_in_the_middle_is_skipped_and_counted(tmp_path):
    path = make_video(tmp_path / "v.mp4", 120, gop=10, height=120, width=160, crf=18)
    data = bytearray(path.read_bytes())
    mdat = data.find(b"mdat")
    size = struct.unpack(">I", data[mdat - 4:mdat])[0]
    middle = mdat + size // 2  # inside the media data; the index (moov) stays intact
    rng = np.random.default_rng(1)
    data[middle:middle + 400] = rng.integers(0, 256, 400, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    info = probe_video(path)
    sample = sample_indices(info, num_frames=120)
    for strategy in ("sequential", "seek"):
        reader = FrameReader(path, sample.indices, info, strategy)
        got = [(k, read_index(image)) for k, image, _ in reader]
        assert len(got) == 120  # every requested slot gets a frame
        correct = sum(index == k for k, index in got)
        assert correct >= 80  # the frames outside the damaged GOPs come out right
        assert reader.errors >= 1 and reader.skipped >= 1  # rejected packets, samples given a neighbour
        assert reader.report.decoded == 120 - reader.errors


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
