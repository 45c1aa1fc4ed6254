"""Chunks of pre-processed frames in bounded memory, decoded ahead in a background thread (or a process pool)."""
from __future__ import annotations

import queue
import threading
import time
from collections import deque
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from vtn_core.config import Preprocessing
from vtn_core.errors import VideoError
from vtn_core.video import paces
from vtn_core.video.convert import FrameConverter
from vtn_core.video.decode import DECODE_ERRORS, DecodeReport, FrameReader, decode_failed
from vtn_core.video.overlap import converted_in_order, converter_threads, one_thread_may_pay, threads_after_measuring
from vtn_core.video.preprocess import make_thumbnails, preprocess_frames
from vtn_core.video.probe import VideoInfo
from vtn_core.video.segments import (
    SegmentFrames,
    crop_for,
    decode_segment,
    frames_to_decode,
    plan_workers,
    shutdown_pool,
    split_segments,
    submit_segment,
)

_DONE = object()


def _as_decoded(frame):
    """The reader's conversion when converter threads do the work: the decoded frame itself."""
    return frame


@dataclass(frozen=True)
class _Slotted:
    """A decoded frame and where its model input goes: its slot in the chunk being filled."""

    frame: object
    out: np.ndarray


class _ChunkSlots:
    """The model inputs of each chunk, written in place by the converter threads: one tensor per chunk,
    allocated (not yet touched) by the decoding thread when the chunk's first frame is handed over. Stacking
    frames into a chunk afterwards copied 19 MB per 32 frames of a 224-px input on the decoding thread
    (5 ms, most of it first touches of new memory: docs/VIDEO.md); here the converters' own writes fill it.
    ``pinned``: page-locked memory, for a model on CUDA (its copy to the GPU then runs without the CPU waiting;
    torch's pinned allocator reuses the memory once that copy is done); plain memory where CUDA refuses."""

    def __init__(self, chunk_size: int, side: int, pinned: bool = False) -> None:
        self.chunk_size, self.side, self.pinned = chunk_size, side, pinned
        self._tensors: dict[int, tuple[torch.Tensor, np.ndarray]] = {}

    def _allocate(self) -> torch.Tensor:
        shape = (self.chunk_size, 3, self.side, self.side)
        if self.pinned:
            try:
                return torch.empty(shape, dtype=torch.float32, pin_memory=True)
            except RuntimeError:  # no CUDA after all, or no page-locked memory left: plain memory does the same
                self.pinned = False
        return torch.empty(shape, dtype=torch.float32)

    def view(self, position: int) -> np.ndarray:
        """float32 [3, side, side]: the slot of the ``position``-th model input of the stream."""
        chunk, at = divmod(position, self.chunk_size)
        if chunk not in self._tensors:  # full size even for the last chunk: pages never written are never backed
            tensor = self._allocate()
            self._tensors[chunk] = (tensor, tensor.numpy())
        return self._tensors[chunk][1][at]

    def take(self, chunk: int, count: int) -> torch.Tensor:
        """The first ``count`` model inputs of ``chunk``, forgotten here (the chunk owns them now)."""
        return self._tensors.pop(chunk)[0][:count]


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
    overlaps the caller's compute. Only one chunk of frames is held at a time, and of each frame only the
    pixels the crop reads (``video.convert``; ``conversion="legacy"`` converts whole frames as before).

    ``workers``: decode processes (``None``: ``segments.plan_workers`` decides, 1 for short clips);
    with more than one, keyframe-aligned segments are decoded by a process pool and merged in order.
    ``decode_device``: "auto", "cpu" or "cuda" (``video.hwdecode``; GPU decoding runs in this process).
    ``converters``: threads converting decoded frames while the next ones decode (``video.overlap``; ``None``:
    one per two cores, 0: convert in the decoding thread). ``pin_memory``: chunks in page-locked memory, for a
    model on CUDA (plain memory where that is not possible).
    """

    def __init__(self, path: str | Path, indices: np.ndarray, prep: Preprocessing, chunk_size: int,
                 info: VideoInfo | None = None, thumb_height: int = 96, prefetch: int = 1,
                 strategy: str = "auto", *, workers: int | None = None, decode_device: str = "auto",
                 conversion: str = "auto", converters: int | None = None, pin_memory: bool = False) -> None:
        indices = np.asarray(indices, dtype=np.int64)
        if np.any(np.diff(indices) < 0):
            raise ValueError("sample indices must be in increasing order")
        self.path, self.indices = Path(path), indices
        self.converter = FrameConverter(prep, thumb_height, 0, conversion if conversion != "legacy" else "auto")
        # the reader hands decoded frames over as they are; converter threads convert them (``_in_process``)
        passthrough = None if conversion == "legacy" else _as_decoded
        self.reader = FrameReader(path, indices, info, strategy, convert=passthrough, device=decode_device)
        self.converter.rotation = self.reader.info.rotation
        self._frames_per_sample = 1.0
        # what ``_retune`` measured (or an earlier read of the file, "remembered"), where one thread may pay
        self.decoder_measured: dict[str, float | bool] | None = None
        if conversion != "legacy":
            unique = max(1, len(np.unique(indices)))
            share = self.converter.converted_share(self.reader.info.height, self.reader.info.width)
            self._frames_per_sample = frames_to_decode(self.reader.info, indices) / unique
            # what a conversion's cost depends on: the frame size, the crop's, the thumbnails', the mode
            self._recipe = (self.reader.info.height, self.reader.info.width, prep.resize_short_side, prep.crop_size,
                            thumb_height, conversion)
            if one_thread_may_pay(self._frames_per_sample, share) and self.reader.device == "cpu":
                self.reader.threads = 1  # one thread, unless this file and recipe were measured before
                if not self._recall_decoder():
                    self.reader.retune = self._retune  # its first frames tell
        self.info, self.conversion = self.reader.info, conversion
        self.prep, self.chunk_size, self.thumb_height, self.prefetch = prep, int(chunk_size), thumb_height, prefetch
        self.workers = 1 if self.reader.device != "cpu" else plan_workers(self.info, indices, workers)
        self.converters = converter_threads() if converters is None else max(0, int(converters))
        self._counts = [0, 0, 0]  # skipped, decoded, errors of the worker processes
        self._notices: list[str] = []
        self._shape: tuple[int, ...] | None = None  # frame shape of the first chunk: every chunk must match
        self.pin_memory = bool(pin_memory)
        self._slots = _ChunkSlots(self.chunk_size, prep.crop_size)  # replaced at every iteration (``_produce``)

    @property
    def skipped(self) -> int:
        """Samples that got a substitute frame (final once iteration ends)."""
        return self.report.skipped

    @property
    def report(self) -> DecodeReport:
        """Skipped samples, decoded frames and rejected packets (final once iteration ends)."""
        own = self.reader.report
        return DecodeReport(skipped=own.skipped + self._counts[0], decoded=own.decoded + self._counts[1],
                            errors=own.errors + self._counts[2])

    @property
    def notices(self) -> list[str]:
        """What the reader had to work around (GPU decoding unavailable or failed, a worker pool lost)."""
        return list(self.reader.notices) + self._notices

    def _produce(self) -> Iterator[Chunk]:
        if self.conversion == "legacy":
            yield from self._produce_legacy()
            return
        self._slots = _ChunkSlots(self.chunk_size, self.prep.crop_size, self.pin_memory)  # fresh every iteration
        items = self._parallel() if self.workers > 1 else self._in_process()
        thumbs, times, start = [], [], 0
        for position, (pixels, thumbnail, time_s) in enumerate(items):
            slot = self._slots.view(position)
            if pixels is not slot:  # a worker's result, or a sample repeating the frame before: copied in
                if pixels.shape != slot.shape:
                    raise VideoError(f"{self.path.name}: a model input of shape {pixels.shape} came back, "
                                     f"expected {slot.shape}")
                slot[...] = pixels
            thumbs.append(thumbnail)
            times.append(time_s)
            if len(times) == self.chunk_size:
                yield self._gathered_chunk(start, thumbs, times)
                start += len(times)
                thumbs, times = [], []
        if times:
            yield self._gathered_chunk(start, thumbs, times)

    def _in_process(self) -> Iterator[tuple[np.ndarray, np.ndarray, float]]:
        """Decode here, convert on ``converters`` threads at the same time (``video.overlap``), each frame's model
        input straight into its chunk's slot."""
        def slotted() -> Iterator[tuple[int, _Slotted, float]]:
            previous: _Slotted | None = None
            for position, (k, frame, time_s) in enumerate(self.reader):
                if previous is None or previous.frame is not frame:  # a repeated frame: converted once
                    previous = _Slotted(frame, self._slots.view(position))
                yield k, previous, time_s

        for _, (pixels, thumbnail), time_s in converted_in_order(slotted(), self._convert, self.converters):
            yield pixels, thumbnail, time_s

    def _recall_decoder(self) -> bool:
        """Decoder threads from what an earlier read of this file and recipe measured (``video.paces``), where
        one did; whether it had."""
        decode_s, convert_s = paces.decoding(self.path), paces.converting(self._recipe)
        if decode_s is None or convert_s is None:
            return False
        self.reader.threads = self._decided(decode_s, convert_s, remembered=True)
        return True

    def _decided(self, decode_s: float, convert_s: float, remembered: bool) -> int | None:
        """``overlap.threads_after_measuring`` on one thread's decoding CPU per frame and one conversion's CPU
        per sample; what it was given, in ``decoder_measured``."""
        threads = threads_after_measuring(decode_s, convert_s, self._frames_per_sample)
        self.decoder_measured = {"decode_ms_per_frame": 1000 * decode_s, "convert_ms_per_sample": 1000 * convert_s,
                                 "frames_per_sample": self._frames_per_sample,
                                 "threads": 0 if threads is None else threads, "remembered": remembered}
        return threads

    def _retune(self, frame, frames: int, decode_s: float) -> int | None:
        """The reader's decoder threads from here on (``overlap.threads_after_measuring``): its CPU time per
        frame so far against the conversion of ``frame`` on this thread (the faster of two, after one that sets
        up this thread's scalers). Once per read, ~2 ms; remembered for the next read of the file
        (``video.paces``)."""
        scratch = _Slotted(frame, np.empty((3, self.prep.crop_size, self.prep.crop_size), np.float32))
        self._convert(scratch)
        timings = []
        for _ in range(2):  # one conversion alone is a noisy clock (0.54-0.84 ms measured for the same frame)
            started = time.thread_time()
            self._convert(scratch)
            timings.append(time.thread_time() - started)
        convert_s = min(timings)
        paces.remember_decoding(self.path, decode_s / frames)  # the next read of this file need not measure
        paces.remember_converting(self._recipe, convert_s)
        return self._decided(decode_s / frames, convert_s, remembered=False)

    def _convert(self, slotted: _Slotted) -> tuple[np.ndarray, np.ndarray]:
        """The converter on one decoded frame; what goes wrong is the file's fault and said so, as the reader does."""
        try:
            return self.converter.convert(slotted.frame, slotted.out)
        except DECODE_ERRORS as exc:
            raise decode_failed(self.path, exc) from None

    def _parallel(self) -> Iterator[tuple[np.ndarray, np.ndarray, float]]:
        """Segments on the pool, at most two per worker in flight, taken back in order."""
        segments = split_segments(self.info, self.indices, self.workers)
        known = crop_for(self.info, self.prep)
        pending: deque = deque()  # (segment number, future), in order
        following = 0
        try:
            while following < len(segments) or pending:
                while following < len(segments) and len(pending) < 2 * self.workers:
                    pending.append((following, submit_segment(self.workers, self.path, segments[following],
                                                              self.info, self.prep, self.thumb_height,
                                                              self.conversion, "cpu", known)))
                    following += 1
                number, future = pending.popleft()
                try:
                    done: SegmentFrames = future.result()
                except BrokenProcessPool:  # a worker was killed (out of memory, a signal): finish here
                    shutdown_pool()
                    pending.clear()
                    self._notices.append("a decode worker process died; the rest was decoded in this process")
                    for segment in segments[number:]:
                        yield from self._unpack(decode_segment(str(self.path), segment, self.info, self.prep,
                                                               self.thumb_height, self.conversion, None,
                                                               "cpu", known))
                    return
                yield from self._unpack(done)
        finally:
            for _, future in pending:
                future.cancel()

    def _unpack(self, done: SegmentFrames) -> Iterator[tuple[np.ndarray, np.ndarray, float]]:
        for i, value in enumerate((done.report.skipped, done.report.decoded, done.report.errors)):
            self._counts[i] += value
        self._notices.extend(n for n in done.notices if n not in self._notices)
        self.converter.mode_used = self.converter.mode_used or done.mode_used
        yield from zip(done.gathered, done.thumbnails, done.times)

    def _gathered_chunk(self, start: int, thumbs: list[np.ndarray], times: list[float]) -> Chunk:
        """The chunk from ``start``: its slots' model inputs (filled in place) and the thumbnails stacked."""
        shapes = {t.shape for t in thumbs} | ({self._shape} if self._shape is not None else set())
        if len(shapes) > 1:  # within this chunk or since the last
            raise VideoError(f"{self.path.name}: the frame size changes midway (thumbnails {sorted(shapes)}); "
                             "re-encode the video to one size (e.g. to mp4/h264)")
        self._shape = thumbs[0].shape
        pixels = self._slots.take(start // self.chunk_size, len(times))
        return Chunk(start=start, pixels=pixels, thumbnails=np.stack(thumbs),
                     timestamps_s=np.asarray(times))

    def _produce_legacy(self) -> Iterator[Chunk]:
        """The pre-issue-15 path: whole RGB frames, ``preprocess_frames``, ``make_thumbnails``."""
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
                strategy: str = "auto", *, workers: int | None = None, decode_device: str = "auto",
                conversion: str = "auto", converters: int | None = None, pin_memory: bool = False) -> ChunkStream:
    """A ``ChunkStream`` over the samples at ``indices`` (iterate it; read ``.skipped``/``.report`` afterwards)."""
    return ChunkStream(path, indices, prep, chunk_size, info=info, thumb_height=thumb_height, prefetch=prefetch,
                       strategy=strategy, workers=workers, decode_device=decode_device, conversion=conversion,
                       converters=converters, pin_memory=pin_memory)
