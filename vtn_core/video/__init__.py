"""The video pipeline: probe → sample → decode only what is needed → pre-process → chunks and thumbnails.

Names are imported on first use (PEP 562): decode worker processes load only PyAV and numpy, not torch.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DecodeReport": "decode", "FrameReader": "decode", "choose_strategy": "decode", "read_frames": "decode",
    "make_thumbnails": "preprocess", "preprocess_frames": "preprocess", "scaled_size": "preprocess",
    "MAX_PIXELS": "probe", "VideoInfo": "probe", "frame_times": "probe", "probe_video": "probe",
    "FrameSample": "sampling", "frame_positions": "sampling", "sample_indices": "sampling",
    "Chunk": "stream", "ChunkStream": "stream", "iter_chunks": "stream",
}
__all__ = ["VideoInfo", "probe_video", "frame_times", "FrameSample", "sample_indices", "frame_positions",
           "FrameReader", "DecodeReport", "read_frames", "choose_strategy", "preprocess_frames", "make_thumbnails",
           "scaled_size", "Chunk", "ChunkStream", "iter_chunks", "MAX_PIXELS"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
        globals()[name] = value
        return value
    full = f"{__name__}.{name}"
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name != full:
            raise
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
