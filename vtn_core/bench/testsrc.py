"""The benchmark's test videos, made with PyAV's own FFmpeg (no ffmpeg program needed): FFmpeg's ``testsrc2``
pattern encoded as H.264, and long videos made by stream-copying one encoded segment end to end."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
from av.video.frame import PictureType

X264_OPTIONS = {"preset": "ultrafast", "crf": "30"}


@dataclass(frozen=True)
class Encoding:
    """How a test video is encoded: x264 options and an FFmpeg filter applied to testsrc2 first."""

    label: str  # how the bench names it
    x264: dict[str, str]
    filter: str = ""


ENCODINGS = {
    # the cheapest H.264 to decode (CAVLC, no deblocking, no B-frames): ~1,500 frames/s on one core here
    "cheap": Encoding("x264 ultrafast crf 30", X264_OPTIONS),
    # what a camera, a phone or ``ffmpeg -i in out.mp4`` makes: x264's default preset and quality (CABAC,
    # deblocking, B-frames) of a picture with sensor-like noise: ~400-600 frames/s on one core here
    "camera": Encoding("x264 medium crf 23, noise", {"preset": "medium", "crf": "23"}, "noise=alls=6:allf=t"),
}


def encode_testsrc(path: Path, seconds: int, fps: int, gop: int, size: str, encoding: str = "cheap") -> None:
    """``seconds`` of testsrc2 at ``size`` ("WxH") and ``fps``, yuv420p, a keyframe every ``gop`` frames, encoded
    as ``ENCODINGS[encoding]`` says (the same recipe as ``ffmpeg -f lavfi -i testsrc2 -c:v libx264 ...``)."""
    recipe = ENCODINGS[encoding]
    width, height = (int(side) for side in size.lower().split("x"))
    frames = seconds * fps
    graph = f"testsrc2=size={width}x{height}:rate={fps}" + (f",{recipe.filter}" if recipe.filter else "")
    source = av.open(graph, format="lavfi")
    try:
        with av.open(str(path), "w", format="mp4") as output:
            stream = output.add_stream("libx264", rate=fps, options={**recipe.x264, "g": str(gop)})
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            for index, frame in enumerate(source.decode(video=0)):
                if index >= frames:
                    break
                # lavfi marks every frame as an I frame and libx264 obeys frame types: clear it, as ffmpeg does
                frame.pict_type = PictureType.NONE
                output.mux(stream.encode(frame.reformat(format="yuv420p")))
            output.mux(stream.encode(None))
    finally:
        source.close()


def loop_copy(segment: Path, times: int, path: Path) -> None:
    """``segment``'s video played ``times`` times in a row, packets copied (no re-encode), index at the front."""
    with av.open(str(segment)) as source, \
            av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as output:
        video = source.streams.video[0]
        stream = output.add_stream_from_template(video)
        span = 0  # the segment's length in its time base, known after the first round
        for round_index in range(times):
            source.seek(0, stream=video)
            end = 0
            for packet in source.demux(video):
                if packet.dts is None:  # the demuxer's closing empty packet
                    continue
                end = max(end, packet.pts + (packet.duration or 0))
                packet.pts += round_index * span
                packet.dts += round_index * span
                packet.stream = stream
                output.mux(packet)
            span = span or end
