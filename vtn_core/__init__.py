"""VTN Attention Explorer: load Video Transformer Network checkpoints, run whole videos, read [CLS] attention.

The names below are imported on first use (PEP 562), so a process that needs only part of the package (a
decode worker: PyAV and numpy) does not load torch, timm and transformers.
"""
from __future__ import annotations

from vtn_core._lazy import lazy_exports

_EXPORTS = {
    "VTN": "model", "VTNOutput": "model", "VTNConfig": "config", "Preprocessing": "config",
    "load_checkpoint": "checkpoint", "save_checkpoint": "checkpoint", "detect_format": "checkpoint",
    "VTNError": "errors", "CheckpointError": "errors", "VideoError": "errors", "DataError": "errors",
}
__all__ = [
    "VTN", "VTNOutput", "VTNConfig", "Preprocessing", "load_checkpoint", "save_checkpoint", "detect_format",
    "VTNError", "CheckpointError", "VideoError", "DataError",
]
__version__ = "0.1.0"


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
