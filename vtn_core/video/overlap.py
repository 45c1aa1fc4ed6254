"""Decoding and converting at once: the decoder runs in the caller's thread while converter threads turn the
frames already decoded into model input and thumbnails, results taken back in order.

PyAV decodes, FFmpeg converts colours and the ``video.kernels`` loops run without the GIL, so the conversion
of one frame overlaps the decoding of the next: a frame costs about max(decode, convert) of wall time
instead of decode + convert (``bench``'s ``decode_overhead``). On 2 cores a dense read (almost every decoded
frame converted) decodes single-threaded beside one converter; otherwise FFmpeg's frame threads decode beside
one converter per two cores.
"""
from __future__ import annotations

import os
import queue
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Iterable, Iterator, TypeVar

Frame = TypeVar("Frame")

MAX_CONVERTERS = 4
SINGLE_THREAD_DECODER_CORES = 2
FRAMES_PER_SAMPLE_FOR_THREADS = 2.0  # beyond this the decoder, not conversion, is the limit
LIGHT_CONVERSION_SHARE = 0.1  # converting up to this share of a frame's pixels (and its thumbnail) is light
FRAMES_AHEAD_PER_CONVERTER = 3  # decoded frames waiting per converter (each a full frame: bounded memory)
# conversion ÷ one-thread decoding CPU per sample under which FFmpeg's frame threads are the faster decoder
RETHREAD_BELOW = 0.4


