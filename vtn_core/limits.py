"""Every size an untrusted file or a request can ask for, in one place, checked before anything is allocated.

The table in docs/SECURITY.md lists these values and the test that proves each one. Checks raise
``LimitError`` (a ``VTNError``: the CLI prints ``error: ...``, the app an error box). Nothing here imports
torch: the numbers are compared before a tensor, a model or a frame buffer exists.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from vtn_core.errors import VTNError

# ---- files ------------------------------------------------------------------------------------------------
MAX_CHECKPOINT_BYTES = 2 * 1024**3  # the released ViT-B VTN is ~1.3 GB with its optimizer state
MAX_SAFETENSORS_HEADER_BYTES = 16 * 1024**2  # a ViT-B VTN's header is ~40 KB with 400 class names
MAX_CFG_CHARS = 1024**2  # the YAML cfg an official checkpoint carries (~10 KB in the release)
MAX_CFG_DEPTH = 8  # nesting levels of that cfg (PySlowFast's has 2)
MAX_TENSORS = 10_000  # tensors in one checkpoint (ViT-B VTN: ~260)

# ---- model size (checked on the config, before a layer is built) -------------------------------------------
MAX_PARAMETERS = 400_000_000  # whole model, ~1.6 GB in float32 (ViT-B VTN: ~114 M)
MAX_TENSOR_ELEMENTS = MAX_PARAMETERS  # one tensor as a file describes it (shape product)
MAX_CLASSES = 25_000  # ImageNet-21k has 21,841
MAX_CLASS_NAME_CHARS = 256
MAX_CLASS_NAMES_TOTAL_CHARS = 1_000_000  # all names together (Kinetics-400: ~6,000)
MAX_HIDDEN_DIM = 4096
MAX_MLP_DIM = 16_384
MAX_INTERMEDIATE_SIZE = 16_384
MAX_LAYERS = 48  # temporal encoder layers (the release: 3)
MAX_HEADS = 64
MAX_POSITION_EMBEDDINGS = 16_384  # the release: 288
MAX_ATTENTION_WINDOW = 2048
MAX_CROP_SIZE = 1024  # model input side in px (the release: 224)
MAX_RESIZE_SHORT_SIDE = 2048
MAX_TARGET_FPS = 1000
MAX_HISTORY_EPOCHS = 10_000  # rows of a checkpoint's training history
MAX_HISTORY_KEYS = 64  # metrics per history row

# ---- backbone: local timm architectures only, and only these keyword arguments -----------------------------
ALLOWED_BACKBONES = frozenset({
    "test_resnet", "test_vit", "test_efficientnet",
    "vit_tiny_patch16_224", "vit_small_patch16_224", "vit_small_patch32_224", "vit_base_patch16_224",
    "vit_base_patch32_224", "deit_tiny_patch16_224", "deit_small_patch16_224", "deit_base_patch16_224",
    "resnet18", "resnet26", "resnet34", "resnet50", "resnet101", "resnet18d", "resnet50d",
    "efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3",
    "mobilenetv3_small_100", "mobilenetv3_large_100", "convnext_atto", "convnext_femto", "convnext_pico",
    "convnext_nano", "convnext_tiny", "convnext_small", "regnetx_002", "regnetx_004", "regnety_002", "regnety_004",
})
# name -> (type, low, high); bools and strings have no range. Anything else (pretrained_cfg, checkpoint_path,
# pretrained_cfg_overlay, file, url, in_chans, ...) is refused.
BACKBONE_KWARGS: dict[str, tuple[type, Any, Any]] = {
    "embed_dim": (int, 8, 4096),
    "depth": (int, 1, 64),
    "num_heads": (int, 1, 64),
    "patch_size": (int, 1, 64),
    "img_size": (int, 16, 1024),
    "mlp_ratio": (float, 0.25, 16.0),
    "qkv_bias": (bool, None, None),
    "class_token": (bool, None, None),
    "global_pool": (str, None, None),
    "drop_rate": (float, 0.0, 1.0),
    "drop_path_rate": (float, 0.0, 1.0),
}
GLOBAL_POOLS = frozenset({"", "avg", "max", "avgmax", "catavgmax", "token"})
MAX_PATCH_TOKENS = 16_384  # (img_size / patch_size)^2 of a ViT backbone

# ---- a run's request -----------------------------------------------------------------------------------
MAX_SAMPLED_FRAMES = 10_000  # frames one run may sample (~7 min at 25 fps, an hour at ~3 per second)
MAX_THUMBNAIL_ASPECT = 3.0  # thumbnail width <= 3 x its height (wider frames are centre-cropped first)
MAX_VIDEO_ASPECT = 64.0  # a frame wider (or taller) than 64:1 is refused as not a usable video

# ---- display ------------------------------------------------------------------------------------------
MAX_DISPLAY_CHARS = 120  # one file-carried string as shown (longer ones are cut with "…")
MAX_DISPLAY_ITEMS = 60  # class names listed on a page


class LimitError(VTNError, ValueError):
    """A file or a request asks for more than the limits allow (the message names the field and the limit)."""


def check_count(what: str, value: Any, low: int, high: int) -> int:
    """``value`` as an int in [low, high], else ``LimitError`` (bools, NaN, inf and non-integers included)."""
    number = as_int(what, value)
    if not low <= number <= high:
        raise LimitError(f"{what} is {number}; it must be between {low} and {high:,}")
    return number


def as_int(what: str, value: Any) -> int:
    """A whole number from an int or an integral float, else ``LimitError``."""
    if isinstance(value, bool):
        raise LimitError(f"{what} must be a whole number, found {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    shown = repr(value) if isinstance(value, (float, int, str)) else type(value).__name__
    raise LimitError(f"{what} must be a whole number, found {shown[:40]}")


def as_float(what: str, value: Any, low: float, high: float) -> float:
    """A finite number in [low, high], else ``LimitError``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LimitError(f"{what} must be a number, found {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise LimitError(f"{what} is {number}; it must be a number between {low} and {high}")
    return number


def check_backbone(name: Any, kwargs: Any) -> None:
    """Only allow-listed local timm architectures and keyword arguments within range (no hub, no files)."""
    if not isinstance(name, str) or name not in ALLOWED_BACKBONES:
        shown = repr(name)[:60] if isinstance(name, str) else type(name).__name__
        hint = " (hub and URL models are never fetched)" if isinstance(name, str) and ":" in name else ""
        raise LimitError(f"backbone {shown} is not one of the supported local architectures{hint}; "
                         f"supported: {', '.join(sorted(ALLOWED_BACKBONES))}")
    if not isinstance(kwargs, Mapping):
        raise LimitError(f"backbone_kwargs must be a mapping, found {type(kwargs).__name__}")
    for key, value in kwargs.items():
        if key not in BACKBONE_KWARGS:
            raise LimitError(f"backbone_kwargs {str(key)[:40]!r} is not allowed; allowed: "
                             f"{', '.join(sorted(BACKBONE_KWARGS))}")
        kind, low, high = BACKBONE_KWARGS[key]
        what = f"backbone_kwargs {key}"
        if kind is bool:
            if not isinstance(value, bool):
                raise LimitError(f"{what} must be true or false, found {type(value).__name__}")
        elif kind is str:
            if value not in GLOBAL_POOLS:
                raise LimitError(f"{what} must be one of {sorted(GLOBAL_POOLS)}, found {str(value)[:40]!r}")
        elif kind is int:
            check_count(what, value, low, high)
        else:
            as_float(what, value, low, high)
    patch, size = kwargs.get("patch_size"), kwargs.get("img_size")
    if patch is not None and size is not None and (size // patch) ** 2 > MAX_PATCH_TOKENS:
        raise LimitError(f"backbone img_size {size} with patch_size {patch} gives {(size // patch) ** 2:,} tokens "
                         f"per frame; at most {MAX_PATCH_TOKENS:,}")


def temporal_parameters(hidden: int, layers: int, intermediate: int, positions: int, mlp: int, classes: int) -> int:
    """Parameters of the Longformer encoder and MLP head a config describes (exact to a few per cent)."""
    per_layer = 7 * hidden * hidden + 2 * hidden * intermediate + 12 * hidden + intermediate
    embeddings = (positions + 2) * hidden + 2 * hidden
    head = 2 * hidden + hidden * mlp + mlp + mlp * classes + classes
    return layers * per_layer + embeddings + head + hidden
