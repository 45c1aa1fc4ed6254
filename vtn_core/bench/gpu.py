"""GPU rows: ViT-B frames per second with bf16 autocast and the overhead ratio on CUDA (CPU-only: "no GPU")."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from vtn_core.bench.common import median, timed, vit_b_model
from vtn_core.bench.overhead import bench_overhead


def vit_b_fps(model, batch: int, iterations: int) -> dict[str, Any]:
    """Backbone frames per second on CUDA in bf16 autocast, and the peak memory it allocated."""
    pixels = torch.randn(batch, 3, 224, 224, device="cuda")

    def run() -> None:
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
            for _ in range(iterations):
                model.encode_frames(pixels)

    run()  # warm-up (cuDNN/cuBLAS choices, allocator)
    torch.cuda.reset_peak_memory_stats()
    _, seconds = timed(run)
    return {"batch": batch, "frames_per_s": batch * iterations / seconds,
            "max_allocated_mb": torch.cuda.max_memory_allocated() / 1024**2}


def gpu_decoding(video: Path, num_frames: int, prep, repeats: int = 3) -> dict[str, Any]:
    """NVDEC (``decode_device="cuda"``) vs the CPU reader on the same samples, decoded and prepared (model input
    and thumbnails), in alternation; medians, and whether it fell back."""
    from vtn_core.video import iter_chunks, probe_video, sample_indices

    info = probe_video(video)
    indices = sample_indices(info, num_frames=num_frames).indices

    def read(device: str):
        stream = iter_chunks(video, indices, prep, 32, info=info, prefetch=0, workers=1, decode_device=device)
        return sum(c.pixels.shape[0] for c in stream), stream

    read("cuda"), read("cpu")  # warm-up: device context, compiled kernels, the conversion's proof
    gpu_s, cpu_s = [], []
    for _ in range(repeats):
        (_, gpu_stream), seconds = timed(lambda: read("cuda"))
        gpu_s.append(seconds)
        cpu_s.append(timed(lambda: read("cpu"))[1])
    return {"frames": int(len(indices)), "gpu_s": median(gpu_s), "cpu_s": median(cpu_s),
            "speedup": median(cpu_s) / median(gpu_s), "device_used": gpu_stream.reader.device,
            "notices": gpu_stream.notices}


def bench_gpu(bundled, video: Path, num_frames: int, chunk_size: int, repeats: int, quick: bool,
              spread_video: Path | None = None) -> dict[str, Any]:
    """The GPU table, or ``{"available": False}`` on a machine without CUDA. ``spread_video``: a longer video,
    for the overhead rows of samples spread over it (the product's one pass over a minute) beside the dense."""
    if not torch.cuda.is_available():
        return {"available": False, "note": "no GPU"}
    vit = vit_b_model().to("cuda")
    bundled_cuda = bundled.to("cuda")
    try:
        rows = {"available": True, "device": torch.cuda.get_device_name(0),
                "vit_b_bf16": vit_b_fps(vit, 32 if quick else 64, 3 if quick else 10)}
        rows["decoding"] = gpu_decoding(video, num_frames, bundled.config.preprocessing, repeats)
        torch.cuda.reset_peak_memory_stats()
        rows["overhead_vit_b"] = bench_overhead(vit, video, num_frames, chunk_size, repeats)
        rows["overhead_bundled"] = bench_overhead(bundled_cuda, video, num_frames, chunk_size, repeats)
        if spread_video is not None:
            rows["overhead_vit_b_spread"] = bench_overhead(vit, spread_video, num_frames, chunk_size, repeats)
            rows["overhead_bundled_spread"] = bench_overhead(bundled_cuda, spread_video, num_frames, chunk_size,
                                                             repeats)
        rows["max_allocated_mb"] = torch.cuda.max_memory_allocated() / 1024**2
        return rows
    finally:
        bundled.to("cpu")
        del vit
        torch.cuda.empty_cache()
