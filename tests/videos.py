"""Generate test videos whose frame index can be read back from the pixels (8-bit bar code)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from vtn_core.videowrite import write_video


def painted_frame(index: int, height: int = 48, width: int = 64) -> np.ndarray:
    """Frame ``index``: 8 vertical bars, bar b white when bit b of the index is set; a red top-left mark."""
    frame = np.zeros((height, width, 3), np.uint8)
    bar = width // 8
    for bit in range(8):
        if (index >> bit) & 1:
            frame[:, bit * bar:(bit + 1) * bar] = 255
    frame[: height // 6, : width // 8] = (255, 0, 0)
    return frame


def read_index(image: np.ndarray) -> int:
    """Inverse of ``painted_frame`` (robust to compression)."""
    height, width = image.shape[:2]
    bar = width // 8
    rows = slice(height // 4, height)  # below the red mark
    return sum(1 << bit for bit in range(8) if image[rows, bit * bar + 2:(bit + 1) * bar - 2].mean() > 127)


def make_video(path: Path, num_frames: int, fps: float = 25.0, height: int = 48, width: int = 64, **kwargs) -> Path:
    """A painted-index video (index mod 256 in each frame)."""
    frames = (painted_frame(i % 256, height, width) for i in range(num_frames))
    return write_video(path, frames, fps, **kwargs)
