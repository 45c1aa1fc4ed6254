"""Result views shared by the pages: predictions, the interactive attention strip, frame viewer, stats, grid.

Every function draws from a ``Result`` (plain arrays) through ``vtn_core.plots``; none computes ML.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from ui import state
from vtn_core import plots, safe_text, strip
from vtn_core.colours import uniform_level
from vtn_core.result import Result


STRIP_WIDTH_PX = 1100  # the strip's typical width in the wide layout: thumbnails are thinned to fit it
CHART_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}
# Every st.plotly_chart passes theme=None: figures carry their own look (vtn_core.plots.TEMPLATE and the attention
# scale of vtn_core.colours), so the app shows exactly what the HTML export holds.


def md(text: object, limit: int | None = None) -> str:
    """``text`` safe inside Streamlit Markdown (``safe_text.markdown``): for names and anything a file carries."""
    return safe_text.markdown(text, limit)


def event_times(result: Result, event: tuple[int, int] | None) -> tuple[float, float] | None:
    """The event's frame span as seconds on the result's time axis (None when unknown)."""
    if event is None:
        return None
    return plots.frame_span_times(event, float(result.video.get("fps") or 25.0))


def layer_head_text(layer: int | None, head: int | None) -> str:
    return f"{'mean of layers' if layer is None else f'layer {layer}'}, {'mean of heads' if head is None else f'head {head}'}"


def top_k_chart(result: Result, key: str, k: int = 5, title: str = "Top-5 predictions") -> None:
    """Horizontal bars of the top-k classes."""
    labels, probs = zip(*result.top_k(k))
    st.plotly_chart(plots.top_k_bars(labels, probs, title=title), key=key, config=CHART_CONFIG, theme=None)


def _clicked_sample(result: Result, chart_key: str) -> int | None:
    """A point newly clicked on the strip since the last run (by its time), else None."""
    event: Any = st.session_state.get(chart_key)
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return None
    if not points:
        return None
    signature = repr([(p.get("curve_number"), p.get("point_index"), p.get("x")) for p in points])
    if st.session_state.get(f"{chart_key}_seen") == signature:
        return None
    st.session_state[f"{chart_key}_seen"] = signature
    x = points[0].get("x")
    if x is None:
        return None
    return int(np.argmin(np.abs(result.timestamps_s - float(x))))


def attention_strip(result: Result, layer: int | None, head: int | None, event: tuple[float, float] | None,
                    key: str, title: str | None = None, zmax: float | None = None,
                    interactive: bool = True, max_thumbnails: int = 16) -> int:
    """The strip (heatmap over time, thumbnails beneath); click a point or move the slider to pick a frame.
    Returns the picked sample (default: the most attended one)."""
    weights = result.attention(layer, head)
    slider_key = f"{key}_frame_{result.num_frames}"
    chart_key = f"{key}_chart"
    clicked = _clicked_sample(result, chart_key) if interactive else None
    if clicked is not None:
        st.session_state[slider_key] = clicked
    if slider_key not in st.session_state or not 0 <= st.session_state[slider_key] < result.num_frames:
        st.session_state[slider_key] = int(np.argmax(weights))
    selected = int(st.session_state[slider_key])
    window = zoom_window(result, key) if interactive else np.arange(result.num_frames)
    if interactive:
        max_thumbnails = strip.thumbnails_for_width(STRIP_WIDTH_PX, len(window))
    figure = plots.attention_strip(weights[window], result.timestamps_s[window], result.frame_indices[window],
                                   result.thumbnails[window] if len(result.thumbnails) else result.thumbnails,
                                   event_times=event, zmax=zmax or float(weights.max()),
                                   selected=_position_in(window, selected) if interactive else None,
                                   uniform_level=uniform_level(result.num_frames),
                                   max_thumbnails=max_thumbnails,
                                   title=title or f"[CLS] attention over time · {layer_head_text(layer, head)}")
    if interactive:
        st.plotly_chart(figure, key=chart_key, on_select="rerun", selection_mode="points", config=CHART_CONFIG, theme=None)
        times, frames = result.timestamps_s, result.frame_indices
        st.select_slider("Frame", options=list(range(result.num_frames)), key=slider_key,
                         format_func=lambda k: f"#{k} · frame {frames[k]} · {times[k]:.2f} s · w {weights[k]:.3f}",
                         help="Click a point on the strip or drag here: the frame shows large and the player jumps there.")
        selected = int(st.session_state[slider_key])
        st.caption(peak_caption(result, layer, head))
    else:
        st.plotly_chart(figure, key=chart_key, config=CHART_CONFIG, theme=None)
    return selected


def zoom_window(result: Result, key: str) -> np.ndarray:
    """A video-time range picker (whole seconds, "m:ss") for long clips; returns the samples inside it.
    The strip then shows that range with its thumbnails re-thinned to the width."""
    times = result.timestamps_s
    end = int(np.ceil(float(times[-1]))) if len(times) else 0
    if end < 20 or result.num_frames < 32:
        return np.arange(result.num_frames)
    seconds = list(range(end + 1))
    chosen = st.select_slider("Zoom (video time)", options=seconds, value=(0, end), key=f"{key}_zoom_{end}",
                              format_func=strip.format_clock,
                              help="Drag either end to zoom the strip into a stretch of the video.")
    return strip.zoom_window(times, float(chosen[0]), float(chosen[1]) + 0.999)


def _position_in(window: np.ndarray, sample: int) -> int | None:
    """Where ``sample`` sits in the zoom window (None when outside it)."""
    hits = np.flatnonzero(window == sample)
    return int(hits[0]) if hits.size else None


def peak_caption(result: Result, layer: int | None, head: int | None) -> str:
    """The attention peak's span as video time, e.g. "Peak attention 1:12–1:15 (frames 1800–1875)"."""
    weights = result.attention(layer, head)
    start, end = strip.peak_span(weights, result.timestamps_s)
    fps = float(result.video.get("fps") or 25.0)
    return (f"Peak attention **{strip.format_span(start, end)}** (frames {round(start * fps)}–"
            f"{round(end * fps)}) · {result.num_frames} samples over {strip.format_clock(result.timestamps_s[-1])}")


