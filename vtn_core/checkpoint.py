"""Load VTN checkpoints safely (official PySlowFast ``.pyth``/``.pth`` and our ``.safetensors``); save ours.

Torch files are read only with ``torch.load(weights_only=True)``: a pickle that would build arbitrary
objects (and so could run code) is refused. Every failure is a ``CheckpointError`` naming the file,
what was expected and what was found.
"""
from __future__ import annotations

import json
import math
import os
import pickle
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any, Mapping

import torch
import yaml

from vtn_core import limits
from vtn_core.checkpoint_meta import check_class_names, check_tree, clean_history
from vtn_core.config import VTNConfig
from vtn_core.device import resolve_device
from vtn_core.errors import CheckpointError
from vtn_core.hashing import umask_mode
from vtn_core.model import VTN, estimate_parameters
from vtn_core.paths import bundled_assets_dir

NATIVE_FORMAT = "vtn-explorer"
NATIVE_FORMAT_VERSION = 1
ASSETS_DIR = bundled_assets_dir()
KINETICS400_CLASSES = ASSETS_DIR / "kinetics400_classes.txt"
DEFAULT_MAX_CHECKPOINT_BYTES = limits.MAX_CHECKPOINT_BYTES

_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_PROTOCOLS = (2, 3, 4, 5)  # torch.save's legacy (non-zip) files start with PROTO 2


def _is_safetensors(head: bytes, tail: bytes, size: int) -> bool:
    """The safetensors layout: an 8-byte little-endian length N, then N bytes of JSON object ('{' … '}'
    padded with spaces), then the data, all inside the file."""
    if len(head) < 10:
        return False
    length = int.from_bytes(head[:8], "little")
    return 2 <= length <= size - 8 and head[8:9] == b"{" and tail.rstrip(b" ").endswith(b"}")


def detect_format(path: str | Path) -> str:
    """``official`` (a torch file) or ``native`` (safetensors), judged by the file's structure, not its name
    or one byte: a safetensors header length whose low byte is 0x80 is not mistaken for a pickle."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(16)
        tail = b""
        if len(head) >= 9:
            length = int.from_bytes(head[:8], "little")
            if 2 <= length <= size - 8:
                handle.seek(8 + length - min(length, 16))
                tail = handle.read(min(length, 16))
    if not head:
        raise CheckpointError(f"{path.name}: the file is empty (0 bytes); expected a VTN checkpoint (.pyth, .pth or .safetensors)")
    if _is_safetensors(head, tail, size):
        return "native"
    if head.startswith(_ZIP_MAGIC) or (len(head) >= 2 and head[0] == 0x80 and head[1] in _PICKLE_PROTOCOLS):
        return "official"
    if len(head) >= 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") >= 2:
        return "native"  # laid out as safetensors but cut short: the native reader says so
    raise CheckpointError(
        f"{path.name}: not a checkpoint: expected a PyTorch file (.pyth/.pth, zip or pickle) or a safetensors file, "
        f"found bytes starting {head[:8].hex(' ')}"
    )


def load_checkpoint(path: str | Path, device: str | torch.device = "auto",
                    max_bytes: int | None = DEFAULT_MAX_CHECKPOINT_BYTES) -> VTN:
    """Open any supported checkpoint as a ``VTN`` in eval mode on ``device`` (``auto`` = CUDA if present)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path.name}: no such checkpoint file ({path})")
    size = path.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise CheckpointError(f"{path.name}: {human_bytes(size)} is over the {human_bytes(max_bytes)} checkpoint limit")
    target = resolve_device(device)
    fmt = detect_format(path)
    if fmt == "official":
        config, state, class_names, metadata = _read_official(path)
    else:
        config, state, class_names, metadata = _read_native(path)
    metadata.update({"format": fmt, "path": str(path), "file_bytes": size})
    try:
        parameters = estimate_parameters(config)
        if parameters > limits.MAX_PARAMETERS:
            raise limits.LimitError(f"the model its config describes has {parameters / 1e6:,.0f} M parameters; "
                                    f"at most {limits.MAX_PARAMETERS / 1e6:,.0f} M")
        model = VTN(config, class_names=class_names, metadata=metadata)
    except (ValueError, RuntimeError, TypeError, AssertionError) as exc:
        raise CheckpointError(f"{path.name}: cannot build the model its config describes: {str(exc)[:300]}") from None
    _load_state(model, state, path)
    _warn_non_finite(model, path)
    return model.to(target).eval()


