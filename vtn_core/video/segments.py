"""One video's samples decoded by a pool of worker processes in keyframe-aligned segments, merged in order.

A segment is a run of consecutive samples whose first one starts a new keyframe interval (GOP), so the
worker seeks straight to that keyframe and decodes forward to its last sample: no frame is decoded twice
and the segments together decode what one reader would. Each worker decodes single-threaded (frame threads
would only compete with the other workers) and returns only the crop's pixels and thumbnails
(``video.convert``), so little crosses the process boundary. The pool is created once per process and
reused (starting a worker imports numpy and PyAV once; neither torch nor numba: ``video.kernels``).

``plan_workers`` keeps short clips on one in-process reader and gives long videos more workers.
"""
from __future__ import annotations

import atexit
import multiprocessing
import os
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vtn_core.config import Preprocessing
from vtn_core.video.convert import CropPixels, FrameConverter, crop_pixels
from vtn_core.video.decode import DecodeReport, FrameReader
from vtn_core.video.probe import VideoInfo

# one more worker per this much decoding (in 1280x720 frames): below it a pool does not pay for itself
FRAMES_PER_WORKER = 1500
MAX_WORKERS = 8
SEGMENTS_PER_WORKER = 4  # several segments each, so one slow segment does not hold the others back
MAX_SEGMENT_SAMPLES = 64  # bounds what a finished segment holds in memory
_DEFAULT_GOP = 250


@dataclass(frozen=True)
class Segment:
    """Samples ``start .. start + len(indices) - 1`` of the request (``indices`` sorted)."""

    start: int
    indices: np.ndarray


@dataclass
class SegmentFrames:
    """What a worker sends back: the crop's pixels, thumbnails and frame times of one segment's samples."""

    start: int
    gathered: list[np.ndarray]
    thumbnails: list[np.ndarray]
    times: list[float]
    report: DecodeReport
    mode_used: str | None
    notices: list[str] = field(default_factory=list)


