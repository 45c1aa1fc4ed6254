"""Compute-only exports: standalone HTML of plotly figures and a video with the attention curve burned in.

The HTML inlines plotly.js (no CDN: it opens offline). The video is the source re-encoded small and
fast (``height`` px of picture plus an attention panel beneath, x264 ``ultrafast``), with a cursor that
moves along the curve as the video plays.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageColor, ImageDraw, ImageFont

from vtn_core import safe_text
from vtn_core.colours import CURVE_FILL_COLOUR, PEAK_COLOUR, attention_rgb
from vtn_core.errors import VideoError

PANEL_BACKGROUND = (255, 255, 255)
CURVE_FILL = ImageColor.getrgb(CURVE_FILL_COLOUR)
CURVE_LINE = ImageColor.getrgb(PEAK_COLOUR)
BAND_HEIGHT = 12  # the heat band under the curve: the figures' attention colour scale
BAND_OUTLINE = (206, 212, 218)
EVENT_FILL = (213, 245, 227)
CURSOR = (34, 139, 230)


def figures_html(figures: dict[str, go.Figure], title: str = "VTN Attention Explorer", note: str = "") -> str:
    """One self-contained HTML page holding every figure (plotly.js inlined once, works offline); ``title``,
    ``note`` and the figure names are plain text (escaped here); figure labels are escaped by their makers."""
    parts = []
    for number, (name, figure) in enumerate(figures.items()):
        body = figure.to_html(full_html=False, include_plotlyjs=number == 0, config={"displaylogo": False})
        parts.append(f"<section><h2>{safe_text.html(name, None)}</h2>{body}</section>")
    note_html = f"<p>{safe_text.html(note, None)}</p>" if note else ""
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>{safe_text.html(title, None)}</title>"
            "<style>body{font-family:system-ui,sans-serif;margin:24px;color:#212529}"
            "h1{font-size:22px}h2{font-size:16px;margin-top:28px}</style></head><body>"
            f"<h1>{safe_text.html(title, None)}</h1>{note_html}{''.join(parts)}</body></html>")


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType sizes
        return ImageFont.load_default()


def attention_panel(times_s: np.ndarray, weights: np.ndarray, duration_s: float, width: int, height: int,
                    event_times: tuple[float, float] | None = None) -> np.ndarray:
    """The static panel [height, width, 3]: event span, filled attention curve, axis labels, and beneath the
    curve a heat band on the app's attention colour scale (white = no attention, darkest = the peak)."""
    image = Image.new("RGB", (width, height), PANEL_BACKGROUND)
    draw = ImageDraw.Draw(image)
    top, bottom = 14, height - 4 - BAND_HEIGHT - 2
    span = max(duration_s, 1e-6)
    if event_times is not None:
        x0, x1 = (int(round(t / span * (width - 1))) for t in event_times)
        draw.rectangle([max(0, x0), top, min(width - 1, x1), bottom], fill=EVENT_FILL)
    weights = np.asarray(weights, float)
    peak = float(weights.max()) if weights.size and weights.max() > 0 else 1.0
    xs = np.clip(np.asarray(times_s, float) / span * (width - 1), 0, width - 1)
    ys = bottom - weights / peak * (bottom - top)
    points = list(zip(xs.tolist(), ys.tolist()))
    if len(points) > 1:
        draw.polygon([(xs[0], bottom)] + points + [(xs[-1], bottom)], fill=CURVE_FILL)
        draw.line(points, fill=CURVE_LINE, width=2)
    elif points:
        draw.line([(points[0][0], bottom), points[0]], fill=CURVE_LINE, width=3)
    draw.text((4, 1), "[CLS] attention", fill=(73, 80, 87), font=_font(11))
    panel = np.asarray(image).copy()
    if weights.size:
        nearest = np.abs(np.arange(width)[:, None] - xs[None, :]).argmin(axis=1)  # each column's nearest sample
        top_row, bottom_row = height - 4 - BAND_HEIGHT, height - 4
        panel[top_row:bottom_row] = attention_rgb(weights[nearest], peak)[None]
        panel[[top_row - 1, bottom_row], :] = BAND_OUTLINE  # the band's extent: zero attention is background
        panel[top_row - 1:bottom_row + 1, [0, width - 1]] = BAND_OUTLINE
    return panel


