"""``probe_video``: what a video file holds, read from its container with bounded work, or a ``VideoError``."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import av
import numpy as np

from vtn_core.errors import VideoError
from vtn_core.limits import MAX_VIDEO_ASPECT

MAX_PIXELS = 8192 * 8192  # refuse frames larger than this before decoding anything
MAX_SIDE = 16384
_COUNT_PACKETS_UP_TO_BYTES = 512 * 1024**2  # demux (no decode) to count frames exactly when the container doesn't say
_TIMING_PACKETS = 400
_MAX_FRAMES = 50_000_000  # ~23 days at 25 fps: a larger declared count is a corrupt header
SUPPORTED_HINT = "upload a video file such as mp4, mov, avi, mkv, webm or gif"
# FFmpeg demuxers/codecs that accept arbitrary text or subtitles as "video": never a real upload
_NOT_VIDEO_FORMATS = {"tty", "txt", "ansi", "bin", "xbin", "idf", "adf", "srt", "webvtt", "ass", "lrc"}
_NOT_VIDEO_CODECS = {"ansi", "bintext", "xbin", "idf", "text"}


@dataclass(frozen=True)
class VideoInfo:
    """Facts about one video stream; ``width``/``height`` are as displayed (rotation applied)."""

    path: str
    container: str
    codec: str
    width: int
    height: int
    coded_width: int
    coded_height: int
    rotation: int  # counter-clockwise degrees to turn decoded frames so they display upright
    fps: float
    variable_fps: bool
    duration_s: float
    num_frames: int
    num_frames_exact: bool
    has_audio: bool
    start_time_s: float
    keyframe_interval: int  # frames between keyframes seen in the first packets (0 = unknown)

    def to_dict(self) -> dict:
        return asdict(self)


def open_container(path: Path) -> av.container.InputContainer:
    """``av.open`` with every failure turned into a ``VideoError`` naming the file."""
    if not path.is_file():
        raise VideoError(f"{path.name}: no such file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path.name}: the file is empty (0 bytes); {SUPPORTED_HINT}")
    try:
        return av.open(str(path), mode="r", timeout=10.0)
    except (av.FFmpegError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise VideoError(f"{path.name}: not a readable video file ({_reason(exc)}); {SUPPORTED_HINT}") from None


_ERRNO_TEXT = {1: "corrupt or unsupported data", 5: "corrupt or unsupported data", 16: "corrupt or unsupported data"}


def _reason(exc: BaseException) -> str:
    """FFmpeg's short reason ("Invalid data found when processing input"), never a path or the file's bytes."""
    if isinstance(exc, UnicodeDecodeError):
        return "unreadable text in its header"
    errno = getattr(exc, "errno", None)
    if errno in _ERRNO_TEXT:
        return _ERRNO_TEXT[errno]
    text = getattr(exc, "strerror", None) or str(exc).split(":")[0] or type(exc).__name__
    return str(text).strip()[:120]


def probe_video(path: str | Path) -> VideoInfo:
    """Probe ``path``: size, rotation, rate (and whether it varies), duration, frame count, codec."""
    path = Path(path)
    container = open_container(path)
    try:
        return _probe(container, path)
    except VideoError:
        raise
    except (av.FFmpegError, ValueError, OverflowError, ZeroDivisionError, MemoryError, IndexError) as exc:
        raise VideoError(f"{path.name}: cannot read the video stream ({_reason(exc)}); the file may be corrupt") from None
    finally:
        container.close()


def _probe(container: av.container.InputContainer, path: Path) -> VideoInfo:
    if container.format.name in _NOT_VIDEO_FORMATS:
        raise VideoError(f"{path.name}: not a video file (it reads as {container.format.name} text); {SUPPORTED_HINT}")
    if not container.streams.video or all(_is_cover_picture(s) for s in container.streams.video):
        kind = "audio only" if container.streams.audio else "no video stream"
        if container.streams.video:
            kind += " (its only picture is a cover image)"
        raise VideoError(f"{path.name}: {kind}: there are no frames to look at; {SUPPORTED_HINT}")
    stream = container.streams.video[0]
    if _is_cover_picture(stream):
        raise VideoError(f"{path.name}: its first video stream is a cover picture, not a video; re-encode the file "
                         "with the video first (e.g. to mp4/h264)")
    context = stream.codec_context
    if context.name in _NOT_VIDEO_CODECS:
        raise VideoError(f"{path.name}: not a video file (it reads as {context.name} text); {SUPPORTED_HINT}")
    coded_width, coded_height = int(context.width or 0), int(context.height or 0)
    if coded_width <= 0 or coded_height <= 0:
        raise VideoError(f"{path.name}: the video stream declares no usable frame size (missing, or too large "
                         "for the decoder); the file may be corrupt")
    if coded_width > MAX_SIDE or coded_height > MAX_SIDE or coded_width * coded_height > MAX_PIXELS:
        raise VideoError(f"{path.name}: frame size {coded_width}x{coded_height} is larger than supported "
                         f"(at most {MAX_SIDE} px a side and {MAX_PIXELS // 1_000_000} megapixels)")
    if max(coded_width, coded_height) > MAX_VIDEO_ASPECT * min(coded_width, coded_height):
        raise VideoError(f"{path.name}: frame size {coded_width}x{coded_height} is too elongated to be a video "
                         f"(at most {MAX_VIDEO_ASPECT:.0f}:1)")
    time_base = float(stream.time_base) if stream.time_base else 0.0
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    fps = float(rate) if rate else 0.0
    start = float(stream.start_time * time_base) if stream.start_time is not None and time_base else 0.0
    if stream.duration and time_base:
        duration = float(stream.duration * time_base)
    elif container.duration:
        duration = float(container.duration / av.time_base)
    else:
        duration = 0.0

    pts, keyframes, packets_seen = _packet_timing(container, stream)
    variable = False
    if len(pts) >= 3:
        steps = np.diff(np.sort(np.asarray(pts, dtype=np.float64)))[:-1] * time_base
        steps = steps[steps > 0]
        if steps.size >= 2:
            # a constant rate in a coarse time base alternates by one tick (33/34 ms): not variable
            variable = bool((steps.max() - steps.min()) > 0.1 * np.median(steps) + 1.01 * time_base)
            if not fps or not np.isfinite(fps):
                fps = float(1.0 / np.median(steps))
    if not fps or not np.isfinite(fps) or fps <= 0:
        fps = 25.0
    interval = int(np.median(np.diff(keyframes))) if len(keyframes) >= 2 else 0

    estimate = duration * fps
    if stream.frames and stream.frames > 0 and (not estimate or stream.frames <= 10 * estimate + 10):
        count, exact = int(stream.frames), True
    elif path.stat().st_size <= _COUNT_PACKETS_UP_TO_BYTES:
        count, exact = _count_packets(path), True
        exact = count > 0
        if not count:
            count = packets_seen
    else:
        count, exact = int(round(duration * fps)), False
    if count <= 0:
        raise VideoError(f"{path.name}: the video stream holds no frames; the file may be corrupt or empty")
    if count > _MAX_FRAMES:
        raise VideoError(f"{path.name}: the header declares {count} frames, more than any real video; "
                         "the file is corrupt")
    if duration <= 0:
        duration = count / fps
    rotation = _rotation(container, stream, path)
    width, height = (coded_height, coded_width) if rotation in (90, 270) else (coded_width, coded_height)
    return VideoInfo(path=str(path), container=container.format.name, codec=context.name, width=width, height=height,
                     coded_width=coded_width, coded_height=coded_height, rotation=rotation, fps=fps,
                     variable_fps=variable, duration_s=duration, num_frames=count, num_frames_exact=exact,
                     has_audio=bool(container.streams.audio), start_time_s=start, keyframe_interval=interval)


def _is_cover_picture(stream) -> bool:
    """An attached picture (an mp3's or m4a's cover art), not a video."""
    try:
        return bool(int(stream.disposition) & int(av.stream.Disposition.attached_pic))
    except (AttributeError, TypeError, ValueError):
        return False


def _packet_timing(container, stream) -> tuple[list[int], list[int], int]:
    """pts of the first packets (for VFR detection) and which of them are keyframes."""
    pts: list[int] = []
    keyframes: list[int] = []
    seen = 0
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            if packet.pts is not None:
                pts.append(int(packet.pts))
            if packet.is_keyframe:
                keyframes.append(seen)
            seen += 1
            if seen >= _TIMING_PACKETS:
                break
    except av.FFmpegError:
        pass
    container.seek(0) if seen and container.format.name not in ("gif",) else None
    return pts, keyframes, seen


def _count_packets(path: Path) -> int:
    with av.open(str(path), timeout=10.0) as container:
        stream = container.streams.video[0]
        count = 0
        try:
            for packet in container.demux(stream):
                if packet.size:
                    count += 1
        except av.FFmpegError:
            pass
        return count


def _rotation(container, stream, path: Path) -> int:
    """Display rotation from the first decodable frame (also proves that something decodes)."""
    container.seek(0) if container.format.name != "gif" else None
    try:
        for frame in container.decode(stream):
            return int(getattr(frame, "rotation", 0) or 0) % 360
    except av.FFmpegError:
        pass
    # the first packets did not decode: try once more from a fresh open before giving up
    with av.open(str(path), timeout=10.0) as again:
        try:
            for frame in again.decode(again.streams.video[0]):
                return int(getattr(frame, "rotation", 0) or 0) % 360
        except av.FFmpegError as exc:
            raise VideoError(f"{path.name}: no frame of the video decodes ({_reason(exc)}); the file is corrupt") from None
    raise VideoError(f"{path.name}: no frame of the video decodes; the file is corrupt or empty")


_TIMES_CACHE: dict[tuple[str, int, int], np.ndarray] = {}


def frame_times(path: str | Path) -> np.ndarray:
    """Presentation times (s) of every frame in display order, from the packets' pts (demux only, no decode).

    Used for variable-rate videos, where frame index and time are not proportional. Cached per file version.
    Packets without a pts are ignored; an empty array means the container gives no usable times.
    """
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _TIMES_CACHE:
        container = open_container(path)
        try:
            stream = container.streams.video[0]
            base = float(stream.time_base or 0) or 1.0
            pts: list[int] = []
            try:
                for packet in container.demux(stream):
                    if packet.size and packet.pts is not None:
                        pts.append(int(packet.pts))
            except av.FFmpegError:
                pass  # a damaged tail: keep the times read so far
        finally:
            container.close()
        if len(_TIMES_CACHE) > 16:
            _TIMES_CACHE.clear()
        _TIMES_CACHE[key] = np.unique(np.asarray(pts, dtype=np.int64)) * base
    return _TIMES_CACHE[key]
