"""Which frames to look at: uniform samples over the whole video or a fixed rate, and their positions."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vtn_core.video.probe import VideoInfo

POSITION_SCHEMES = ("wrap", "rescale")


@dataclass(frozen=True)
class FrameSample:
    """Source frame indices (the model's positions before its wrap) and their nominal times."""

    indices: np.ndarray  # int64 [N]
    timestamps_s: np.ndarray  # float64 [N]; decoding fills in true times for variable-rate videos


def sample_indices(info: VideoInfo, num_frames: int | None = None, fps: float | None = None) -> FrameSample:
    """``num_frames`` spread uniformly (the original: floor(linspace(0, n-1, N))) or ``fps`` per second."""
    if (num_frames is None) == (fps is None):
        raise ValueError("give exactly one of num_frames or fps")
    n = max(int(info.num_frames), 1)
    if num_frames is not None:
        if num_frames < 1:
            raise ValueError("num_frames must be at least 1")
        indices = np.floor(np.linspace(0, n - 1, int(num_frames))).astype(np.int64)
    else:
        if not fps or fps <= 0:
            raise ValueError("fps must be positive")
        times = np.arange(0.0, max(info.duration_s, 1e-9), 1.0 / fps)
        indices = np.floor(times * info.fps + 1e-6).astype(np.int64)
    indices = np.clip(indices, 0, n - 1)
    return FrameSample(indices=indices, timestamps_s=info.start_time_s + indices / info.fps)


def frame_positions(indices: np.ndarray, scheme: str, num_video_frames: int, max_frame_position: int) -> np.ndarray:
    """Position ids: "wrap" keeps frame indices (the model wraps them modulo P-2, as the original);
    "rescale" maps them into [0, max_frame_position - 1] over the whole video."""
    indices = np.asarray(indices, dtype=np.int64)
    if scheme == "wrap":
        return indices.copy()
    if scheme == "rescale":
        span = max(int(num_video_frames) - 1, 1)
        return np.floor(indices * (max_frame_position - 1) / span).astype(np.int64)
    raise ValueError(f"unknown position scheme {scheme!r}; choose one of {POSITION_SCHEMES}")
