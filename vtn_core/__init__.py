"""VTN Attention Explorer: load Video Transformer Network checkpoints, run whole videos, read [CLS] attention.

The names below are imported on first use (PEP 562), so a process that needs only part of the package (a
decode worker: PyAV and numpy) does not load torch, timm and transformers.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "VTN": "vtn_core.model", "VTNOutput": "vtn_core.model", "VTNConfig": "vtn_core.config",
    "Preprocessing": "vtn_core.config", "load_checkpoint": "vtn_core.checkpoint",
    "save_checkpoint": "vtn_core.checkpoint", "detect_format": "vtn_core.checkpoint", "VTNError": "vtn_core.errors",
    "CheckpointError": "vtn_core.errors", "VideoError": "vtn_core.errors", "DataError": "vtn_core.errors",
}
__all__ = [
    "VTN", "VTNOutput", "VTNConfig", "Preprocessing", "load_checkpoint", "save_checkpoint", "detect_format",
    "VTNError", "CheckpointError", "VideoError", "DataError",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    full = f"{__name__}.{name}"
    try:  # a submodule reached as an attribute (``vtn_core.inference`` after ``import vtn_core``)
        return importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name != full:
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
