"""Benchmark runs that need a fresh process so that peak resident memory is theirs alone.

``python -m vtn_core.bench.worker long --video V [--checkpoint C] --fps 1``: run_video, peak RSS.
``python -m vtn_core.bench.worker temporal --sizes 250,1000``: the temporal encoder alone, sizes ascending.
``python -m vtn_core.bench.worker first --video V [--checkpoint C] --frames 250``: a cold first result.
Each prints one JSON line on stdout.
"""
from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import torch


def peak_rss_mb() -> float:
    """This process's peak resident memory since the last ``reset_peak_rss`` (VmHWM; else ru_maxrss, in KiB).

    ru_maxrss alone would not do: a child forked from a big parent inherits the parent's resident size as its
    high-water mark, so a fresh process resets the mark first."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Reset the peak-RSS mark to the current RSS (Linux ``/proc/self/clear_refs`` 5); False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def current_rss_mb() -> float:
    """This process's resident memory now."""
    import psutil

    return psutil.Process().memory_info().rss / 1024**2


def result_mb(result) -> float:
    """Bytes held by a Result's arrays."""
    return sum(value.nbytes for value in result.to_arrays().values() if hasattr(value, "nbytes")) / 1024**2


def long_video(args: argparse.Namespace) -> dict[str, Any]:
    """One video at ``args.fps`` samples per second through the bundled model; wall time and memory."""
    from vtn_core.bench.common import bundled_model
    from vtn_core.inference import run_video

    model, source = bundled_model(Path(args.checkpoint) if args.checkpoint else None)
    if args.legacy:  # the pipeline before issue 15: whole-frame RGB per frame, one in-process reader
        import vtn_core.video.stream as stream

        original = stream.ChunkStream.__init__

        def legacy_init(self, *a, **kw):
            original(self, *a, **{**kw, "workers": 1, "conversion": "legacy"})
        stream.ChunkStream.__init__ = legacy_init
    gc.collect()
    before_rss, before_peak = current_rss_mb(), peak_rss_mb()  # the peak so far: imports and model loading
    started = time.perf_counter()
    result = run_video(model, args.video, fps=args.fps, cache=False, chunk_size=args.chunk_size)
    wall = time.perf_counter() - started
    workers = children_peak_rss_mb()
    return {"model": source, "samples": int(result.num_frames), "wall_s": wall, "legacy": bool(args.legacy),
            "timings_s": {k: round(v, 3) for k, v in result.timings_s.items()},
            "rss_before_run_mb": before_rss, "peak_rss_before_run_mb": before_peak, "peak_rss_mb": peak_rss_mb(),
            "rss_growth_mb": peak_rss_mb() - before_rss, "result_mb": result_mb(result),
            "decode_workers_peak_rss_mb": workers, "peak_rss_total_mb": peak_rss_mb() + sum(workers)}


def children_peak_rss_mb() -> list[float]:
    """Peak resident memory of each live child process (the decode workers), from their VmHWM."""
    import psutil

    peaks = []
    for child in psutil.Process().children(recursive=True):
        try:
            for line in Path(f"/proc/{child.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        except OSError:
            continue
    return peaks


def temporal(args: argparse.Namespace) -> dict[str, Any]:
    """forward_features of a ViT-B VTN on random features of each size (ascending); time and memory growth."""
    from vtn_core.bench.common import vit_b_model

    model = vit_b_model()
    model.backbone = torch.nn.Identity()  # only the temporal encoder and head run here
    device = torch.device(args.device)
    model.to(device)
    gc.collect()
    baseline = current_rss_mb()
    rows = []
    for size in sorted(int(s) for s in args.sizes.split(",")):
        rows.append(_temporal_size(model, size, args.repeats, baseline, device))
    return {"baseline_rss_mb": baseline, "sizes": rows}


def _temporal_size(model, size: int, repeats: int, baseline: float, device: torch.device) -> dict[str, Any]:
    gc.collect()
    reset_peak_rss()
    features = torch.randn(1, size, model.config.hidden_dim, device=device)
    positions = torch.arange(size, device=device)[None]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    with torch.inference_mode():
        for _ in range(repeats):
            _sync(device)
            started = time.perf_counter()
            model.forward_features(features, positions, output_attentions=True)
            _sync(device)
            times.append(time.perf_counter() - started)
    row = {"tokens": size, "seconds": min(times), "ms_per_token": 1000 * min(times) / size,
           "peak_rss_growth_mb": peak_rss_mb() - baseline}
    if device.type == "cuda":
        row["cuda_max_allocated_mb"] = torch.cuda.max_memory_allocated() / 1024**2
    return row


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def first_result(args: argparse.Namespace) -> dict[str, Any]:
    """What a user waits for on the app's default clip in a fresh process: loading the model, then probe →
    Result with no cache (decode, pre-process, backbone, temporal encoder)."""
    from vtn_core.checkpoint import load_checkpoint
    from vtn_core.inference import run_video

    started = time.perf_counter()
    model = load_checkpoint(args.checkpoint, device="cpu")
    loaded = time.perf_counter()
    result = run_video(model, args.video, num_frames=args.frames, cache=False)
    done = time.perf_counter()
    return {"video": str(args.video), "checkpoint": str(args.checkpoint), "samples": int(result.num_frames),
            "video_frames": int(result.video.get("num_frames") or 0),
            "video_s": float(result.video.get("duration_s") or 0.0), "load_model_s": loaded - started,
            "first_result_s": done - loaded, "timings_s": {k: round(v, 3) for k, v in result.timings_s.items()}}


def main(argv: list[str] | None = None) -> int:
    """Parse, run one job, print its JSON line."""
    parser = argparse.ArgumentParser(prog="vtn_core.bench.worker")
    sub = parser.add_subparsers(dest="job", required=True)
    long = sub.add_parser("long")
    long.add_argument("--video", type=Path, required=True)
    long.add_argument("--checkpoint")
    long.add_argument("--fps", type=float, default=1.0)
    long.add_argument("--chunk-size", type=int, default=32)
    long.add_argument("--legacy", action="store_true", help="decode as before issue 15 (for before/after)")
    temp = sub.add_parser("temporal")
    temp.add_argument("--sizes", required=True)
    temp.add_argument("--repeats", type=int, default=2)
    temp.add_argument("--device", default="cpu")
    first = sub.add_parser("first")
    first.add_argument("--video", type=Path, required=True)
    first.add_argument("--checkpoint", type=Path, required=True)
    first.add_argument("--frames", type=int, default=250)
    args = parser.parse_args(argv)
    reset_peak_rss()  # forget the parent's resident size inherited at fork
    torch.set_grad_enabled(False)
    jobs = {"long": long_video, "temporal": temporal, "first": first_result}
    document = jobs[args.job](args)
    sys.stdout.write(json.dumps(document) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
