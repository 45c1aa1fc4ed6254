"""The benchmark's test videos, made with PyAV's own FFmpeg (no ffmpeg program needed): FFmpeg's ``testsrc2``
pattern encoded as H.264, and long videos made by stream-copying one encoded segment end to end."""
from __future__ import annotations

from pathlib import Path

import av
from av.video.frame import PictureType

X264_OPTIONS = {"preset": "ultrafast", "crf": "30"}


def encode_testsrc(path: Path, seconds: int, fps: int, gop: int, size: str) -> None:
    """``seconds`` of testsrc2 at ``size`` ("WxH") and ``fps``: libx264 ultrafast, crf 30, yuv420p, a keyframe
    every ``gop`` frames (the same recipe as ``ffmpeg -f lavfi -i testsrc2 -c:v libx264 ...``)."""
    width, height = (int(side) for side in size.lower().split("x"))
    frames = seconds * fps
    source = av.open(f"testsrc2=size={width}x{height}:rate={fps}", format="lavfi")
    try:
        with av.open(str(path), "w", format="mp4") as output:
            stream = output.add_stream("libx264", rate=fps, options={**X264_OPTIONS, "g": str(gop)})
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
