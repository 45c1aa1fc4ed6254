"""Generate test videos whose frame index can be read back from the pixels (a bar code), for any test.

``painted_frame(i)`` paints bit b of ``i`` as a white (1) or black (0) vertical bar; with more than 8 bits the
bars wrap onto further rows of 8. A red block marks the top-left corner, so rotations and flips are visible.
Bars are 1/8 of the width and read from their middle, so the code survives lossy codecs (h264 at crf 23,
mpeg4, vp9, a gif palette) down to about 32 px wide.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Sequence

import av
import numpy as np

from vtn_core.videowrite import write_video


def _rows(height: int, bits: int) -> list[tuple[int, int]]:
    """(first, last + 1) pixel rows of each row of 8 bars."""
    count = max(1, -(-bits // 8))
    return [(r * height // count, (r + 1) * height // count) for r in range(count)]


def painted_frame(index: int, height: int = 48, width: int = 64, bits: int = 8) -> np.ndarray:
    """Frame ``index`` (taken modulo 2**bits): one bar per bit, rows of 8; a red top-left mark."""
    frame = np.zeros((height, width, 3), np.uint8)
    bar = width // 8
    for bit in range(bits):
        if (index >> bit) & 1:
            top, bottom = _rows(height, bits)[bit // 8]
            column = bit % 8
            frame[top:bottom, column * bar:(column + 1) * bar] = 255
    frame[: height // 6, : width // 8] = (255, 0, 0)
    return frame


def read_index(image: np.ndarray, bits: int = 8) -> int:
    """Inverse of ``painted_frame`` (robust to compression)."""
    height, width = image.shape[:2]
    bar = width // 8
    inset = 2 if bar >= 8 else bar // 4
    rows = _rows(height, bits)
    value = 0
    for bit in range(bits):
        top, bottom = rows[bit // 8]
        if len(rows) > 1:
            margin = max(1, (bottom - top) // 6)
            top, bottom = top + margin, bottom - margin
        top = max(top, height // 4) if bit < 8 else top  # below the red mark
        column = bit % 8
        patch = image[top:bottom, column * bar + inset:(column + 1) * bar - inset]
        if patch.size and patch.mean() > 127:
            value |= 1 << bit
    return value


def make_video(path: str | Path, num_frames: int, fps: float = 25.0, height: int = 48, width: int = 64,
               bits: int = 8, **kwargs) -> Path:
    """A painted-index video of ``num_frames`` frames (index mod 2**bits in each frame).

    The container follows the suffix (mp4/mov/mkv: h264, avi: mpeg4, webm: vp9, gif); ``kwargs`` go to
    ``write_video`` (codec, pixel_format, timestamps_s for a variable rate, rotation, crf, gop).
    """
    frames = (painted_frame(i % (1 << bits), height, width, bits) for i in range(num_frames))
    return write_video(Path(path), frames, fps, **kwargs)


def make_audio(path: str | Path, seconds: float = 1.0, codec: str = "pcm_s16le", rate: int = 8000) -> Path:
    """An audio-only file (a quiet sine): pcm in .wav, aac in .m4a."""
    path = Path(path)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = "mono"
        fmt = "s16" if codec.startswith("pcm") else "fltp"
        step = 1024
        total = int(seconds * rate)
        for start in range(0, total, step):
            t = np.arange(start, min(start + step, total)) / rate
            wave = 0.1 * np.sin(2 * np.pi * 440 * t)
            samples = (wave * 32767).astype(np.int16) if fmt == "s16" else wave.astype(np.float32)
            frame = av.AudioFrame.from_ndarray(samples[None], format=fmt, layout="mono")
            frame.sample_rate = rate
            frame.pts = start
            frame.time_base = Fraction(1, rate)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_video_with_audio(path: str | Path, num_frames: int, fps: int = 25, height: int = 48,
                          width: int = 64) -> Path:
    """A painted-index h264 video (mp4/mkv/mov) with an aac audio track of the same length."""
    path = Path(path)
    rate = 16000
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = container.add_stream("aac", rate=rate)
        audio.layout = "mono"
        for i in range(num_frames):
            frame = av.VideoFrame.from_ndarray(painted_frame(i % 256, height, width), format="rgb24")
            for packet in video.encode(frame):
                container.mux(packet)
        samples = np.zeros((1, int(rate * num_frames / fps)), np.float32)
        for start in range(0, samples.shape[1], 1024):
            chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, start:start + 1024]),
                                               format="fltp", layout="mono")
            chunk.sample_rate, chunk.pts, chunk.time_base = rate, start, Fraction(1, rate)
            for packet in audio.encode(chunk):
                container.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode():
                container.mux(packet)
    return path


def vfr_times(num_frames: int, seed: int = 0, low: float = 0.02, high: float = 0.12) -> np.ndarray:
    """Irregular frame times starting at 0 (for ``make_video(..., timestamps_s=...)``)."""
    rng = np.random.default_rng(seed)
    return np.round(np.cumsum(np.r_[0.0, rng.uniform(low, high, num_frames - 1)]), 3)


def read_indices(images: Sequence[np.ndarray], bits: int = 8) -> list[int]:
    """``read_index`` of each image."""
    return [read_index(image, bits) for image in images]