def converter_threads(cpus: int | None = None) -> int:
    """Converter threads beside the decoder: one per two cores, at least one, at most ``MAX_CONVERTERS``
    (docs/VIDEO.md, "Converting beside the decoder", has the measured choice)."""
    return max(1, min(MAX_CONVERTERS, (cpus or os.cpu_count() or 1) // 2))


def one_thread_may_pay(frames_per_sample: float, converted_share: float = 1.0, cpus: int | None = None) -> bool:
    """Whether decoding on one thread instead of FFmpeg's frame threads (one per core) may be the faster way
    for a read: only on ``SINGLE_THREAD_DECODER_CORES`` cores or fewer, where nearly every decoded frame is
    also converted (fewer than ``FRAMES_PER_SAMPLE_FOR_THREADS`` decoded per sample) and the conversion is
    heavy (more than ``LIGHT_CONVERSION_SHARE`` of each frame's pixels turned to RGB, ``converted_share``).

    Whether it is depends on how costly the video is to decode, which only decoding tells: such a read starts
    on one thread, and the reader checks that on its first frames (``threads_after_measuring``)."""
    few_cores = (cpus or os.cpu_count() or 1) <= SINGLE_THREAD_DECODER_CORES
    dense = frames_per_sample < FRAMES_PER_SAMPLE_FOR_THREADS
    heavy = converted_share > LIGHT_CONVERSION_SHARE
    return few_cores and dense and heavy


def threads_after_measuring(decode_s_per_frame: float, convert_s_per_sample: float,
                            frames_per_sample: float) -> int | None:
    """The decoder threads for the rest of a read begun on one thread (``one_thread_may_pay``), from its first
    frames: ``None`` (FFmpeg's frame threads) where converting a sample costs less than ``RETHREAD_BELOW`` of
    decoding its frames on one thread (CPU time both), else 1 (one thread stays).

    One decoding thread beside the converter pays only where the converter is nearly as busy: frame threads
    then share the cores with it, and their frames wait on each other. Measured on 2 cores (docs/VIDEO.md,
    "Decoder threads, measured"), 250 samples of a 10-s 720p clip with ViT-B's 224-px crop: encoded cheaply
    (x264 ultrafast: no CABAC, no deblocking) the share measures 0.54-0.66 and one thread is ~13% faster;
    encoded as a camera would (x264 medium) it measures 0.18-0.25 and frame threads are 18-25% faster."""
    if decode_s_per_frame <= 0 or frames_per_sample <= 0:
        return 1
    share = max(0.0, convert_s_per_sample) / (decode_s_per_frame * frames_per_sample)
    return None if share < RETHREAD_BELOW else 1


def converted_in_order(items: Iterable[tuple[int, Frame, float]], convert: Callable[[Frame], Any],
                       threads: int | None = None) -> Iterator[tuple[int, Any, float]]:
    """``(k, convert(frame), time)`` for each ``(k, frame, time)`` of ``items``, in the same order.

    ``items`` is consumed in this thread (the decoder); ``convert`` runs on ``threads`` converter threads with
    at most ``FRAMES_AHEAD_PER_CONVERTER`` frames each waiting. A frame repeated back to back (a duplicated
    sample) is converted once. An exception in ``convert`` is raised here, in order; leaving early cancels
    what is queued. ``threads`` = 0 converts in this thread, one frame after the other.
    """
    threads = converter_threads() if threads is None else int(threads)
    if threads <= 0:
        last: tuple[Any, Any] | None = None
        for k, frame, time_s in items:
            if last is None or last[0] is not frame:
                last = (frame, convert(frame))
            yield k, last[1], time_s
        return
    if threads == 1:
        yield from _one_converter(items, convert)
        return
    pending: deque[tuple[int, Future, float]] = deque()
    limit = threads * FRAMES_AHEAD_PER_CONVERTER
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="vtn-convert")
    try:
        previous: tuple[Any, Future] | None = None
        for k, frame, time_s in items:
            if previous is None or previous[0] is not frame:
                previous = (frame, pool.submit(convert, frame))
            pending.append((k, previous[1], time_s))
            while len(pending) > limit or (pending and pending[0][1].done()):
                done_k, future, done_time = pending.popleft()
                yield done_k, future.result(), done_time
        previous = None
        while pending:
            done_k, future, done_time = pending.popleft()
            yield done_k, future.result(), done_time
    finally:
        for _, future, _ in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


_STOP = object()


def _one_converter(items: Iterable[tuple[int, Frame, float]],
                   convert: Callable[[Frame], Any]) -> Iterator[tuple[int, Any, float]]:
    """``converted_in_order`` with one converter thread fed through a queue and answering through another, in
    order: no future, lock or pool per frame. On 2 cores (one converter) the decoding thread's hand-offs were 3-5%
    of a dense read (docs/VIDEO.md, "Converting beside the decoder")."""
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    outbox: queue.SimpleQueue = queue.SimpleQueue()
    stopping = threading.Event()

    def work() -> None:
        while True:
            frame = inbox.get()
            if frame is _STOP or stopping.is_set():
                return
            try:
                outbox.put((True, convert(frame)))
            except BaseException as exc:  # raised in order, by the reader of its result
                outbox.put((False, exc))

    worker = threading.Thread(target=work, name="vtn-convert-0", daemon=True)
    worker.start()
    pending: deque[tuple[int, int, float]] = deque()  # (k, how many frames converted up to its own, time)
    submitted = received = 0
    latest: Any = None

    def result_of(needed: int) -> Any:
        """The result of the ``needed``-th frame handed over (results come back in the order given)."""
        nonlocal latest, received
        while received < needed:
            done, value = outbox.get()
            if not done:
                raise value
            latest, received = value, received + 1
        return latest

    try:
        previous = None
        for k, frame, time_s in items:
            if submitted == 0 or previous is not frame:
                inbox.put(frame)
                submitted, previous = submitted + 1, frame
            pending.append((k, submitted, time_s))
            while pending and (submitted - received > FRAMES_AHEAD_PER_CONVERTER or not outbox.empty()
                               or pending[0][1] <= received):
                done_k, needed, done_time = pending.popleft()
                yield done_k, result_of(needed), done_time
        while pending:
            done_k, needed, done_time = pending.popleft()
            yield done_k, result_of(needed), done_time
    finally:
        stopping.set()
        inbox.put(_STOP)
        worker.join()
