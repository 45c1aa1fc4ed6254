"""Write frames to a video file with PyAV: used by the synthetic data generator, tests and the benchmark."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Iterable, Sequence

import av
import numpy as np

# container suffix -> (codec, pixel format) that PyAV's bundled FFmpeg can write
DEFAULT_CODECS: dict[str, tuple[str, str]] = {
    ".mp4": ("libx264", "yuv420p"),
    ".mov": ("libx264", "yuv420p"),
    ".mkv": ("libx264", "yuv420p"),
    ".avi": ("mpeg4", "yuv420p"),
    ".webm": ("libvpx-vp9", "yuv420p"),
    ".gif": ("gif", "rgb8"),
}


def write_video(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: float = 25.0,
    *,
    codec: str | None = None,
    pixel_format: str | None = None,
    timestamps_s: Sequence[float] | None = None,
    rotation: int = 0,
    crf: int = 23,
    gop: int | None = None,
) -> Path:
    """Encode RGB uint8 frames [H, W, 3] (even H and W for yuv420p) into ``path``; returns the path.

    ``timestamps_s`` gives each frame its own time (a variable frame rate); ``rotation`` writes the
    display-rotation metadata a phone would (90, 180, 270); ``gop`` sets the keyframe interval.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    default_codec, default_pix = DEFAULT_CODECS.get(suffix, ("libx264", "yuv420p"))
    codec = codec or default_codec
    pixel_format = pixel_format or default_pix
    time_base = Fraction(1, 1000) if timestamps_s is not None else None
    with av.open(str(path), mode="w") as container:
        rate = Fraction(fps).limit_denominator(1001)
        stream = container.add_stream(codec, rate=rate)
        stream.pix_fmt = pixel_format
        options: dict[str, str] = {}
        if codec in ("libx264", "libx265"):
            options = {"crf": str(crf), "preset": "veryfast"}
        if codec == "libvpx-vp9":
            options = {"deadline": "realtime", "cpu-used": "8", "crf": str(crf + 10), "b:v": "0"}
        if gop is not None:
            stream.codec_context.gop_size = int(gop)
        stream.options = options
        if time_base is not None:
            stream.time_base = time_base
            stream.codec_context.time_base = time_base
        if rotation:
            stream.set_display_rotation(int(rotation) % 360)  # counter-clockwise, read back as frame.rotation
        started = False
        for i, frame in enumerate(frames):
            frame = np.ascontiguousarray(frame, dtype=np.uint8)
            if not started:
                stream.height, stream.width = int(frame.shape[0]), int(frame.shape[1])
                started = True
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            if timestamps_s is not None:
                video_frame.pts = int(round(float(timestamps_s[i]) * 1000))
                video_frame.time_base = time_base
            for packet in stream.encode(video_frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_yuv420_video(path: str | Path, planes: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
                       fps: float = 25.0, *, crf: int = 26, preset: str = "ultrafast") -> Path:
    """Encode (Y, U, V) uint8 4:2:0 planes with libx264 on one thread (no RGB conversion: the fast path for
    generated data; run several processes for parallelism). Returns the path."""
    path = Path(path)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": preset, "tune": "zerolatency", "threads": "1"}
        started = False
        for y, u, v in planes:
            if not started:
                stream.height, stream.width = int(y.shape[0]), int(y.shape[1])
                started = True
            frame = av.VideoFrame.from_ndarray(np.concatenate([y.ravel(), u.ravel(), v.ravel()]).reshape(-1, y.shape[1]),
                                               format="yuv420p")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
