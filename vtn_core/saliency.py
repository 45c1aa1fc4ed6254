"""Spatial saliency per frame, class-specific and video-aware, in source-video pixel coordinates.

Grad-CAM++ and Grad-CAM (the ``grad-cam`` library) on the backbone's last spatial layer, with the gradient of the
*video-level* logit: the explained frames go through the backbone with gradient, their features replace the cached ones in
the sequence, and one temporal pass gives the video's logits. K frames to explain = K backbone passes + one
temporal pass, whatever the video's length. For ViT backbones, attention rollout of the backbone's own attention
is a second (class-agnostic) method. Maps are taken back through the centre crop and the resize to the source
frame; pixels the crop cut away are marked unseen (NaN).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_grad_cam import GradCAM, GradCAMPlusPlus
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from torch import nn

from vtn_core.config import Preprocessing
from vtn_core.errors import VTNError
from vtn_core.model import VTN
from vtn_core.twin import private_twin
from vtn_core.video import preprocess_frames, scaled_size

# Grad-CAM++ first: our backbones max-pool their last map, so the video logit's gradient reaches a few argmax
# cells; Grad-CAM's spatially averaged weights then also light up background channels, while Grad-CAM++ weighs
# each channel by where its gradient is positive (held-out pointing game in README.md: Grad-CAM++ higher).
METHODS = ("gradcam++", "gradcam", "rollout")
GRADIENT_METHODS = {"gradcam++": GradCAMPlusPlus, "gradcam": GradCAM}
METHOD_NAMES = {"gradcam++": "Grad-CAM++ (video-level logit)", "gradcam": "Grad-CAM (video-level logit)",
                "rollout": "Attention rollout (ViT backbone)"}
DEFAULT_METHOD = "gradcam++"
# the deepest layer whose map still has this many cells on its short side; a 224-px ResNet's layer4 (7x7)
# qualifies, a 48-px one's (2x2) does not: its peak could only ever land on one of four quadrant centres
MIN_CAM_SIDE = 6


# ---- geometry: crop coordinates <-> source pixels --------------------------------------------------------
@dataclass(frozen=True)
class CropGeometry:
    """How a source frame of ``height`` x ``width`` became the model's ``crop`` x ``crop`` input."""

    height: int
    width: int
    resized_height: int
    resized_width: int
    top: int
    left: int
    crop: int

    def crop_to_source(self, u: float, v: float) -> tuple[float, float]:
        """A point (continuous coordinates, pixel edges at integers) of the crop → the source frame."""
        return ((u + self.left) * self.width / self.resized_width,
                (v + self.top) * self.height / self.resized_height)

    def seen_box(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) in source pixels: the part of the frame the model saw."""
        x0, y0 = self.crop_to_source(0.0, 0.0)
        x1, y1 = self.crop_to_source(float(self.crop), float(self.crop))
        return x0, y0, x1, y1

    def to_source(self, crop_map: np.ndarray) -> np.ndarray:
        """[crop, crop] map → [height, width] float32 map, bilinear at source pixel centres; NaN where unseen."""
        xs = (np.arange(self.width) + 0.5) * self.resized_width / self.width - self.left
        ys = (np.arange(self.height) + 0.5) * self.resized_height / self.height - self.top
        grid_x = torch.as_tensor(2 * xs / self.crop - 1, dtype=torch.float32)
        grid_y = torch.as_tensor(2 * ys / self.crop - 1, dtype=torch.float32)
        grid = torch.stack(torch.meshgrid(grid_x, grid_y, indexing="xy"), dim=-1)[None]
        source = F.grid_sample(torch.as_tensor(crop_map, dtype=torch.float32)[None, None], grid,
                               mode="bilinear", padding_mode="border", align_corners=False)[0, 0].numpy()
        seen = (np.abs(grid_y.numpy())[:, None] <= 1) & (np.abs(grid_x.numpy())[None, :] <= 1)
        return np.where(seen, source, np.nan).astype(np.float32)


def crop_geometry(height: int, width: int, prep: Preprocessing) -> CropGeometry:
    """The resize + centre crop ``preprocess_frames`` applies to a ``height`` x ``width`` frame."""
    new_h, new_w = scaled_size(height, width, prep.resize_short_side)
    crop = prep.crop_size
    return CropGeometry(height=height, width=width, resized_height=new_h, resized_width=new_w,
                        top=math.ceil((new_h - crop) / 2), left=math.ceil((new_w - crop) / 2), crop=crop)


def peak_xy(source_map: np.ndarray) -> tuple[int, int] | None:
    """(x, y) source pixel of the map's maximum over the seen region; None for a flat (all-equal) map."""
    values = np.nan_to_num(source_map, nan=-np.inf)
    finite = values[np.isfinite(values)]
    if finite.size == 0 or finite.max() <= finite.min():
        return None
    y, x = np.unravel_index(int(np.argmax(values)), values.shape)
    return int(x), int(y)


