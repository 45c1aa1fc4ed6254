"""Frames → model input exactly as PySlowFast's test transform, and small thumbnails for the UI."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from vtn_core.config import Preprocessing


def scaled_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    """PySlowFast's ``random_short_side_scale_jitter`` target size with min = max = ``short_side``."""
    if (width <= height and width == short_side) or (height <= width and height == short_side):
        return height, width
    if width < height:
        return int(math.floor(height / width * short_side)), short_side
    return short_side, int(math.floor(width / height * short_side))


def preprocess_frames(frames: np.ndarray | torch.Tensor, prep: Preprocessing) -> torch.Tensor:
    """uint8 RGB [N, H, W, 3] → float32 [N, 3, crop, crop]: [0, 1], mean/std, short-side bilinear resize
    (align_corners=False), centre crop at ceil((size - crop) / 2). Resizing before normalising is the same
    map (both linear, weights sum to 1) and keeps memory at the small size; equal to the original to ~1e-6."""
    x = torch.as_tensor(np.asarray(frames)) if not isinstance(frames, torch.Tensor) else frames
    if x.dim() != 4 or x.shape[-1] != 3:
        raise ValueError(f"frames must be [N, H, W, 3] RGB, got {tuple(x.shape)}")
    x = x.permute(0, 3, 1, 2).float().div_(255.0)
    height, width = x.shape[-2:]
    new_h, new_w = scaled_size(height, width, prep.resize_short_side)
    if (new_h, new_w) != (height, width):
        x = F.interpolate(x, size=(new_h, new_w), mode="bilinear", align_corners=False)
    crop = prep.crop_size
    if new_h < crop or new_w < crop:
        raise ValueError(f"frames of {new_w}x{new_h} are smaller than the {crop}px crop")
    top, left = int(math.ceil((new_h - crop) / 2)), int(math.ceil((new_w - crop) / 2))
    x = x[:, :, top:top + crop, left:left + crop]
    mean = torch.tensor(prep.mean, dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(prep.std, dtype=x.dtype).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous()


def make_thumbnails(frames: np.ndarray, height: int = 96) -> np.ndarray:
    """uint8 [N, H, W, 3] → uint8 [N, height, w, 3], aspect kept, antialiased."""
    frames = np.asarray(frames)
    if frames.shape[0] == 0:
        return np.zeros((0, height, height, 3), np.uint8)
    src_h, src_w = frames.shape[1:3]
    width = max(1, int(round(src_w * height / src_h)))
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=(height, width), mode="bilinear", antialias=True, align_corners=False)
    return x.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
