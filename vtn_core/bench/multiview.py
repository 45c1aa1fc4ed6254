"""Single pass vs the 30-view protocol (10 temporal clips x 3 spatial crops of 16 frames, softmax averaged).

Views follow PySlowFast's test sampling: clip ``i`` starts at ``i / (clips - 1)`` of the room left after one
clip of ``frames x rate`` source frames; the short side is scaled to the crop size and the crops sit at the
start, centre and end of the long side. Each temporal clip is decoded on its own (as the protocol's data
loader does); its 3 crops go through the model as one batch.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from vtn_core.bench.common import timed
from vtn_core.video import frame_positions, probe_video, read_frames, scaled_size
from vtn_core.video.preprocess import _bilinear_crop

PAPER_WALL_SPEEDUP = 5.1
PAPER_FLOP_RATIO = 1.5
CLIPS, CROPS, CLIP_FRAMES, SAMPLING_RATE = 10, 3, 16, 8


def clip_indices(num_video_frames: int, clip: int, clips: int = CLIPS, frames: int = CLIP_FRAMES,
                 rate: int = SAMPLING_RATE) -> np.ndarray:
    """Source frame indices of temporal clip ``clip`` of ``clips`` (PySlowFast's uniform test clips)."""
    span = frames * rate
    room = max(num_video_frames - span, 0)
    start = room * clip / max(clips - 1, 1)
    picks = np.linspace(start, start + span - 1, frames)
    return np.clip(np.round(picks), 0, num_video_frames - 1).astype(np.int64)


def spatial_crops(frames: np.ndarray, prep, crops: Sequence[int] = (0, 1, 2)) -> torch.Tensor:
    """uint8 [N, H, W, 3] → [len(crops), 3, N, crop, crop]: short side scaled to the crop, crops along the long
    side."""
    x = torch.from_numpy(np.ascontiguousarray(frames))
    count, height, width = int(x.shape[0]), int(x.shape[1]), int(x.shape[2])
    size = prep.crop_size
    new_h, new_w = scaled_size(height, width, size)
    mean = (torch.tensor(prep.mean) * 255).repeat(size).view(1, 1, -1)
    std = (torch.tensor(prep.std) * 255).repeat(size).view(1, 1, -1)
    views = []
    for index in crops:
        top, left = _offsets(new_h, new_w, size, index)
        pixels = _bilinear_crop(x, (height, new_h, top), (width, new_w, left), size)
        pixels = pixels.sub_(mean).div_(std).view(count, size, size, 3)
        views.append(pixels.permute(3, 0, 1, 2))
    return torch.stack(views)


def _offsets(height: int, width: int, size: int, index: int) -> tuple[int, int]:
    """PySlowFast's ``uniform_crop`` offsets for spatial index 0 (start), 1 (centre), 2 (end)."""
    top, left = int(math.ceil((height - size) / 2)), int(math.ceil((width - size) / 2))
    if height > width:
        top = 0 if index == 0 else height - size if index == 2 else top
    else:
        left = 0 if index == 0 else width - size if index == 2 else left
    return top, left


def run_multiview(model, video: Path, clips: Sequence[int] = tuple(range(CLIPS)),
                  crops: Sequence[int] = tuple(range(CROPS))) -> np.ndarray:
    """Mean softmax over the chosen views (all 30 by default)."""
    info = probe_video(video)
    scheme = model.config.position_scheme
    total = None
    with torch.inference_mode():
        for clip in clips:
            indices = clip_indices(info.num_frames, clip)
            decoded = sorted(read_frames(video, indices, info), key=lambda item: item[0])
            frames = np.stack([image for _, image, _ in decoded])
            views = spatial_crops(frames, model.config.preprocessing, crops).to(model.device)
            positions = frame_positions(indices, scheme, info.num_frames, model.config.max_frame_position)
            positions = torch.from_numpy(positions)[None].expand(len(crops), -1).to(model.device)
            probabilities = torch.softmax(model(views, positions).logits.float(), -1).sum(0)
            total = probabilities if total is None else total + probabilities
    return (total / (len(clips) * len(crops))).cpu().numpy()


def count_flops(fn) -> int:
    """FLOPs of ``fn()`` by torch's FlopCounterMode (2 per multiply-add)."""
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def flop_ratio(model, single_frames: int) -> dict[str, Any]:
    """GFLOPs of one pass over ``single_frames`` and of the 30 views; the backbone is counted on one frame
    and multiplied (its cost per frame is constant), the temporal encoder and head on the real lengths."""
    prep, width = model.config.preprocessing, model.config.hidden_dim
    per_frame = count_flops(lambda: model.encode_frames(torch.zeros(1, 3, prep.crop_size, prep.crop_size,
                                                                    device=model.device)))

    def temporal(frames: int) -> int:
        features = torch.zeros(1, frames, width, device=model.device)
        positions = torch.arange(frames, device=model.device)[None]
        return count_flops(lambda: model.forward_features(features, positions, output_attentions=True))

    single = single_frames * per_frame + temporal(single_frames)
    multi = CLIPS * CROPS * (CLIP_FRAMES * per_frame + temporal(CLIP_FRAMES))
    return {"backbone_gflops_per_frame": per_frame / 1e9, "single_pass_gflops": single / 1e9,
            "multiview_gflops": multi / 1e9, "flop_ratio": multi / single}


def bench_multiview(model, video: Path, single_frames: int, repeats: int, subset_clips: int | None = None,
                    subset_crops: int | None = None, single_pass_s: float | None = None,
                    single_pass_frames: int | None = None) -> dict[str, Any]:
    """Wall-time and FLOP ratios (multi-view ÷ single pass). With ``subset_*`` only some views are timed and the
    time is scaled to 30 views; with ``single_pass_s`` the single pass is not re-run (e.g. the overhead run's)."""
    from vtn_core.inference import run_video

    clips = list(range(CLIPS))[: subset_clips or CLIPS]
    crops = list(range(CROPS))[: subset_crops or CROPS]
    views_timed = len(clips) * len(crops)
    single_s, multi_s = [], []
    for _ in range(repeats):
        if single_pass_s is None:
            single_s.append(timed(lambda: run_video(model, video, num_frames=single_frames, cache=False))[1])
        multi_s.append(timed(lambda: run_multiview(model, video, clips, crops))[1])
    if single_pass_s is not None:
        single_s = [single_pass_s * single_frames / (single_pass_frames or single_frames)]
    multi = min(multi_s) * (CLIPS * CROPS) / views_timed
    single = min(single_s)
    return {"single_pass_frames": single_frames, "single_pass_s": single, "multiview_s": multi,
            "views_timed": views_timed, "multiview_scaled_from_subset": views_timed < CLIPS * CROPS,
            "single_pass_reused_or_scaled": single_pass_s is not None,
            "wall_speedup": multi / single, **flop_ratio(model, single_frames),
            "paper_wall_speedup": PAPER_WALL_SPEEDUP, "paper_flop_ratio": PAPER_FLOP_RATIO}
