"""GPU rows: ViT-B frames per second with bf16 autocast and the overhead ratio on CUDA (CPU-only: "no GPU")."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from vtn_core.bench.common import timed, vit_b_model
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


def gpu_decoding(video: Path, num_frames: int, prep) -> dict[str, Any]:
    """NVDEC (``decode_device="cuda"``) vs the CPU reader on the same samples, and whether it fell back."""
    from vtn_core.video import iter_chunks, probe_video, sample_indices

    info = probe_video(video)
    indices = sample_indices(info, num_frames=num_frames).indices

    def read(device: str):
        stream = iter_chunks(video, indices, prep, 32, info=info, prefetch=0, workers=1, decode_device=device)
        return sum(c.pixels.shape[0] for c in stream), stream

    read("cuda")  # warm-up: device context
    (_, gpu_stream), gpu_s = timed(lambda: read("cuda"))
    _, cpu_s = timed(lambda: read("cpu"))
    return {"gpu_s": gpu_s, "cpu_s": cpu_s, "speedup": cpu_s / gpu_s, "device_used": gpu_stream.reader.device,
            "notices": gpu_stream.notices}


def bench_gpu(bundled, video: Path, num_frames: int, chunk_size: int, repeats: int, quick: bool) -> dict[str, Any]:
    """The GPU table, or ``{"available": False}`` on a machine without CUDA."""
    if not torch.cuda.is_available():
        return {"available": False, "note": "no GPU"}
    vit = vit_b_model().to("cuda")
    bundled_cuda = bundled.to("cuda")
    try:
        rows = {"available": True, "device": torch.cuda.get_device_name(0),
                "vit_b_bf16": vit_b_fps(vit, 32 if quick else 64, 3 if quick else 10)}
        rows["decoding"] = gpu_decoding(video, num_frames, bundled.config.preprocessing)
        torch.cuda.reset_peak_memory_stats()
        rows["overhead_vit_b"] = bench_overhead(vit, video, num_frames, chunk_size, repeats)
        rows["overhead_bundled"] = bench_overhead(bundled_cuda, video, num_frames, chunk_size, repeats)
        rows["max_allocated_mb"] = torch.cuda.max_memory_allocated() / 1024**2
        return rows
    finally:
        bundled.to("cpu")
        del vit
        torch.cuda.empty_cache()
