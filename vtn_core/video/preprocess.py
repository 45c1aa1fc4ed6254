"""Frames → model input exactly as PySlowFast's test transform, and small thumbnails for the UI.

``crop_plan`` says which source rows and columns the crop reads; ``preprocess_gathered`` computes the model
input from those pixels alone (the decoder converts only them: ``video.convert``), with the same arithmetic
as ``preprocess_frames`` on the whole frame, so both give identical numbers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from vtn_core.config import Preprocessing
from vtn_core.limits import MAX_THUMBNAIL_ASPECT


def scaled_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    """PySlowFast's ``random_short_side_scale_jitter`` target size with min = max = ``short_side``."""
    if (width <= height and width == short_side) or (height <= width and height == short_side):
        return height, width
    if width < height:
        return int(math.floor(height / width * short_side)), short_side
    return short_side, int(math.floor(width / height * short_side))


@dataclass(frozen=True)
class CropPlan:
    """For frames of one size: the source rows and columns the crop reads, and its bilinear taps into them.

    ``taps`` is ``None`` when no resize is needed (the crop is a plain slice ``rows`` x ``cols``); otherwise
    (first row, second row, their weights, first column, second column, their weights), the row and column
    numbers being positions in ``rows`` / ``cols``, not in the frame.
    """

    height: int
    width: int
    crop: int
    rows: np.ndarray  # int64, sorted source rows read
    cols: np.ndarray  # int64, sorted source columns read
    taps: tuple[torch.Tensor, ...] | None


def crop_plan(height: int, width: int, prep: Preprocessing) -> CropPlan:
    """Which pixels of a ``height`` x ``width`` frame the model input is made of (see ``preprocess_frames``)."""
    new_h, new_w = scaled_size(height, width, prep.resize_short_side)
    crop = prep.crop_size
    if new_h < crop or new_w < crop:
        raise ValueError(f"frames of {new_w}x{new_h} are smaller than the {crop}px crop")
    top, left = int(math.ceil((new_h - crop) / 2)), int(math.ceil((new_w - crop) / 2))
    if (new_h, new_w) == (height, width):
        return CropPlan(height, width, crop, np.arange(top, top + crop), np.arange(left, left + crop), None)
    r0, r1, h0, h1 = _taps(height, new_h, top, crop)
    c0, c1, w0, w1 = _taps(width, new_w, left, crop)
    rows, cols = np.union1d(r0.numpy(), r1.numpy()), np.union1d(c0.numpy(), c1.numpy())

    def local(index: torch.Tensor, kept: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.searchsorted(kept, index.numpy()).astype(np.int64))

    taps = (local(r0, rows), local(r1, rows), h0, h1, local(c0, cols), local(c1, cols), w0, w1)
    return CropPlan(height, width, crop, rows.astype(np.int64), cols.astype(np.int64), taps)


def preprocess_frames(frames: np.ndarray | torch.Tensor, prep: Preprocessing) -> torch.Tensor:
    """uint8 RGB [N, H, W, 3] → float32 [N, 3, crop, crop]: [0, 1], mean/std, short-side bilinear resize
    (align_corners=False), centre crop at ceil((size - crop) / 2). Resizing before normalising is the same
    map (both linear, weights sum to 1); only the crop's output pixels are interpolated, from the 2 x 2 source
    pixels each reads (bilinear without antialias), so a 720p frame is never converted to float whole.
    Equal to the original to ~1e-6."""
    x = torch.as_tensor(np.asarray(frames)) if not isinstance(frames, torch.Tensor) else frames
    if x.dim() != 4 or x.shape[-1] != 3:
        raise ValueError(f"frames must be [N, H, W, 3] RGB, got {tuple(x.shape)}")
    count, height, width = int(x.shape[0]), int(x.shape[1]), int(x.shape[2])
    new_h, new_w = scaled_size(height, width, prep.resize_short_side)
    crop = prep.crop_size
    if new_h < crop or new_w < crop:
        raise ValueError(f"frames of {new_w}x{new_h} are smaller than the {crop}px crop")
    top, left = int(math.ceil((new_h - crop) / 2)), int(math.ceil((new_w - crop) / 2))
    if (new_h, new_w) == (height, width):
        pixels = x[:, top:top + crop, left:left + crop].float().reshape(count, crop, crop * 3)
    else:
        r0, r1, h0, h1 = _taps(height, new_h, top, crop)
        c0, c1, w0, w1 = _taps(width, new_w, left, crop)
        pixels = _blend_taps(x, (r0, r1, h0, h1, c0, c1, w0, w1))
    return _normalise(pixels, prep, count)


