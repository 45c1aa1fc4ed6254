"""The video pipeline: probe → sample → decode only what is needed → pre-process → chunks and thumbnails.

Names are imported on first use (PEP 562): decode worker processes load only PyAV and numpy, not torch.
"""
from __future__ import annotations

from vtn_core._lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
