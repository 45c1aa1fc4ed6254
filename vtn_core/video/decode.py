"""Decode only the frames asked for: seek to the keyframe before sparse targets, stream straight through dense ones.

Frame index of a decoded frame: from its timestamp for constant-rate videos (robust to dropped or
undecodable frames), by counting for variable-rate ones. A target whose frame does not decode gets the
next frame that does (or the last one at the end) and is counted in ``skipped``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import av
import numpy as np

from vtn_core.errors import VideoError
from vtn_core.video.probe import VideoInfo, open_container, probe_video

STRATEGIES = ("auto", "seek", "sequential")
# seek when the gap between consecutive targets exceeds this many keyframe intervals (measured: docs/VIDEO.md)
SEEK_GAP_IN_GOPS = 1.5
_DEFAULT_GOP = 250


def choose_strategy(info: VideoInfo, indices: np.ndarray) -> str:
    """"seek" when targets are sparse relative to the keyframe interval, else "sequential"."""
    if info.variable_fps or info.container == "gif" or len(indices) < 2:
        return "sequential" if info.variable_fps or info.container == "gif" else "seek"
    unique = np.unique(indices)
    gap = float(np.median(np.diff(unique))) if len(unique) > 1 else float(info.num_frames)
    gop = info.keyframe_interval or _DEFAULT_GOP
    return "seek" if gap > SEEK_GAP_IN_GOPS * gop else "sequential"


class FrameReader:
    """Iterates (k, RGB uint8 frame, time_s) for requested indices in order; counts skipped frames."""

    def __init__(self, path: str | Path, indices: np.ndarray, info: VideoInfo | None = None,
                 strategy: str = "auto") -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}")
        self.path = Path(path)
        self.info = info or probe_video(self.path)
        self.indices = np.asarray(indices, dtype=np.int64)
        self.strategy = choose_strategy(self.info, self.indices) if strategy == "auto" else strategy
        self.skipped = 0
        self.decoded = 0

    def __iter__(self) -> Iterator[tuple[int, np.ndarray, float]]:
        if len(self.indices) == 0:
            return
        container = open_container(self.path)
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            order = np.argsort(self.indices, kind="stable")
            if self.strategy == "seek":
                yield from self._seeking(container, stream, order)
            else:
                yield from self._sequential(container, stream, order)
        finally:
            container.close()

    # ---- frame index of a decoded frame --------------------------------------------------------------
    def _index_of(self, frame: av.VideoFrame, counter: int) -> int:
        info = self.info
        if info.variable_fps or frame.time is None:
            return counter
        return int(round((float(frame.time) - info.start_time_s) * info.fps))

    def _frames(self, container, stream) -> Iterator[av.VideoFrame]:
        """Decode packet by packet, skipping undecodable packets (counted once per packet)."""
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except (av.FFmpegError, ValueError):
                self.skipped += 1
                continue
            for frame in frames:
                self.decoded += 1
                yield frame
        try:
            for frame in stream.decode(None):  # flush the decoder
                self.decoded += 1
                yield frame
        except (av.FFmpegError, ValueError):
            pass

    def _rgb(self, frame: av.VideoFrame) -> np.ndarray:
        image = frame.to_ndarray(format="rgb24")
        turns = (self.info.rotation // 90) % 4
        return np.ascontiguousarray(np.rot90(image, turns)) if turns else image

    # ---- strategies ------------------------------------------------------------------------------------
    def _sequential(self, container, stream, order: np.ndarray):
        targets = self.indices[order]
        pointer, counter = 0, 0
        last = None
        for frame in self._frames(container, stream):
            index = self._index_of(frame, counter)
            counter += 1
            if pointer >= len(targets):
                break
            if index < targets[pointer]:
                continue
            image, time_s = self._rgb(frame), float(frame.time or 0.0)
            last = (image, time_s)
            while pointer < len(targets) and targets[pointer] <= index:
                if targets[pointer] < index:
                    self.skipped += 1  # its own frame never came out of the decoder
                yield int(order[pointer]), image, time_s
                pointer += 1
        yield from self._fill_tail(order, pointer, last, container, stream)

    def _seeking(self, container, stream, order: np.ndarray):
        targets = self.indices[order]
        time_base = float(stream.time_base)
        pointer = 0
        last = None
        while pointer < len(targets):
            target = int(targets[pointer])
            seconds = self.info.start_time_s + target / self.info.fps
            try:
                container.seek(int(seconds / time_base), stream=stream, backward=True, any_frame=False)
            except (av.FFmpegError, OverflowError):
                break
            found = False
            counter = 0
            for frame in self._frames(container, stream):
                index = self._index_of(frame, counter)
                counter += 1
                if index < target:
                    continue
                image, time_s = self._rgb(frame), float(frame.time or 0.0)
                last = (image, time_s)
                while pointer < len(targets) and targets[pointer] <= index:
                    if targets[pointer] < index:
                        self.skipped += 1
                    yield int(order[pointer]), image, time_s
                    pointer += 1
                found = True
                # keep decoding forward while the next target is near; seek again when it is far
                if pointer >= len(targets) or targets[pointer] - index > (self.info.keyframe_interval or _DEFAULT_GOP):
                    break
                target = int(targets[pointer])
            if not found:
                break
        yield from self._fill_tail(order, pointer, last, container, stream)

    def _fill_tail(self, order, pointer, last, container, stream):
        """Targets past the last decodable frame get the last frame (counted as skipped)."""
        if pointer >= len(order):
            return
        if last is None:
            raise VideoError(f"{self.path.name}: no requested frame could be decoded; the file is corrupt")
        for k in order[pointer:]:
            self.skipped += 1
            yield int(k), last[0], last[1]


def read_frames(path: str | Path, indices: np.ndarray, info: VideoInfo | None = None,
                strategy: str = "auto") -> Iterator[tuple[int, np.ndarray, float]]:
    """Decode the frames at ``indices``; yields (k, frame, time_s) in sorted-index order (k = request slot)."""
    return iter(FrameReader(path, indices, info, strategy))
