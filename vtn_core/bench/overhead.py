"""Overhead: the whole pipeline (run_video, no cache) ÷ the backbone alone on the same frames already in memory."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import torch

from vtn_core.bench.common import median, synchronize, wall_and_cpu
from vtn_core.inference import run_video
from vtn_core.video import iter_chunks, probe_video, sample_indices


def in_memory_pixels(model, video: Path, num_frames: int, chunk_size: int) -> torch.Tensor:
    """The pre-processed model input of ``num_frames`` uniform samples, all in memory [N, 3, crop, crop]."""
    info = probe_video(video)
    sample = sample_indices(info, num_frames=num_frames)
    chunks = iter_chunks(video, sample.indices, model.config.preprocessing, chunk_size, info=info, prefetch=0)
    return torch.cat([chunk.pixels for chunk in chunks])


def decode_only_seconds(model, video: Path, num_frames: int, chunk_size: int) -> tuple[float, float]:
    """(wall, CPU) seconds to probe, decode, pre-process and thumbnail the samples with no model at all."""
    def drain() -> int:
        info = probe_video(video)
        sample = sample_indices(info, num_frames=num_frames)
        chunks = iter_chunks(video, sample.indices, model.config.preprocessing, chunk_size, info=info, prefetch=0)
        return sum(chunk.pixels.shape[0] for chunk in chunks)
    return wall_and_cpu(drain)


def backbone_only(model, pixels: torch.Tensor, chunk_size: int) -> torch.Tensor:
    """The backbone on in-memory frames, ``chunk_size`` at a time, as run_video does (inference mode; bf16
    autocast on CUDA, as run_video's precision "auto")."""
    device = model.device
    with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        return model.encode_frames(pixels.to(device), chunk_size)


def _warm_up(model, pixels: torch.Tensor, chunk_size: int) -> None:
    """First calls allocate and pick kernels: run the backbone on a few frames and the temporal encoder once."""
    backbone_only(model, pixels[:min(chunk_size, 4)], chunk_size)
    frames = pixels.shape[0]
    with torch.inference_mode():
        model.forward_features(torch.zeros(1, frames, model.config.hidden_dim, device=model.device),
                               torch.arange(frames, device=model.device)[None], output_attentions=True)


def bench_overhead(model, video: Path, num_frames: int, chunk_size: int, repeats: int) -> dict[str, Any]:
    """Pipeline ÷ backbone-only, measured in alternation ``repeats`` times; the median of the paired ratios."""
    pixels = in_memory_pixels(model, video, num_frames, chunk_size).to(model.device)
    _warm_up(model, pixels, chunk_size)
    pipeline_s, backbone_s, decode_only_s, ratios, floor_ratios, stages = [], [], [], [], [], {}
    budget_ratios = []
    cores = os.cpu_count() or 1
    for _ in range(repeats):
        started = time.perf_counter()
        result = run_video(model, video, num_frames=num_frames, chunk_size=chunk_size, cache=False)
        synchronize()
        pipeline_s.append(time.perf_counter() - started)
        stages = {k: round(v, 3) for k, v in result.timings_s.items()}
        backbone_wall, backbone_cpu = wall_and_cpu(lambda: backbone_only(model, pixels, chunk_size))
        decode_wall, decode_cpu = decode_only_seconds(model, video, num_frames, chunk_size)
        backbone_s.append(backbone_wall)
        decode_only_s.append(decode_wall)
        ratios.append(pipeline_s[-1] / backbone_s[-1])
        # the pipeline can at best hide the faster of decoding and the backbone behind the slower one
        floor_ratios.append(pipeline_s[-1] / max(decode_only_s[-1], backbone_s[-1]))
        # ... and, where both already keep every core busy, it cannot beat their CPU time spread over the cores
        # (GPU work is not CPU time: on a GPU this floor is the one above)
        budget = max(decode_wall, backbone_wall, (decode_cpu + backbone_cpu) / cores)
        budget_ratios.append(pipeline_s[-1] / budget)
    decode_s = median(decode_only_s)
    backbone = median(backbone_s)
    return {
        "frames": int(pixels.shape[0]), "chunk_size": chunk_size, "repeats": repeats,
        "pipeline_s": median(pipeline_s), "backbone_only_s": backbone, "overhead_ratio": median(ratios),
        "overhead_ratios": ratios, "pipeline_stages_s": stages, "decode_preprocess_only_s": decode_s,
        "overhead_vs_floor": median(floor_ratios), "overhead_vs_floor_ratios": floor_ratios,
        "overhead_vs_cpu_budget": median(budget_ratios), "overhead_vs_cpu_budget_ratios": budget_ratios,
        "cores": cores,
        # with perfect overlap the pipeline cannot beat the slower of decoding and the backbone
        "overhead_floor_perfect_overlap": max(decode_s, backbone) / backbone,
        # on a machine whose cores are all busy with the backbone, decoding adds its own CPU time
        "overhead_floor_no_spare_cores": (decode_s + backbone) / backbone,
        "ms_per_frame_backbone": 1000 * backbone / pixels.shape[0],
        "ms_per_frame_decode_preprocess": 1000 * decode_s / pixels.shape[0],
    }