# ---- which layer Grad-CAM reads ------------------------------------------------------------------------
@dataclass
class CamLayer:
    """The backbone layer Grad-CAM reads and how to turn its output into [N, C, h, w]."""

    module: nn.Module
    name: str
    reshape: Callable[[torch.Tensor], torch.Tensor] | None = None


def is_vit(backbone: nn.Module) -> bool:
    """A timm vision transformer (patch embedding + blocks of self-attention)."""
    return hasattr(backbone, "patch_embed") and hasattr(backbone, "blocks")


def cam_layer(backbone: nn.Module, crop: int) -> CamLayer:
    """The backbone's last spatial layer. ViT: the last block's output as a token grid when the pooling reads the
    patch tokens (avg/max), its input norm when it reads [CLS] (the block's output then only has a gradient at
    [CLS]). CNN: the deepest stage of timm's ``feature_info`` whose map keeps ``MIN_CAM_SIDE`` cells (else the
    deepest)."""
    if is_vit(backbone):
        grid_h, grid_w = (int(v) for v in backbone.patch_embed.grid_size)
        prefix = int(getattr(backbone, "num_prefix_tokens", 1))

        def tokens_to_grid(tokens: torch.Tensor) -> torch.Tensor:
            patches = tokens[:, prefix:prefix + grid_h * grid_w]
            return patches.reshape(tokens.shape[0], grid_h, grid_w, tokens.shape[-1]).permute(0, 3, 1, 2)

        index = len(backbone.blocks) - 1
        if str(getattr(backbone, "global_pool", "token")) == "token" and prefix > 0:
            return CamLayer(backbone.blocks[index].norm1, f"blocks.{index}.norm1", tokens_to_grid)
        return CamLayer(backbone.blocks[index], f"blocks.{index}", tokens_to_grid)
    info = list(getattr(backbone, "feature_info", None) or [])
    stages = [entry for entry in info if isinstance(entry, dict) and "module" in entry and "reduction" in entry]
    if stages:
        sharp = [entry for entry in stages if crop // int(entry["reduction"]) >= MIN_CAM_SIDE]
        chosen = (sharp or stages)[-1]
        return CamLayer(backbone.get_submodule(chosen["module"]), chosen["module"])
    convs = [(name, module) for name, module in backbone.named_modules() if isinstance(module, nn.Conv2d)]
    if not convs:
        raise VTNError(f"cannot find a spatial layer in the {type(backbone).__name__} backbone for Grad-CAM")
    return CamLayer(convs[-1][1], convs[-1][0])


# ---- Grad-CAM of the video-level logit ---------------------------------------------------------------------
class VideoLevelLogits(nn.Module):
    """frames [K, 3, H, W] → the video's logits [1, C]: their fresh backbone features replace the cached ones at
    ``slots`` and the whole sequence goes through the temporal encoder and head once.

    ``grad-cam`` wants a model from an image batch to scores; this is that model, with a *video* as the batch's
    context. Its batch of K images yields one row of scores, so a single target (row 0, the chosen class) gives
    each frame's activations the gradient of the one video-level logit.
    """

    def __init__(self, model: VTN, features: torch.Tensor, positions: torch.Tensor, slots: list[int]) -> None:
        super().__init__()
        self.vtn = model
        self.backbone = model.backbone
        self.register_buffer("features", features.detach().float(), persistent=False)
        self.register_buffer("positions", torch.as_tensor(positions, dtype=torch.long), persistent=False)
        self.register_buffer("slots", torch.as_tensor(slots, dtype=torch.long), persistent=False)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        fresh = self.vtn.encode_frames(frames).float()
        sequence = self.features.index_copy(0, self.slots, fresh)
        return self.vtn.forward_features(sequence[None], self.positions[None]).logits


def _grad_cam(model: VTN, features: torch.Tensor, positions: np.ndarray, slots: list[int],
              pixels: torch.Tensor, class_index: int, method: str) -> np.ndarray:
    device = model.device
    # a private twin: grad-cam's hooks, the backward pass's parameter gradients and its zero_grad stay off the
    # shared model (vtn_core.twin says why: concurrent sessions crashed the server)
    wrapper = VideoLevelLogits(private_twin(model), features.to(device), torch.as_tensor(positions).to(device),
                               slots)
    layer = cam_layer(wrapper.backbone, pixels.shape[-1])
    cam = GRADIENT_METHODS[method](model=wrapper, target_layers=[layer.module], reshape_transform=layer.reshape)
    try:
        with torch.enable_grad():
            maps = cam(input_tensor=pixels.to(device), targets=[ClassifierOutputTarget(int(class_index))])
    finally:
        cam.activations_and_grads.release()
    # grad-cam scales each map by (max + 1e-7): tiny gradients (a saturated softmax upstream) would stay far
    # below 1, so finish the per-frame normalisation to [0, 1] here; an all-zero map stays zero (flat, no peak)
    maps = np.asarray(maps, dtype=np.float32)
    peaks = maps.reshape(len(maps), -1).max(axis=1)
    return np.where(peaks[:, None, None] > 0, maps / np.maximum(peaks, 1e-30)[:, None, None], 0.0).astype(np.float32)


def grad_cam_maps(model: VTN, features: torch.Tensor, positions: np.ndarray, slots: list[int],
                  pixels: torch.Tensor, class_index: int, notices: list[str] | None = None,
                  method: str = DEFAULT_METHOD) -> np.ndarray:
    """Grad-CAM++ (or ``method="gradcam"``) maps [K, crop, crop] in [0, 1] of the frames ``pixels`` [K, 3, crop, crop] sitting at sequence
    ``slots`` of ``features`` [F, D], for the video-level logit of ``class_index``.

    CUDA out of memory: the same fallback as inference — one frame at a time (the others' cached features stand
    in, so each frame's map is unchanged), then the CPU; each step is appended to ``notices``.
    """
    notes = notices if notices is not None else []
    try:
        return _grad_cam(model, features, positions, slots, pixels, class_index, method)
    except torch.OutOfMemoryError:
        if model.device.type != "cuda":
            raise
        torch.cuda.empty_cache()
    notes.append("GPU out of memory in the saliency pass: explaining one frame at a time")
    try:
        return np.concatenate([_grad_cam(model, features, positions, [slot], pixels[k:k + 1], class_index, method)
                               for k, slot in enumerate(slots)])
    except torch.OutOfMemoryError:
        torch.cuda.empty_cache()
    notes.append("GPU out of memory even one frame at a time: the saliency pass continues on the CPU")
    return _grad_cam(private_twin(model).to("cpu"), features, positions, slots, pixels, class_index, method)


# ---- attention rollout (ViT backbones) -----------------------------------------------------------------------
def _pooling_weights(backbone: nn.Module, tokens: torch.Tensor, prefix: int) -> torch.Tensor:
    """[K, N] how much each output token feeds the pooled feature: [CLS] for token pooling, the patches evenly
    for average pooling, and for max pooling each patch's share of the channels whose maximum it holds."""
    count, num_tokens, channels = tokens.shape
    weights = torch.zeros(count, num_tokens)
    pool = str(getattr(backbone, "global_pool", "token"))
    if pool == "token" and prefix > 0:
        weights[:, 0] = 1.0
    elif pool == "max":
        winners = tokens[:, prefix:].argmax(dim=1)  # [K, C]
        for k in range(count):
            weights[k, prefix:] = torch.bincount(winners[k], minlength=num_tokens - prefix).float() / channels
    else:
        weights[:, prefix:] = 1.0 / (num_tokens - prefix)
    return weights


def attention_rollout_maps(backbone: nn.Module, pixels: torch.Tensor) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema, 2020) of a timm ViT: [K, crop, crop] maps in [0, 1].

    Hand-written: neither ``grad-cam`` nor Captum implements rollout. timm computes attention fused
    (scaled_dot_product_attention), so each block's attention is recomputed from its input, q/k norms included.
    Per layer: heads averaged, 0.5 A + 0.5 I (the residual), rows renormalised; layers multiplied; the rows of
    the tokens the pooling reads are taken.
    """
    if not is_vit(backbone):
        raise VTNError("attention rollout needs a ViT backbone; use Grad-CAM for this model")
    backbone = private_twin(backbone)  # private hooks (``vtn_core.twin``)
    inputs: list[torch.Tensor] = []
    hooks = [block.attn.register_forward_pre_hook(lambda module, args: inputs.append(args[0]))
             for block in backbone.blocks]
    try:
        with torch.no_grad():
            tokens = backbone.forward_features(pixels.to(next(backbone.parameters()).device))
            rollout = None
            for block, x in zip(backbone.blocks, inputs):
                attn = block.attn
                count, num_tokens, _ = x.shape
                qkv = attn.qkv(x).reshape(count, num_tokens, 3, attn.num_heads, -1).permute(2, 0, 3, 1, 4)
                q, k = attn.q_norm(qkv[0]), attn.k_norm(qkv[1])
                weights = ((q * attn.scale) @ k.transpose(-2, -1)).softmax(dim=-1).mean(dim=1).float().cpu()
                weights = 0.5 * weights + 0.5 * torch.eye(num_tokens)
                weights = weights / weights.sum(dim=-1, keepdim=True)
                rollout = weights if rollout is None else weights @ rollout
    finally:
        for hook in hooks:
            hook.remove()
    prefix = int(getattr(backbone, "num_prefix_tokens", 1))
    relevance = torch.einsum("kn,knm->km", _pooling_weights(backbone, tokens.float().cpu(), prefix), rollout)
    grid_h, grid_w = (int(v) for v in backbone.patch_embed.grid_size)
    grid = relevance[:, prefix:prefix + grid_h * grid_w].reshape(-1, 1, grid_h, grid_w)
    maps = F.interpolate(grid, size=tuple(pixels.shape[-2:]), mode="bilinear", align_corners=False)[:, 0]
    low = maps.flatten(1).min(dim=1).values[:, None, None]
    high = maps.flatten(1).max(dim=1).values[:, None, None]
    return ((maps - low) / (high - low).clamp_min(1e-7)).numpy().astype(np.float32)


# ---- frames in, source-pixel maps out -------------------------------------------------------------------------
@dataclass
class FrameSaliency:
    """One explained frame: the map in crop and in source coordinates, and where it peaks."""

    slot: int  # sample index in the sequence
    method: str  # one of METHODS
    crop_map: np.ndarray  # [crop, crop] float32 in [0, 1]
    source_map: np.ndarray  # [H, W] float32 in [0, 1], NaN where the model never saw the frame
    peak: tuple[int, int] | None  # (x, y) source pixel of the maximum; None when the map is flat
    geometry: CropGeometry


def available_methods(model: VTN) -> tuple[str, ...]:
    """Grad-CAM++ and Grad-CAM always; attention rollout too for ViT backbones."""
    return METHODS if is_vit(model.backbone) else tuple(GRADIENT_METHODS)


def frame_saliency(model: VTN, features: torch.Tensor, positions: np.ndarray, slots: list[int],
                   frames: np.ndarray, class_index: int, method: str = DEFAULT_METHOD,
                   notices: list[str] | None = None) -> list[FrameSaliency]:
    """Saliency of source ``frames`` uint8 [K, H, W, 3] at sequence ``slots`` of ``features`` [F, D] for the
    video-level logit of ``class_index``; maps in source pixels."""
    if method not in available_methods(model):
        raise VTNError(f"saliency method {method!r} is not available for this backbone; "
                       f"choose from {', '.join(available_methods(model))}")
    if len(slots) != len(frames):
        raise ValueError(f"{len(slots)} slots for {len(frames)} frames")
    if len(slots) == 0:
        return []
    frames = np.asarray(frames)
    pixels = preprocess_frames(frames, model.config.preprocessing)
    if method in GRADIENT_METHODS:
        maps = grad_cam_maps(model, features, positions, list(slots), pixels, class_index, notices, method)
    else:
        maps = attention_rollout_maps(model.backbone, pixels)
    geometry = crop_geometry(frames.shape[1], frames.shape[2], model.config.preprocessing)
    out = []
    for slot, crop_map in zip(slots, maps):
        source = geometry.to_source(crop_map)
        out.append(FrameSaliency(slot=int(slot), method=method, crop_map=crop_map, source_map=source,
                                 peak=peak_xy(source), geometry=geometry))
    return out
