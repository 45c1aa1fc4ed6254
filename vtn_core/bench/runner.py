"""Run every benchmark in one process, side by side, and collect one JSON document."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from vtn_core.bench.common import BenchOptions, bundled_model, describe, generated_video, machine_info, vit_b_model
from vtn_core.bench.testsrc import ENCODINGS

BENCHMARKS = ("decoding", "resize", "overhead", "decode", "multiview", "long_video", "temporal_scaling", "cache", "gpu",
              "demo_first", "batch")


@dataclass(frozen=True)
class Sizes:
    """How big each benchmark is (full run or ``--quick``)."""

    clip_s: int
    clip_fps: int
    frames_bundled: int
    frames_vit: int
    chunk_vit: int
    repeats_bundled: int
    repeats_vit: int  # overhead's ViT-B pipeline/backbone pairs (quick: short, so a median of several)
    repeats_multiview: int
    decode_s: int
    decode_samples: int
    vit_views: tuple[int, int]  # (temporal clips, spatial crops) timed for the ViT-B multi-view
    bundled_views: tuple[int, int]  # the same for the bundled model
    long_minutes: tuple[float, ...]
    scaling_tokens: tuple[int, ...]
    scaling_repeats: int
    decoding_repeats: int
    scaling_video_s: int  # the long 720p video of decode_scaling
    scaling_video_gop: int
    scaling_fps: float  # samples per second of it
    sparse_video_s: int  # decode_overhead's second video: its samples spread over a longer 720p video


FULL = Sizes(clip_s=10, clip_fps=30, frames_bundled=250, frames_vit=250, chunk_vit=32, repeats_bundled=7, repeats_vit=1,
             repeats_multiview=2, decode_s=600, decode_samples=250, vit_views=(1, 3), bundled_views=(10, 3),
             long_minutes=(10, 60),
             scaling_tokens=(250, 1000, 4000, 16000), scaling_repeats=2, decoding_repeats=5, scaling_video_s=300,
             scaling_video_gop=250, scaling_fps=1.0, sparse_video_s=60)
QUICK = Sizes(clip_s=4, clip_fps=30, frames_bundled=64, frames_vit=8, chunk_vit=4, repeats_bundled=5, repeats_vit=3,
              repeats_multiview=1, decode_s=20, decode_samples=40, vit_views=(1, 1), bundled_views=(3, 3),
              long_minutes=(0.25, 0.5),
              scaling_tokens=(250, 500), scaling_repeats=1, decoding_repeats=5, scaling_video_s=60,
              scaling_video_gop=50, scaling_fps=5.0, sparse_video_s=20)
CHUNK = 32
SINGLE_PASS_FRAMES = 250
DEMO_FIRST_FRAMES = 250  # the app's default sample count on its default long demo clip


def run_all(options: BenchOptions) -> dict[str, Any]:
    """Every selected benchmark; the document also records the machine, the sizes and each part's run time."""
    sizes = QUICK if options.quick else FULL
    selected = [name for name in BENCHMARKS if not options.only or name in options.only]
    say = options.progress
    started = time.perf_counter()
    document: dict[str, Any] = {"quick": options.quick, "machine": machine_info(), "sizes": sizes.__dict__,
                                "elapsed_s": {}}
    bundled, source = bundled_model(options.checkpoint)
    vit = vit_b_model() if {"overhead", "multiview"} & set(selected) else None
    document["models"] = {"bundled": {"source": source, **describe(bundled)},
                          "vit_b": {"source": "VTNConfig() defaults, random weights", **describe(vit)} if vit else None}
    clip, made = generated_video(options.video_dir, sizes.clip_s, fps=sizes.clip_fps)
    document["videos"] = {"clip": {"path": str(clip), "seconds": sizes.clip_s, "fps": sizes.clip_fps,
                                   "size": "1280x720", "encoding": ENCODINGS["cheap"].label, "generate_s": made}}
    camera = None
    if {"decoding", "overhead"} & set(selected):  # the same clip as a camera would encode it: costlier to decode
        camera, made = generated_video(options.video_dir, sizes.clip_s, fps=sizes.clip_fps, encoding="camera")
        document["videos"]["camera_clip"] = {"path": str(camera), "seconds": sizes.clip_s, "fps": sizes.clip_fps,
                                             "size": "1280x720", "encoding": ENCODINGS["camera"].label,
                                             "generate_s": made}
    steps: dict[str, Callable[[], dict[str, Any]]] = {
        "decoding": lambda: _decoding(options, bundled, clip, camera, sizes),
        "resize": lambda: _resize(bundled, clip, sizes),
        "overhead": lambda: _overhead(bundled, vit, clip, camera, sizes),
        "decode": lambda: _decode(options, sizes),
        "multiview": lambda: _multiview(bundled, vit, clip, sizes, document.get("overhead")),
        "long_video": lambda: _long(options, sizes),
        "temporal_scaling": lambda: _scaling(sizes),
        "cache": lambda: _cache(bundled, clip, sizes),
        "gpu": lambda: _gpu(options, bundled, clip, sizes),
        "demo_first": lambda: _demo_first(options, sizes),
        "batch": lambda: _batch(options),
    }
    for name in selected:
        say(f"{name} ...")
        begun = time.perf_counter()
        document[name] = steps[name]()
        document["elapsed_s"][name] = time.perf_counter() - begun
    document["elapsed_s"]["total"] = time.perf_counter() - started
    document["machine"]["load_avg_1m_at_end"] = machine_info()["load_avg_1m"]
    return document