def _cursor_frame(panel: np.ndarray, t: float, duration_s: float, times_s: np.ndarray,
                  weights: np.ndarray) -> np.ndarray:
    """The panel with a cursor at ``t`` and the weight of the nearest sample written beside it."""
    frame = panel.copy()
    width = frame.shape[1]
    x = int(round(min(max(t / max(duration_s, 1e-6), 0.0), 1.0) * (width - 1)))
    frame[:, max(0, x - 1):x + 2] = CURSOR
    if len(times_s):
        nearest = int(np.argmin(np.abs(np.asarray(times_s) - t)))
        image = Image.fromarray(frame)
        label = f"{t:5.2f} s  w={weights[nearest]:.3f}"
        ImageDraw.Draw(image).text((max(4, width - 120), 1), label, fill=(33, 37, 41), font=_font(11))
        frame = np.asarray(image)
    return frame


def attention_video(video_path: str | Path, times_s: np.ndarray, weights: np.ndarray, out_path: str | Path,
                    *, height: int = 270, panel_height: int = 90, fps: float = 15.0, min_width: int = 480,
                    event_times: tuple[float, float] | None = None,
                    progress: Callable[[int, int], None] | None = None) -> Path:
    """Write ``out_path`` (.mp4): the video at ``height`` px (letterboxed to at least ``min_width``) over a
    panel with the attention curve and a moving cursor. Raises ``VideoError`` when the source cannot be read or the encode fails."""
    from moviepy import VideoClip, VideoFileClip

    video_path, out_path = Path(video_path), Path(out_path)
    try:
        source = VideoFileClip(str(video_path), audio=False, target_resolution=(None, int(height)))
    except (OSError, IOError, KeyError, ValueError, IndexError) as exc:
        raise VideoError(f"{video_path.name}: cannot open the video for export: {str(exc).splitlines()[0][:200]}") from None
    try:
        duration = float(source.duration or 0.0)
        if duration <= 0:
            raise VideoError(f"{video_path.name}: the video has no duration; nothing to export")
        src_w, src_h = source.size
        width = max(2, int(src_w) // 2 * 2)
        frame_h = max(2, int(src_h) // 2 * 2)
        canvas_w = max(width, int(min_width) // 2 * 2)
        left = (canvas_w - width) // 2
        times = np.asarray(times_s, float)
        w = np.asarray(weights, float)
        panel = attention_panel(times, w, duration, canvas_w, panel_height, event_times)
        rate = float(min(fps, source.fps or fps))
        total = max(1, int(np.ceil(duration * rate)))
        last_time = max(0.0, duration - 1.0 / max(source.fps or rate, 1.0))

        def frame_function(t: float) -> np.ndarray:
            picture = source.get_frame(min(t, last_time))[:frame_h, :width]
            canvas = np.full((frame_h, canvas_w, 3), 24, np.uint8)  # dark letterbox around narrow videos
            canvas[:picture.shape[0], left:left + picture.shape[1]] = picture
            picture = canvas
            if progress is not None:
                progress(min(total, int(round(t * rate)) + 1), total)
            return np.vstack([picture.astype(np.uint8), _cursor_frame(panel, t, duration, times, w)])

        clip = VideoClip(frame_function, duration=duration)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".export-", suffix=".mp4", dir=out_path.parent)
        os.close(fd)
        try:
            clip.write_videofile(tmp, fps=rate, codec="libx264", preset="ultrafast", audio=False, logger=None,
                                 ffmpeg_params=["-crf", "28", "-pix_fmt", "yuv420p", "-movflags", "+faststart"])
            os.replace(tmp, out_path)
        except (OSError, IOError, BrokenPipeError) as exc:
            raise VideoError(f"{video_path.name}: encoding the export failed: {str(exc).splitlines()[0][:200]}") from None
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    finally:
        source.close()
    return out_path
