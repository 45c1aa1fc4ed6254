"""Batch on Ray: videos/s over short synthetic videos with 1 and 2 local workers (their ratio), and Ray's
per-video overhead against calling ``run_video`` in a loop (one thread, as one actor runs)."""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

VIDEOS, QUICK_VIDEOS = 24, 8
FRAMES = 16


def bench_batch(checkpoint: Path, video_dir: Path, quick: bool = False) -> dict[str, Any]:
    """Generate the videos (kept under ``video_dir``), time the loop, then ``run_batch`` with 1 and 2 workers."""
    from vtn_core.batch import EngineOptions, run_batch
    from vtn_core.batch.inputs import discover
    from vtn_core.checkpoint import load_checkpoint
    from vtn_core.inference import run_video
    from vtn_core.synthetic import generate_dataset

    count = QUICK_VIDEOS if quick else VIDEOS
    data = Path(video_dir) / f"batch_{count}"
    if not (data / "labels.csv").is_file():
        generate_dataset(data, count, seed=424, frames=64, size=64, workers=1)
    model = load_checkpoint(checkpoint, device="cpu")
    items = discover(data, model.class_names).items
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_video(model, items[0].path, num_frames=FRAMES, cache=False, prefetch=0)  # warm-up
        started = time.perf_counter()
        for item in items:
            run_video(model, item.path, num_frames=FRAMES, cache=False, prefetch=0, thumb_height=8)
        loop_s = time.perf_counter() - started
    finally:
        torch.set_num_threads(threads)
    document: dict[str, Any] = {"videos": count, "frames": FRAMES, "loop_s": loop_s,
                                "loop_videos_per_s": count / loop_s}
    scratch = Path(tempfile.mkdtemp(prefix="vtn-bench-batch-"))
    try:
        for workers in (1, 2):
            summary = run_batch(checkpoint, data, scratch / f"w{workers}", num_frames=FRAMES,
                                options=EngineOptions(workers=workers), show_progress=False)
            timings = summary["timings"]
            document[f"workers_{workers}"] = {
                "wall_s": timings["wall_s"], "engine_startup_s": timings["engine_startup_s"],
                "videos_s": timings["videos_s"], "videos_per_s": timings["videos_per_s"],
                "failed": summary["counts"]["failed"]}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    one, two = document["workers_1"], document["workers_2"]
    document["speedup_2_vs_1"] = two["videos_per_s"] / one["videos_per_s"]
    document["ray_overhead_per_video_s"] = (one["videos_s"] - loop_s) / count
    return document