def frame_viewer(result: Result, video: Path, sample: int, layer: int | None, head: int | None,
                 width: int | str = 360) -> None:
    """The picked frame large (decoded at full resolution; the thumbnail if that fails) with its weight."""
    index = int(result.frame_indices[sample])
    weights = result.attention(layer, head)
    rank = int((weights > weights[sample]).sum()) + 1
    image = state.frame_at(video, index) if video.is_file() else None
    if image is None:
        image = result.thumbnails[sample]
    st.image(image, width=width,
             caption=f"Frame {index} at {result.timestamps_s[sample]:.2f} s · weight {weights[sample]:.4f} "
                     f"(rank {rank} of {result.num_frames}, uniform would be {uniform_level(result.num_frames):.4f})")


def player(video: Path, start_s: float) -> None:
    """The video player starting at ``start_s`` (whole seconds: the browser player's resolution here)."""
    if video.suffix.lower() == ".gif":
        st.image(str(video), width="stretch")
        return
    st.video(str(video), start_time=int(max(0.0, start_s)))


def statistics(result: Result, layer: int | None, head: int | None, event: tuple[int, int] | None) -> dict[str, Any]:
    """Metric tiles: entropy, top-10% mass, peak frame, event mass (when the event is known)."""
    stats = result.statistics(layer, head, event=event)
    top = stats["top_frames"][0]
    tiles = [("Entropy", f"{stats['normalized_entropy']:.2f}",
              "Normalised entropy of the attention: 1.0 = spread evenly over all frames, near 0 = on one frame"),
             ("Top-10% mass", f"{stats['top_10pct_mass']:.0%}",
              "Share of the attention on the top 10% of frames; uniform attention would give "
              f"{max(1, int(np.ceil(0.1 * result.num_frames))) / result.num_frames:.0%}"),
             ("Peak at", f"{top['time_s']:.2f} s", f"The most attended frame: {top['frame']}, weight {top['weight']:.4f}")]
    if "event_mass" in stats:
        inside = ((result.frame_indices >= event[0]) & (result.frame_indices <= event[1])).mean()
        tiles.append(("On the event", f"{stats['event_mass']:.0%}",
                      f"Share of the attention on the ground-truth event, which holds {inside:.0%} of the sampled "
                      "frames (what uniform attention would score)"))
    for column, (label, value, help_text) in zip(st.columns(len(tiles)), tiles):
        column.metric(label, value, help=help_text)
    return stats


def top_frames_table(stats: dict[str, Any]) -> None:
    """The five most attended frames."""
    rows = [{"rank": k + 1, "time (s)": round(row["time_s"], 2), "frame": row["frame"], "weight": round(row["weight"], 4)}
            for k, row in enumerate(stats["top_frames"])]
    st.dataframe(rows, hide_index=True, width="stretch")


def head_grid(result: Result, key: str, event: tuple[float, float] | None = None) -> None:
    """The layer × head grid of small strips."""
    st.plotly_chart(plots.head_grid(result.cls_attention, result.timestamps_s, event_times=event), key=key,
                    config=CHART_CONFIG, theme=None)


def notices(result: Result) -> None:
    """Run notes (cache hit, skipped frames, GPU fallbacks) as one caption."""
    bits = [f"{result.num_frames} frames of {result.video.get('num_frames')} · {result.video.get('duration_s', 0):.1f} s "
            f"· {result.device} · {result.timings_s.get('total', 0):.2f} s"]
    if result.from_cache:
        bits.append("from cache")
    bits.extend(result.notices)
    st.caption(" · ".join(bits))