def frames_to_decode(info: VideoInfo, indices: np.ndarray) -> int:
    """About how many frames a reader decodes for these samples: the span for dense ones, half a GOP per
    sample for sparse ones (whichever is less)."""
    indices = np.asarray(indices, dtype=np.int64)
    if len(indices) == 0:
        return 0
    gop = info.keyframe_interval or _DEFAULT_GOP
    span = int(indices[-1] - indices[0]) + 1
    return min(span, len(np.unique(indices)) * (gop // 2 + 1))


def plan_workers(info: VideoInfo, indices: np.ndarray, requested: int | None = None) -> int:
    """Decode processes for this read: ``requested`` if given (at least 1), else one per FRAMES_PER_WORKER
    720p-sized frames of decoding, at most the CPU count; always 1 where segments cannot be cut (variable
    frame rate, gif, no keyframe interval known)."""
    if info.variable_fps or info.container == "gif" or len(indices) < 2:
        return 1
    if requested is not None:
        return max(1, int(requested))
    work = frames_to_decode(info, indices) * (info.width * info.height) / (1280 * 720)
    return int(max(1, min(os.cpu_count() or 1, MAX_WORKERS, work // FRAMES_PER_WORKER)))


def split_segments(info: VideoInfo, indices: np.ndarray, workers: int) -> list[Segment]:
    """Consecutive keyframe-aligned runs of the (sorted) samples: about ``SEGMENTS_PER_WORKER`` per worker,
    closed at the first GOP boundary after ``MAX_SEGMENT_SAMPLES`` samples (a GOP's samples are never split)."""
    indices = np.asarray(indices, dtype=np.int64)
    if len(indices) == 0:
        return []
    gop = max(info.keyframe_interval or _DEFAULT_GOP, 1)
    target = max(1, frames_to_decode(info, indices) // max(1, workers * SEGMENTS_PER_WORKER))
    segments, first = [], 0
    for k in range(1, len(indices) + 1):
        at_end = k == len(indices)
        new_gop = not at_end and indices[k] // gop != indices[k - 1] // gop
        span = (int(indices[k - 1]) - int(indices[first])) + 1
        full = k - first >= MAX_SEGMENT_SAMPLES or span >= target
        if at_end or (new_gop and full):
            segments.append(Segment(first, indices[first:k].copy()))
            first = k
    return segments


def crop_for(info: VideoInfo, prep: Preprocessing) -> dict[tuple[int, int], CropPixels]:
    """The crop's pixels at the probed size, computed here so that workers need not import torch."""
    return {(info.height, info.width): crop_pixels(info.height, info.width, prep)}


def decode_segment(path: str, segment: Segment, info: VideoInfo, prep: Preprocessing, thumb_height: int,
                   conversion: str = "auto", threads: int | None = 1, device: str = "cpu",
                   known: dict[tuple[int, int], CropPixels] | None = None) -> SegmentFrames:
    """Decode one segment (in a worker process or in-process): seek to its keyframe, decode forward."""
    converter = FrameConverter(prep, thumb_height, info.rotation, conversion, known=dict(known or {}))
    reader = FrameReader(path, segment.indices, info, "seek", convert=converter.convert, threads=threads,
                         device=device)
    count = len(segment.indices)
    gathered: list = [None] * count
    thumbnails: list = [None] * count
    times = [0.0] * count
    for k, (pixels, thumbnail), time_s in reader:
        gathered[k], thumbnails[k], times[k] = pixels, thumbnail, time_s
    return SegmentFrames(segment.start, gathered, thumbnails, times, reader.report, converter.mode_used,
                         list(reader.notices))


# ---- the pool -------------------------------------------------------------------------------------------

_POOL: ProcessPoolExecutor | None = None
_POOL_SIZE = 0
_POOL_LOCK = threading.Lock()


def _worker_start() -> None:
    """Each worker decodes and converts on one core (and imports no torch: see ``crop_for``)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")


@contextmanager
def _main_module_hidden() -> Iterator[None]:
    """While workers start: a spawned process re-runs the parent's main script unless told none exists.

    A user's script without an ``if __name__ == "__main__"`` guard (or Streamlit's runner) must not run
    again in every decode worker; the workers need only this package, which they import by name."""
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved = {name: main.__dict__[name] for name in ("__file__", "__spec__") if name in main.__dict__}
    main.__dict__.pop("__file__", None)
    main.__dict__["__spec__"] = None
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


def make_pool(workers: int) -> ProcessPoolExecutor:
    """A new pool of ``workers`` decode processes, all started now."""
    # spawn, not fork: the parent may hold torch/OpenMP threads and Streamlit's, which fork would copy
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_start)
    with _main_module_hidden(), _without_compiled_loops():  # start every worker now, so none starts later
        launch = getattr(pool, "_launch_processes", None)
        if launch is not None:
            launch()
    return pool


@contextmanager
def _without_compiled_loops() -> Iterator[None]:
    """While workers start: they inherit ``VTN_COMPILED_LOOPS=0`` (no numba: ~150 MB less each, the same
    numbers; conversion is a few % of a worker's time, decoding the rest)."""
    saved = os.environ.get("VTN_COMPILED_LOOPS")
    os.environ["VTN_COMPILED_LOOPS"] = "0"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("VTN_COMPILED_LOOPS", None)
        else:
            os.environ["VTN_COMPILED_LOOPS"] = saved


def decode_pool(workers: int) -> ProcessPoolExecutor:
    """The process's decode pool with at least ``workers`` processes (created on first use, then reused)."""
    global _POOL, _POOL_SIZE
    with _POOL_LOCK:
        if _POOL is None or _POOL_SIZE < workers:
            if _POOL is not None:
                _POOL.shutdown(wait=False, cancel_futures=True)
            _POOL, _POOL_SIZE = make_pool(workers), workers
        return _POOL


def warm_pool(workers: int, pool: ProcessPoolExecutor | None = None) -> None:
    """Make sure every worker has started and imported the package, so a timed read does not pay for it."""
    pool = pool or decode_pool(workers)
    for done in [pool.submit(os.getpid) for _ in range(4 * workers)]:
        done.result()


def shutdown_pool() -> None:
    """Stop the worker processes (at exit, or to resize)."""
    global _POOL, _POOL_SIZE
    with _POOL_LOCK:
        if _POOL is not None:
            _POOL.shutdown(wait=True, cancel_futures=True)
        _POOL, _POOL_SIZE = None, 0


atexit.register(shutdown_pool)


def submit_segment(workers: int, path: Path, segment: Segment, info: VideoInfo, prep: Preprocessing,
                   thumb_height: int, conversion: str, device: str,
                   known: dict[tuple[int, int], CropPixels] | None = None) -> Future:
    """Queue one segment on the pool."""
    return decode_pool(workers).submit(decode_segment, str(path), segment, info, prep, thumb_height, conversion,
                                       1, device, known)