def _decoding(options: BenchOptions, bundled, clip, camera, sizes: Sizes) -> dict[str, Any]:
    from vtn_core.bench.decoding import bench_decode_overhead, bench_decode_scaling, bench_nonref
    from vtn_core.config import VTNConfig

    preps = {"bundled": bundled.config.preprocessing, "vit_b": VTNConfig().preprocessing}
    cheap = ENCODINGS["cheap"].label
    overhead = bench_decode_overhead(clip, sizes.frames_bundled, preps, sizes.decoding_repeats, cheap)
    # the same samples of the clip encoded as a camera would: the same conversion beside 3-4x the decoding
    overhead_camera = bench_decode_overhead(camera, sizes.frames_bundled, preps, sizes.decoding_repeats,
                                            ENCODINGS["camera"].label)
    # the product's case: one pass of samples spread over a longer video (each sample decodes several frames)
    longer, _ = generated_video(options.video_dir, sizes.sparse_video_s)
    spread = bench_decode_overhead(longer, sizes.frames_bundled, preps, sizes.decoding_repeats, cheap)
    long_video, made = generated_video(options.video_dir, sizes.scaling_video_s, gop=sizes.scaling_video_gop)
    scaling = bench_decode_scaling(long_video, sizes.scaling_fps, bundled.config.preprocessing,
                                   sizes.decoding_repeats)
    scaling["video"]["generate_s"] = made
    # samples 1 in 7 frames apart (250 over a minute at 30 fps, the app's default): B-frames left undecoded
    sparse = max(4, sizes.clip_s * sizes.clip_fps // 7)
    nonref = {"camera": bench_nonref(camera, sparse, sizes.decoding_repeats, ENCODINGS["camera"].label),
              "cheap": bench_nonref(clip, sparse, sizes.decoding_repeats, cheap)}
    return {"overhead": overhead, "overhead_camera": overhead_camera, "overhead_spread": spread, "scaling": scaling,
            "nonref": nonref}


def _resize(bundled, clip, sizes: Sizes) -> dict[str, Any]:
    from vtn_core.bench.resize import bench_resize

    return bench_resize(bundled, clip, sizes.frames_bundled, min(sizes.frames_bundled, 64))


def _overhead(bundled, vit, clip, camera, sizes: Sizes) -> dict[str, Any]:
    from vtn_core.bench.overhead import bench_overhead

    return {"bundled": bench_overhead(bundled, clip, sizes.frames_bundled, CHUNK, sizes.repeats_bundled),
            "vit_b": bench_overhead(vit, clip, sizes.frames_vit, sizes.chunk_vit, sizes.repeats_vit),
            "bundled_camera": bench_overhead(bundled, camera, sizes.frames_bundled, CHUNK, sizes.repeats_bundled)}


def _decode(options: BenchOptions, sizes: Sizes) -> dict[str, Any]:
    from vtn_core.bench.decode import bench_decode

    rows = {}
    for label, gop in (("gop250", 250), ("gop25", 25)):
        video, made = generated_video(options.video_dir, sizes.decode_s, gop=gop)
        rows[label] = {**bench_decode(video, sizes.decode_samples), "generate_s": made}
    return rows


def _multiview(bundled, vit, clip, sizes: Sizes, overhead: dict[str, Any] | None) -> dict[str, Any]:
    from vtn_core.bench.multiview import bench_multiview

    clips, crops = sizes.bundled_views
    rows = {"bundled": bench_multiview(bundled, clip, SINGLE_PASS_FRAMES, repeats=sizes.repeats_multiview,
                                       subset_clips=clips, subset_crops=crops)}
    reuse = (overhead or {}).get("vit_b")
    clips, crops = sizes.vit_views
    rows["vit_b"] = bench_multiview(vit, clip, SINGLE_PASS_FRAMES, repeats=1, subset_clips=clips, subset_crops=crops,
                                    single_pass_s=reuse["pipeline_s"] if reuse else None,
                                    single_pass_frames=reuse["frames"] if reuse else None)
    return rows


def _long(options: BenchOptions, sizes: Sizes) -> dict[str, Any]:
    from vtn_core.bench.longvideo import bench_long

    return bench_long(options.video_dir, sizes.long_minutes, options.checkpoint, before_after=True)


def _scaling(sizes: Sizes) -> dict[str, Any]:
    from vtn_core.bench.scaling import bench_scaling

    return bench_scaling(sizes.scaling_tokens, sizes.scaling_repeats)


def _cache(bundled, clip, sizes: Sizes) -> dict[str, Any]:
    from vtn_core.bench.cachebench import bench_cache

    return bench_cache(bundled, clip, sizes.frames_bundled)


def _demo_first(options: BenchOptions, sizes: Sizes) -> dict[str, Any]:
    from vtn_core.bench.demofirst import bench_demo_first

    return bench_demo_first(options.checkpoint, DEMO_FIRST_FRAMES if not options.quick else 16)


def _gpu(options: BenchOptions, bundled, clip, sizes: Sizes) -> dict[str, Any]:
    import torch

    from vtn_core.bench.gpu import bench_gpu

    spread = generated_video(options.video_dir, sizes.sparse_video_s)[0] if torch.cuda.is_available() else None
    return bench_gpu(bundled, clip, sizes.frames_bundled, CHUNK, 1 if options.quick else 5, options.quick, spread)


def _batch(options: BenchOptions) -> dict[str, Any]:
    from vtn_core.bench.batchbench import bench_batch
    from vtn_core.bench.common import BUNDLED_CHECKPOINT

    return bench_batch(Path(options.checkpoint or BUNDLED_CHECKPOINT), options.video_dir, options.quick)