# ---- official PySlowFast files ------------------------------------------------------------------------
def _torch_load(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unsupported object"
        raise CheckpointError(
            f"{path.name}: refused: the file holds Python objects beyond tensors and plain data, which could run "
            f"code when loaded ({first[:200]}); only weights-only checkpoints are opened"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, KeyError, IndexError) as exc:
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"{path.name}: not a readable PyTorch checkpoint (truncated or corrupt?): {detail}"
        ) from None


def _read_official(path: Path) -> tuple[VTNConfig, dict[str, torch.Tensor], list[str] | None, dict[str, Any]]:
    payload = _torch_load(path)
    if not isinstance(payload, Mapping):
        raise CheckpointError(f"{path.name}: expected a dict with 'model_state' and 'cfg', found a {type(payload).__name__}")
    if "model_state" in payload:
        state = payload["model_state"]
    elif payload and all(isinstance(v, torch.Tensor) for v in payload.values()):
        state = payload  # a bare state dict
    else:
        raise CheckpointError(
            f"{path.name}: expected a PySlowFast checkpoint with key 'model_state', found keys {sorted(map(str, payload))[:8]}"
        )
    state = _clean_state(state, path)
    cfg = _parse_cfg(payload.get("cfg"), path)
    backbone_kwargs = infer_vit_kwargs(state, path)
    try:
        config = VTNConfig.from_official_cfg(cfg, backbone_kwargs=backbone_kwargs)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        raise CheckpointError(f"{path.name}: its cfg is not a usable VTN config: {str(exc)[:300]}") from None
    _check_official_shapes(config, state, path, cfg_given=bool(cfg))
    class_names = read_kinetics400_classes() if config.num_classes == 400 else None
    metadata = {"epoch": payload.get("epoch"), "cfg": payload.get("cfg") if isinstance(payload.get("cfg"), str) else None}
    return config, state, class_names, metadata


def _clean_state(state: Any, path: Path) -> dict[str, torch.Tensor]:
    if not isinstance(state, Mapping) or not state:
        raise CheckpointError(f"{path.name}: 'model_state' should be a non-empty dict of tensors, found {type(state).__name__}")
    if len(state) > limits.MAX_TENSORS:
        raise CheckpointError(f"{path.name}: 'model_state' holds {len(state):,} entries; at most {limits.MAX_TENSORS:,}")
    bad = [str(k)[:80] for k, v in state.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{path.name}: 'model_state' should map names to tensors; {bad[0]!r} does not")
    total = 0
    for key, tensor in state.items():
        _check_tensor_layout(key, tensor, path)
        total += tensor.numel()
    if total > limits.MAX_PARAMETERS:
        raise CheckpointError(f"{path.name}: 'model_state' holds {total / 1e6:,.0f} M values; at most "
                              f"{limits.MAX_PARAMETERS / 1e6:,.0f} M")
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}


def _check_tensor_layout(key: str, tensor: torch.Tensor, path: Path) -> None:
    """Refuse tensors whose elements overlap in memory (stride 0 or overlapping strides): a few bytes in the
    file that expand to gigabytes as soon as anything copies them."""
    name = key[:80]
    if tensor.numel() > limits.MAX_TENSOR_ELEMENTS:
        raise CheckpointError(f"{path.name}: tensor {name!r} has {tensor.numel():,} elements; at most "
                              f"{limits.MAX_TENSOR_ELEMENTS:,}")
    extent = 1
    for stride, size in sorted((st, sz) for sz, st in zip(tensor.shape, tensor.stride()) if sz > 1):
        if stride < extent:
            raise CheckpointError(f"{path.name}: tensor {name!r} is a strided view whose elements overlap (shape "
                                  f"{list(tensor.shape)}, strides {list(tensor.stride())}); refused as a memory bomb")
        extent += stride * (size - 1)
    if tensor.numel() and tensor.untyped_storage().nbytes() < extent * tensor.element_size():
        raise CheckpointError(f"{path.name}: tensor {name!r} reaches past its storage")


