"""Saliency overlays as images: a heat map over the source frame, the unseen (cropped-away) part hatched grey."""
from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

MIN_SHORT_SIDE = 240  # small source frames are enlarged (nearest neighbour) to at least this for viewing


def overlay_image(frame: np.ndarray, source_map: np.ndarray, opacity: float = 0.5,
                  peak: tuple[int, int] | None = None, min_short_side: int = MIN_SHORT_SIDE) -> np.ndarray:
    """uint8 [H', W', 3]: ``frame`` uint8 [H, W, 3] under the map [H, W] (values in [0, 1], NaN = never seen)
    at ``opacity``; unseen pixels darkened and hatched; a ring at ``peak`` (x, y). Enlarged by a whole factor
    so the short side reaches ``min_short_side``."""
    frame = np.asarray(frame, dtype=np.uint8)
    values = np.asarray(source_map, dtype=np.float32)
    if frame.shape[:2] != values.shape:
        raise ValueError(f"frame {frame.shape[:2]} and map {values.shape} differ in size")
    opacity = float(np.clip(opacity, 0.0, 1.0))
    seen = np.isfinite(values)
    heat = cv2.applyColorMap(np.uint8(255 * np.clip(np.nan_to_num(values, nan=0.0), 0, 1)), cv2.COLORMAP_JET)
    heat = cv2.cvtColor(heat, cv2.COLOR_BGR2RGB).astype(np.float32)
    image = frame.astype(np.float32)
    blended = (1 - opacity) * image + opacity * heat
    grey = image.mean(axis=-1, keepdims=True) * 0.35 + 40
    out = np.where(seen[..., None], blended, grey)
    scale = max(1, int(np.ceil(min_short_side / max(1, min(frame.shape[:2])))))
    out = np.repeat(np.repeat(out, scale, axis=0), scale, axis=1)
    if not seen.all():
        unseen = np.repeat(np.repeat(~seen, scale, axis=0), scale, axis=1)
        yy, xx = np.mgrid[0:out.shape[0], 0:out.shape[1]]
        stripes = ((xx + yy) // 6) % 3 == 0
        out[unseen & stripes] = (150, 150, 150)
    out = np.clip(out, 0, 255).astype(np.uint8)
    if peak is not None:
        centre = (int((peak[0] + 0.5) * scale), int((peak[1] + 0.5) * scale))
        radius = max(4, 3 * scale)
        cv2.circle(out, centre, radius + 2, (0, 0, 0), 2, lineType=cv2.LINE_AA)
        cv2.circle(out, centre, radius, (255, 255, 255), 2, lineType=cv2.LINE_AA)
    return out


def png_bytes(image: np.ndarray) -> bytes:
    """An RGB uint8 image as PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()
