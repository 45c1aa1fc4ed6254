"""Decoding at the machine's limit: conversion overhead over bare decoding, and scaling with decode workers.

``decode_overhead``: decoding + our pre-processing (model input and thumbnails, ``iter_chunks``) ÷ bare
decoding of the same frames with the same reader and no conversion at all (the faster of FFmpeg-threaded
and single-threaded decoding); the pre-issue-15 path
(whole-frame RGB per frame, ``conversion="legacy"``) is measured beside it. ``decode_scaling``: frames per
second of a pool of 2 decode processes ÷ a pool of 1, on the same segments of a long 720p video.
``nonref``: bare decoding of samples spread over a clip with every frame decoded ÷ with the frames no sample
asks for and no frame refers to passed over (``FrameReader(skip_nonref=...)``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from vtn_core.bench.common import median, timed, wall_and_cpu
from vtn_core.config import Preprocessing
from vtn_core.video import FrameReader, iter_chunks, probe_video, sample_indices
from vtn_core.video.overlap import converter_threads
from vtn_core.video.segments import crop_for, decode_segment, make_pool, split_segments, warm_pool


def _bare(video: Path, indices: np.ndarray, info, threads: int | None = None, skip_nonref: bool = True) -> int:
    """Decode the samples with the pipeline's reader, converting nothing (``threads``: None = FFmpeg's frame
    and slice threads, 1 = one thread); the frames decoded."""
    reader = FrameReader(video, indices, info, convert=lambda frame: None, threads=threads, skip_nonref=skip_nonref)
    sum(1 for _ in reader)
    return reader.decoded


def _prepared(video: Path, indices: np.ndarray, info, prep: Preprocessing, conversion: str,
              decoders: list[tuple[int | None, dict | None]] | None = None) -> int:
    """Decode + model input + thumbnails, in this process as ``iter_chunks`` does it (converter threads beside
    the decoder; no prefetch thread, no worker processes), on the CPU like the bare decoding it is compared with
    (GPU decoding has its own row). ``decoders``: where (decoder threads at the end, what was measured to choose
    them) is appended."""
    chunks = iter_chunks(video, indices, prep, 32, info=info, prefetch=0, workers=1, conversion=conversion,
                         decode_device="cpu")
    count = sum(chunk.pixels.shape[0] for chunk in chunks)
    if decoders is not None:
        decoders.append((chunks.reader.threads, chunks.decoder_measured))
    return count


def decoders_used(decoders: list[tuple[int | None, dict | None]]) -> str:
    """Which decoder threads the reads of one row ended on and, where they measured before choosing, the
    medians of what they measured."""
    single = sum(1 for threads, _ in decoders if threads == 1)
    text = (f"one thread in {single} of {len(decoders)} reads" if single else
            f"FFmpeg's frame threads in all {len(decoders)} reads")
    measured = [m for _, m in decoders if m]
    if measured:
        remembered = sum(1 for m in measured if m.get("remembered"))
        text += (f"; measured decoding {median([m['decode_ms_per_frame'] for m in measured]):.2f} ms/frame on one "
                 f"thread, converting {median([m['convert_ms_per_sample'] for m in measured]):.2f} ms/sample")
        text += f" ({remembered} of {len(measured)} reads remembered the file's measurement)" if remembered else ""
    return text


def bench_decode_overhead(video: Path, num_frames: int, preps: dict[str, Preprocessing],
                          repeats: int, encoding: str = "") -> dict[str, Any]:
    """Per model input size: (decode + pre-processing) ÷ bare decoding, paired in alternation; median.

    Bare decoding is the faster of FFmpeg's threaded decoder and a single-threaded one in the same repeat,
    so the ratio is taken against the decoder at its best on this machine, not against a handicapped one."""
    info = probe_video(video)
    indices = sample_indices(info, num_frames=num_frames).indices
    _bare(video, indices[:4], info)  # warm-up: codec and library initialisation
    for prep in preps.values():  # warm-up: compiled kernels loaded, converter threads started once
        _prepared(video, indices[:4], info, prep, "auto")
    rows = {}
    for label, prep in preps.items():
        threaded_s, single_s, ours_s, legacy_s, decoders = [], [], [], [], []
        threaded_cpu, ours_cpu = [], []
        for _ in range(repeats):
            wall, cpu = wall_and_cpu(lambda: _bare(video, indices, info))
            threaded_s.append(wall)
            threaded_cpu.append(cpu)
            single_s.append(timed(lambda: _bare(video, indices, info, threads=1))[1])
            wall, cpu = wall_and_cpu(lambda: _prepared(video, indices, info, prep, "auto", decoders))
            ours_s.append(wall)
            ours_cpu.append(cpu)
            legacy_s.append(timed(lambda: _prepared(video, indices, info, prep, "legacy"))[1])
        bare_s = [min(a, b) for a, b in zip(threaded_s, single_s)]
        ratios = [o / b for o, b in zip(ours_s, bare_s)]
        before = [old / b for old, b in zip(legacy_s, bare_s)]
        rows[label] = {"input_px": prep.crop_size, "frames": int(len(indices)), "repeats": repeats,
                       "bare_s": median(bare_s), "bare_threaded_s": median(threaded_s),
                       "bare_single_thread_s": median(single_s), "ours_s": median(ours_s),
                       "legacy_s": median(legacy_s),
                       "decode_overhead": median(ratios), "decode_overhead_ratios": ratios,
                       "decode_overhead_legacy": median(before),
                       "ms_per_frame_bare": 1000 * median(bare_s) / len(indices),
                       "ms_per_frame_conversion": 1000 * (median(ours_s) - median(bare_s)) / len(indices),
                       "converter_threads": converter_threads(),
                       "decoder": decoders_used(decoders),
                       # cores kept busy (CPU ÷ wall): where ours keeps them all busy, only less CPU helps
                       "cores_busy_bare_threaded": median([c / w for c, w in zip(threaded_cpu, threaded_s)]),
                       "cores_busy_ours": median([c / w for c, w in zip(ours_cpu, ours_s)]),
                       # ours' CPU time spread over every core, ÷ bare decoding: the ratio no scheduling beats
                       "decode_overhead_cpu_floor": median([max(o / (os.cpu_count() or 1), b) / b
                                                            for o, b in zip(ours_cpu, bare_s)])}
    return {"video": {"path": str(video), "frames": info.num_frames, "size": f"{info.width}x{info.height}",
                      "encoding": encoding}, **rows}


def bench_nonref(video: Path, num_frames: int, repeats: int, encoding: str = "") -> dict[str, Any]:
    """``num_frames`` samples spread over ``video``: bare decoding (the reader's own threads) with every frame
    decoded ÷ with the frames no sample asks for and no other frame refers to passed over, alternated; median."""
    info = probe_video(video)
    indices = sample_indices(info, num_frames=num_frames).indices
    _bare(video, indices[:4], info)  # warm-up
    every_s, passing_s, decoded = [], [], {}
    for _ in range(repeats):
        for skip, times in ((False, every_s), (True, passing_s)):
            decoded[skip], seconds = timed(lambda: _bare(video, indices, info, skip_nonref=skip))
            times.append(seconds)
    ratios = [e / p for e, p in zip(every_s, passing_s)]
    return {"video": {"path": str(video), "frames": info.num_frames, "size": f"{info.width}x{info.height}",
                      "encoding": encoding}, "samples": int(len(indices)), "repeats": repeats,
            "decoded_every": decoded[False], "decoded_passing_over": decoded[True],
            "every_frame_s": median(every_s), "passing_over_s": median(passing_s),
            "nonref_speedup": median(ratios), "nonref_speedup_ratios": ratios}


def _pool_read(pool, workers: int, video: Path, info, indices: np.ndarray, prep: Preprocessing) -> int:
    """All segments of the samples through ``pool``, at most two per worker in flight, taken in order."""
    segments = split_segments(info, indices, workers)
    known = crop_for(info, prep)
    pending, returned, following = [], 0, 0
    while following < len(segments) or pending:
        while following < len(segments) and len(pending) < 2 * workers:
            pending.append(pool.submit(decode_segment, str(video), segments[following], info, prep, 96, "auto",
                                       1, "cpu", known))
            following += 1
        returned += len(pending.pop(0).result().gathered)
    return returned


def bench_decode_scaling(video: Path, fps: float, prep: Preprocessing, repeats: int) -> dict[str, Any]:
    """Throughput of 2 decode processes ÷ 1 (same segments' code, single-threaded decoders), in alternation;
    also 2 processes ÷ the in-process reader with FFmpeg's own frame threads (the one-worker default)."""
    info = probe_video(video)
    indices = sample_indices(info, fps=fps).indices
    pools = {n: make_pool(n) for n in (1, 2)}
    try:
        for n, pool in pools.items():
            warm_pool(n, pool)
        one_s, two_s, inproc_s = [], [], []
        for _ in range(repeats):
            one_s.append(timed(lambda: _pool_read(pools[1], 1, video, info, indices, prep))[1])
            two_s.append(timed(lambda: _pool_read(pools[2], 2, video, info, indices, prep))[1])
            inproc_s.append(timed(lambda: _prepared(video, indices, info, prep, "auto"))[1])
    finally:
        for pool in pools.values():
            pool.shutdown(wait=True, cancel_futures=True)
    ratios = [one / two for one, two in zip(one_s, two_s)]
    return {"video": {"path": str(video), "frames": info.num_frames, "seconds": info.duration_s,
                      "size": f"{info.width}x{info.height}", "keyframe_interval": info.keyframe_interval},
            "samples": int(len(indices)), "repeats": repeats, "cores": os.cpu_count(),
            "one_worker_s": median(one_s), "two_workers_s": median(two_s), "in_process_s": median(inproc_s),
            "decode_scaling": median(ratios), "decode_scaling_ratios": ratios,
            "two_workers_vs_in_process": median([i / t for i, t in zip(inproc_s, two_s)]),
            "frames_per_s_one": info.num_frames / median(one_s), "frames_per_s_two": info.num_frames / median(two_s),
            "load_avg_1m": round(os.getloadavg()[0], 2)}