def _parse_cfg(cfg: Any, path: Path) -> dict[str, Any]:
    if cfg is None:
        return {}
    if isinstance(cfg, str):
        if len(cfg) > limits.MAX_CFG_CHARS:
            raise CheckpointError(f"{path.name}: its 'cfg' is {len(cfg):,} characters; at most {limits.MAX_CFG_CHARS:,}")
        try:
            cfg = yaml.safe_load(cfg)
        except yaml.YAMLError as exc:
            raise CheckpointError(f"{path.name}: its 'cfg' is not valid YAML: {str(exc).splitlines()[0][:200]}") from None
        except RecursionError:
            raise CheckpointError(f"{path.name}: its 'cfg' is nested too deeply") from None
        if cfg is None:
            return {}
    if not isinstance(cfg, Mapping):
        raise CheckpointError(f"{path.name}: its 'cfg' should be a YAML mapping, found {type(cfg).__name__}")
    try:
        check_tree(cfg, "its 'cfg'")
    except ValueError as exc:
        raise CheckpointError(f"{path.name}: {exc}") from None
    return dict(cfg)


def infer_vit_kwargs(state: Mapping[str, torch.Tensor], path: Path) -> dict[str, Any]:
    """ViT dimensions (width, depth, heads = width/64, patch, image size, MLP ratio) from backbone weights."""
    needed = ("backbone.cls_token", "backbone.pos_embed", "backbone.patch_embed.proj.weight",
              "backbone.blocks.0.mlp.fc1.weight")
    missing = [k for k in needed if k not in state]
    if missing:
        raise CheckpointError(
            f"{path.name}: unknown layout: expected a ViT backbone under 'backbone.' (as the official VTN), "
            f"missing {', '.join(missing)}"
        )
    width = int(state["backbone.cls_token"].shape[-1])
    patch = state["backbone.patch_embed.proj.weight"]
    if patch.dim() != 4 or patch.shape[0] != width:
        raise CheckpointError(f"{path.name}: backbone.patch_embed.proj.weight should be [{width}, 3, p, p], found {list(patch.shape)}")
    patch_size = int(patch.shape[-1])
    num_patches = int(state["backbone.pos_embed"].shape[1]) - 1
    grid = math.isqrt(max(num_patches, 0))
    if grid * grid != num_patches or grid == 0:
        raise CheckpointError(f"{path.name}: backbone.pos_embed holds {num_patches} patch positions, not a square grid")
    depth = len({k.split(".")[2] for k in state if k.startswith("backbone.blocks.")})
    mlp_hidden = int(state["backbone.blocks.0.mlp.fc1.weight"].shape[0])
    return {
        "embed_dim": width,
        "depth": depth,
        "num_heads": max(1, width // 64),
        "patch_size": patch_size,
        "img_size": grid * patch_size,
        "mlp_ratio": mlp_hidden / width,
        "qkv_bias": "backbone.blocks.0.attn.qkv.bias" in state,
    }


def _check_official_shapes(config: VTNConfig, state: Mapping[str, torch.Tensor], path: Path, cfg_given: bool) -> None:
    """Catch a cfg that disagrees with the weights before building, with a specific message."""
    checks = {
        "cls_token": [1, 1, config.hidden_dim],
        "mlp_head.1.weight": [config.mlp_dim, config.hidden_dim],
        "mlp_head.4.weight": [config.num_classes, config.mlp_dim],
        "temporal_encoder.embeddings.position_embeddings.weight": [config.max_position_embeddings, config.hidden_dim],
    }
    for key, expected in checks.items():
        if key in state and list(state[key].shape) != expected:
            source = "its cfg" if cfg_given else "the defaults (the file has no cfg)"
            raise CheckpointError(
                f"{path.name}: shape mismatch for {key}: {source} implies {expected}, the weights are {list(state[key].shape)}"
            )


# ---- our native safetensors files ------------------------------------------------------------------------
def _read_native(path: Path) -> tuple[VTNConfig, dict[str, torch.Tensor], list[str] | None, dict[str, Any]]:
    from safetensors import SafetensorError, safe_open

    with open(path, "rb") as handle:
        header_bytes = int.from_bytes(handle.read(8), "little")
    if header_bytes > limits.MAX_SAFETENSORS_HEADER_BYTES:
        raise CheckpointError(f"{path.name}: its safetensors header is {human_bytes(header_bytes)}; at most "
                              f"{human_bytes(limits.MAX_SAFETENSORS_HEADER_BYTES)}")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            header = dict(handle.metadata() or {})
            keys = list(handle.keys())
            if len(keys) > limits.MAX_TENSORS:
                raise CheckpointError(f"{path.name}: holds {len(keys):,} tensors; at most {limits.MAX_TENSORS:,}")
            state = {key: handle.get_tensor(key) for key in keys}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path.name}: not a readable safetensors file (bad header or truncated): {str(exc)[:200]}") from None
    if header.get("format") != NATIVE_FORMAT:
        raise CheckpointError(
            f"{path.name}: a safetensors file, but not a VTN Explorer checkpoint: expected metadata format="
            f"'{NATIVE_FORMAT}', found {header.get('format')!r}"
        )
    try:
        version = int(header.get("format_version", "0"))
        config = VTNConfig.from_json(header["config"])
        class_names = json.loads(header.get("class_names", "null"))
        extra = {key: _maybe_json(value) for key, value in header.items() if key not in ("config", "class_names")}
        check_tree(extra, "its metadata")
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{path.name}: its metadata is malformed (config or class_names): {str(exc)[:300]}") from None
    except RecursionError:
        raise CheckpointError(f"{path.name}: its metadata is nested too deeply") from None
    if version > NATIVE_FORMAT_VERSION:
        raise CheckpointError(f"{path.name}: format version {version} is newer than this app reads ({NATIVE_FORMAT_VERSION}); update the app")
    if class_names is not None:
        try:
            check_class_names(class_names)
        except ValueError as exc:
            raise CheckpointError(f"{path.name}: {exc}") from None
        if len(class_names) != config.num_classes:
            raise CheckpointError(
                f"{path.name}: class list has {len(class_names)} names but the model has {config.num_classes} classes"
            )
    extra.pop("warnings", None)  # warnings are found on loading, never taken from the file
    if "history" in extra:
        extra["history"], problem = clean_history(extra["history"])
        if problem:
            extra["warnings"] = [f"{path.name}: its training history was ignored ({problem})"]
    return config, state, class_names, extra