def preprocess_gathered(gathered: np.ndarray | torch.Tensor, plan: CropPlan, prep: Preprocessing) -> torch.Tensor:
    """uint8 [N, len(plan.rows), len(plan.cols), 3] (the pixels ``plan`` names, from full frames) → the same
    float32 [N, 3, crop, crop] that ``preprocess_frames`` gives for the full frames, bit for bit."""
    x = torch.as_tensor(np.asarray(gathered)) if not isinstance(gathered, torch.Tensor) else gathered
    expected = (len(plan.rows), len(plan.cols), 3)
    if x.dim() != 4 or tuple(x.shape[1:]) != expected:
        raise ValueError(f"gathered pixels must be [N, {expected[0]}, {expected[1]}, 3], got {tuple(x.shape)}")
    from vtn_core.video.convert import CropPixels, model_input

    taps = None if plan.taps is None else tuple(t.numpy() for t in plan.taps)
    pixels = CropPixels(plan.height, plan.width, plan.rows, plan.cols, taps)
    return torch.from_numpy(model_input(x.numpy(), pixels, prep))


def _normalise(pixels: torch.Tensor, prep: Preprocessing, count: int) -> torch.Tensor:
    """float [N, crop, crop * 3] in 0..255 → mean/std normalised [N, 3, crop, crop]."""
    crop = pixels.shape[1]
    mean = (torch.tensor(prep.mean, dtype=torch.float32) * 255.0).repeat(crop).view(1, 1, -1)
    std = (torch.tensor(prep.std, dtype=torch.float32) * 255.0).repeat(crop).view(1, 1, -1)
    pixels = pixels.sub_(mean).div_(std)
    return pixels.view(count, crop, crop, 3).permute(0, 3, 1, 2).contiguous()


def _taps(in_size: int, out_size: int, start: int, count: int) -> tuple[torch.Tensor, ...]:
    """Source indices and weights of output pixels ``start .. start + count - 1`` exactly as torch's
    bilinear (align_corners=False, size given): src = max(in/out * (dst + 0.5) - 0.5, 0)."""
    scale = torch.tensor(in_size, dtype=torch.float32) / out_size
    dst = torch.arange(start, start + count, dtype=torch.float32)
    src = (scale * (dst + 0.5) - 0.5).clamp_(min=0)
    first = src.floor().clamp_(max=in_size - 1)
    weight1 = (src - first).clamp_(0, 1)
    first = first.long()
    second = torch.where(first < in_size - 1, first + 1, first)
    return first, second, 1 - weight1, weight1


def _bilinear_crop(x: torch.Tensor, rows: tuple[int, int, int], cols: tuple[int, int, int],
                   crop: int) -> torch.Tensor:
    """uint8 [N, H, W, 3] → float [N, crop, crop * 3]: the crop of the frame resized to (rows[1], cols[1]) at
    (rows[2], cols[2]); ``rows`` / ``cols`` = (source size, resized size, crop start)."""
    return _blend_taps(x, _taps(*rows, crop) + _taps(*cols, crop))


def _blend_taps(x: torch.Tensor, taps: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """uint8 [N, H, W, 3] → float [N, crop, crop * 3]: the resized frame's crop, from gathered source pixels."""
    r0, r1, h0, h1, c0, c1, w0, w1 = taps
    count, height, width = int(x.shape[0]), int(x.shape[1]), int(x.shape[2])
    flat = x.reshape(count, height, width * 3)  # (column, channel) flattened: the inner loops vectorise
    rgb = torch.arange(3)
    k0, k1 = (c0[:, None] * 3 + rgb).reshape(-1), (c1[:, None] * 3 + rgb).reshape(-1)
    w0, w1 = w0.repeat_interleave(3).view(1, 1, -1), w1.repeat_interleave(3).view(1, 1, -1)

    def blend(source_rows: torch.Tensor) -> torch.Tensor:
        left = source_rows.index_select(2, k0).float().mul_(w0)
        return left.add_(source_rows.index_select(2, k1).float().mul_(w1))

    top = blend(flat.index_select(1, r0)).mul_(h0.view(1, -1, 1))
    return top.add_(blend(flat.index_select(1, r1)).mul_(h1.view(1, -1, 1)))


def make_thumbnails(frames: np.ndarray, height: int = 96) -> np.ndarray:
    """uint8 [N, H, W, 3] → uint8 [N, height, w, 3], aspect kept (frames wider than
    ``MAX_THUMBNAIL_ASPECT`` are centre-cropped to it, so w <= 3 x height), antialiased."""
    frames = np.asarray(frames)
    if frames.shape[0] == 0:
        return np.zeros((0, height, height, 3), np.uint8)
    src_h, src_w = frames.shape[1:3]
    widest = max(1, int(src_h * MAX_THUMBNAIL_ASPECT))
    if src_w > widest:  # an extreme panorama: centre-crop to the widest thumbnail shape first
        left = (src_w - widest) // 2
        frames, src_w = frames[:, :, left:left + widest], widest
    width = max(1, min(int(round(src_w * height / src_h)), int(height * MAX_THUMBNAIL_ASPECT)))
    # uint8 in, uint8 out: torch's integer antialiased kernel (channels-last), ~25x faster than via float
    x = torch.from_numpy(np.ascontiguousarray(frames, dtype=np.uint8)).permute(0, 3, 1, 2)
    x = F.interpolate(x, size=(height, width), mode="bilinear", antialias=True, align_corners=False)
    return np.ascontiguousarray(x.permute(0, 2, 3, 1).numpy())
