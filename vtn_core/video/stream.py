"""Chunks of pre-processed frames in bounded memory, decoded ahead in a background thread."""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from vtn_core.config import Preprocessing
from vtn_core.errors import VideoError
from vtn_core.video.decode import DecodeReport, FrameReader
from vtn_core.video.preprocess import make_thumbnails, preprocess_frames
from vtn_core.video.probe import VideoInfo

_DONE = object()


@dataclass
class Chunk:
    """Samples ``start .. start + n - 1``: model input, thumbnails and true frame times."""

    start: int
    pixels: torch.Tensor  # [n, 3, crop, crop] float32
    thumbnails: np.ndarray  # [n, h, w, 3] uint8
    timestamps_s: np.ndarray  # [n] float64


class ChunkStream:
    """Iterate ``Chunk``s in sample order; ``skipped`` counts undecodable frames once iteration ends.

    Requested indices must be sorted (uniform and fixed-rate samples are). With ``prefetch`` > 0 a thread
    decodes and pre-processes up to that many chunks ahead (PyAV and torch release the GIL), so decoding
    overlaps the caller's compute. Only one chunk of full-resolution frames is held at a time.
    """

    def __init__(self, path: str | Path, indices: np.ndarray, prep: Preprocessing, chunk_size: int,
                 info: VideoInfo | None = None, thumb_height: int = 96, prefetch: int = 1,
                 strategy: str = "auto") -> None:
        indices = np.asarray(indices, dtype=np.int64)
        if np.any(np.diff(indices) < 0):
            raise ValueError("sample indices must be in increasing order")
        self.reader = FrameReader(path, indices, info, strategy)
        self.prep, self.chunk_size, self.thumb_height, self.prefetch = prep, int(chunk_size), thumb_height, prefetch
        self._shape: tuple[int, ...] | None = None  # frame shape of the first chunk: every chunk must match

    @property
    def skipped(self) -> int:
        """Samples that got a substitute frame (final once iteration ends)."""
        return self.reader.skipped

    @property
    def report(self) -> DecodeReport:
        """Skipped samples, decoded frames and rejected packets (final once iteration ends)."""
        return self.reader.report

    def _produce(self) -> Iterator[Chunk]:
        frames, times, start = [], [], 0
        for k, image, time_s in self.reader:
            frames.append(image)
            times.append(time_s)
            if len(frames) == self.chunk_size:
                yield self._chunk(start, frames, times)
                start += len(frames)
                frames, times = [], []
        if frames:
            yield self._chunk(start, frames, times)

    def _chunk(self, start: int, frames: list[np.ndarray], times: list[float]) -> Chunk:
        first = frames[0].shape
        changed = next((f.shape for f in frames if f.shape != first), None)
        if changed is None and self._shape is not None and first != self._shape:
            changed = first
        if changed is not None:
            known = self._shape or first
            raise VideoError(f"{Path(self.reader.path).name}: the frame size changes midway ({known[1]}x{known[0]} "
                             f"to {changed[1]}x{changed[0]}); re-encode the video to one size (e.g. to mp4/h264)")
        self._shape = first
        batch = np.stack(frames)
        return Chunk(start=start, pixels=preprocess_frames(batch, self.prep),
                     thumbnails=make_thumbnails(batch, self.thumb_height), timestamps_s=np.asarray(times))

    def __iter__(self) -> Iterator[Chunk]:
        if self.prefetch <= 0:
            yield from self._produce()
            return
        slots: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()

        def work() -> None:
            try:
                for chunk in self._produce():
                    while not stop.is_set():
                        try:
                            slots.put(chunk, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                slots.put(_DONE)
            except BaseException as exc:  # handed to the consumer, re-raised there
                slots.put(exc)

        worker = threading.Thread(target=work, name="vtn-decode", daemon=True)
        worker.start()
        try:
            while True:
                item = slots.get()
                if item is _DONE:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            while worker.is_alive():
                try:
                    slots.get_nowait()
                except queue.Empty:
                    pass
                worker.join(timeout=0.05)


def iter_chunks(path: str | Path, indices: np.ndarray, prep: Preprocessing, chunk_size: int,
                info: VideoInfo | None = None, thumb_height: int = 96, prefetch: int = 1,
                strategy: str = "auto") -> ChunkStream:
    """A ``ChunkStream`` over the samples at ``indices`` (iterate it; read ``.skipped``/``.report`` afterwards)."""
    return ChunkStream(path, indices, prep, chunk_size, info=info, thumb_height=thumb_height, prefetch=prefetch,
                       strategy=strategy)