def _maybe_json(value: str) -> Any:
    try:
        return json.loads(value)
    except (ValueError, TypeError):
        return value
    except RecursionError:
        raise ValueError("a metadata value is nested too deeply") from None


def save_checkpoint(model: VTN, path: str | Path, **metadata: Any) -> Path:
    """Write ``model`` as one native ``.safetensors`` (weights + config, classes, metadata); atomic."""
    from safetensors.torch import save_file

    path = Path(path)
    state = {key: tensor.detach().to("cpu").contiguous().clone() for key, tensor in model.state_dict().items()}
    merged = {k: v for k, v in model.metadata.items() if k not in ("format", "path", "file_bytes", "warnings")}
    merged.update(metadata)
    header = {key: value if isinstance(value, str) else json.dumps(value) for key, value in merged.items()}
    header.update({
        "format": NATIVE_FORMAT,
        "format_version": str(NATIVE_FORMAT_VERSION),
        "config": model.config.to_json(),
        "class_names": json.dumps(list(model.class_names)),
        "attention_mode": model.attention_mode,
        "preprocessing": json.dumps(model.config.to_dict()["preprocessing"]),
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(state, tmp, metadata=header)
        os.chmod(tmp, umask_mode())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


# ---- shared ---------------------------------------------------------------------------------------------
def _load_state(model: VTN, state: Mapping[str, torch.Tensor], path: Path) -> None:
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} keys (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} keys (e.g. {', '.join(unexpected[:3])})")
        raise CheckpointError(f"{path.name}: weights do not match the VTN layout: {'; '.join(parts)}")
    for key, tensor in state.items():
        want = expected[key]
        if tuple(tensor.shape) != tuple(want.shape):
            raise CheckpointError(f"{path.name}: shape mismatch for {key}: expected {list(want.shape)}, found {list(tensor.shape)}")
        if not tensor.is_floating_point() and want.is_floating_point():
            raise CheckpointError(f"{path.name}: {key} should be floating point, found {tensor.dtype}")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()}, strict=True)


def _warn_non_finite(model: VTN, path: Path) -> None:
    bad = [name for name, p in model.named_parameters() if not torch.isfinite(p).all()]
    if bad:
        message = f"{path.name}: {len(bad)} weight tensors hold NaN or Inf (e.g. {bad[0]}); outputs may be NaN"
        model.metadata.setdefault("warnings", []).append(message)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def human_bytes(count: float) -> str:
    """``1536`` → ``'1.5 KB'``."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GB"


def read_kinetics400_classes() -> list[str]:
    """The 400 Kinetics class names, index = class id (shipped in assets/)."""
    names = [line.strip() for line in KINETICS400_CLASSES.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(names) != 400:
        raise CheckpointError(f"{KINETICS400_CLASSES}: expected 400 class names, found {len(names)}")
    return names
