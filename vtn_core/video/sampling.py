"""Which frames to look at: uniform samples over the whole video or a fixed rate, and their positions."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vtn_core.config import POSITION_SCHEMES
from vtn_core.errors import VideoError
from vtn_core.limits import MAX_SAMPLED_FRAMES, LimitError
from vtn_core.video.probe import VideoInfo, frame_times

MAX_SAMPLES = MAX_SAMPLED_FRAMES  # frames one run may sample (vtn_core.limits)


@dataclass(frozen=True)
class FrameSample:
    """Source frame indices (the model's positions before its wrap) and their nominal times."""

    indices: np.ndarray  # int64 [N]
    timestamps_s: np.ndarray  # float64 [N]; decoding fills in true times for variable-rate videos


def sample_indices(info: VideoInfo, num_frames: int | None = None, fps: float | None = None) -> FrameSample:
    """``num_frames`` spread uniformly (the original: floor(linspace(0, n-1, N)), clamped; duplicates when
    N > n) or one sample every ``1 / fps`` seconds over the whole duration (the frame on screen then).

    ``timestamps_s`` are ``start + index / fps`` for constant-rate videos; for variable-rate ones they are the
    frames' real times, read from the packets' pts (``frame_times``: demux only, no decode, cached).
    """
    if (num_frames is None) == (fps is None):
        raise ValueError("give exactly one of num_frames or fps")
    n = max(int(info.num_frames), 1)
    times = _real_times(info)
    if num_frames is not None:
        if int(num_frames) < 1:
            raise ValueError("num_frames must be at least 1")
        if int(num_frames) > MAX_SAMPLES:
            raise LimitError(f"{int(num_frames):,} frames asked; one run samples at most {MAX_SAMPLES:,} frames")
        indices = np.floor(np.linspace(0, n - 1, int(num_frames))).astype(np.int64)
    else:
        if fps is None or not np.isfinite(fps) or fps <= 0:
            raise ValueError("fps must be positive")
        span = max(info.duration_s, 0.0) * fps
        count = int(np.floor(span - 1e-9)) + 1 if np.isfinite(span) and span < 2 * MAX_SAMPLES else 2 * MAX_SAMPLES
        if count > MAX_SAMPLES:
            raise LimitError(f"{fps:g} samples/s over {info.duration_s:.0f} s is more than {MAX_SAMPLES:,} samples, "
                             "the most one run takes (lower --fps)")
        wanted = np.arange(count, dtype=np.float64) / fps
        if times is not None:
            indices = np.searchsorted(times - times[0], wanted + 1e-6, side="right").astype(np.int64) - 1
        else:
            indices = np.floor(wanted * info.fps + 1e-6).astype(np.int64)
    indices = np.clip(indices, 0, n - 1)
    if times is not None:
        stamps = times[np.minimum(indices, len(times) - 1)]
    else:
        stamps = info.start_time_s + indices / info.fps
    return FrameSample(indices=indices, timestamps_s=np.asarray(stamps, dtype=np.float64))


def _real_times(info: VideoInfo) -> np.ndarray | None:
    """Per-frame pts times of a variable-rate video (None for constant rate or when unreadable)."""
    if not info.variable_fps:
        return None
    try:
        times = frame_times(info.path)
    except OSError:
        raise VideoError(f"{Path(info.path).name}: the file can no longer be read; upload it again") from None
    return times if len(times) else None


def frame_positions(indices: np.ndarray, scheme: str, num_video_frames: int, max_frame_position: int) -> np.ndarray:
    """Position ids: "wrap" keeps frame indices (the model wraps them modulo P-2, as the original);
    "rescale" maps them into [0, max_frame_position - 1] over the whole video."""
    indices = np.asarray(indices, dtype=np.int64)
    if max_frame_position < 1:
        raise ValueError("max_frame_position must be at least 1")
    if scheme == "wrap":
        return indices.copy()
    if scheme == "rescale":
        span = max(int(num_video_frames) - 1, 1)
        return np.floor(indices * (max_frame_position - 1) / span).astype(np.int64)
    raise ValueError(f"unknown position scheme {scheme!r}; choose one of {POSITION_SCHEMES}")
