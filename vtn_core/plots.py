"""Plotly figures from plain arrays (never a model): the attention strip, top-k bars, head grids, curves."""
from __future__ import annotations

import base64
import io
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots
from PIL import Image

from vtn_core import safe_text, strip
from vtn_core.colours import (ATTENTION_COLORSCALE, CURVE_FILL_COLOUR, PAGE_BACKGROUND, PEAK_COLOUR, legend_colorbar,
                              uniform_level as uniform_share)

ATTENTION_SCALE = ATTENTION_COLORSCALE  # the one attention scale (vtn_core.colours): zero = background, peak darkest
EVENT_COLOUR = "rgba(46, 204, 113, 0.22)"
EVENT_LINE = "#2b8a3e"
CURVE_COLOUR = PEAK_COLOUR
CURVE_FILL = CURVE_FILL_COLOUR
SELECTED_COLOUR = "#1c7ed6"
PALETTE = ["#d6336c", "#1c7ed6", "#37b24d", "#f59f00"]
OUTLINE = "#ced4da"

# One look for every figure, the same in the app (drawn with theme=None) and in the HTML export.
TEMPLATE = go.layout.Template(pio.templates["plotly_white"])
TEMPLATE.layout.font = {"family": "'Source Sans Pro', 'Source Sans 3', system-ui, sans-serif", "color": "#31333f"}
TEMPLATE.layout.paper_bgcolor = TEMPLATE.layout.plot_bgcolor = PAGE_BACKGROUND
TEMPLATE.layout.xaxis.automargin = TEMPLATE.layout.yaxis.automargin = True


def _png_data_uri(image: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def frame_span_times(event: tuple[int, int], fps: float) -> tuple[float, float]:
    """An inclusive frame span as seconds, covering each end frame's half-interval."""
    fps = float(fps) if fps and fps > 0 else 25.0
    return (max(0.0, (event[0] - 0.5) / fps), (event[1] + 0.5) / fps)


def thumbnail_subset(count: int, max_thumbnails: int) -> np.ndarray:
    """Evenly spaced sample indices to show as thumbnails (all when few)."""
    if count <= max_thumbnails:
        return np.arange(count)
    return np.unique(np.round(np.linspace(0, count - 1, max_thumbnails)).astype(int))


def attention_strip(weights: np.ndarray, timestamps_s: np.ndarray, frame_indices: np.ndarray,
                    thumbnails: np.ndarray | None = None, event_times: tuple[float, float] | None = None,
                    title: str = "[CLS] attention over time", max_thumbnails: int = 16,
                    selected: int | None = None, height: int = 410, zmax: float | None = None,
                    uniform_level: float | None = None) -> go.Figure:
    """The paper's figure 3, interactive: the [CLS] weight per sampled frame as a curve (with the uniform
    level for reference) and a heatmap over time, the frame thumbnails aligned beneath. Hover shows frame,
    time and weight; ``selected`` marks one sample; ``zmax`` fixes the colour scale (to compare strips)."""
    weights = np.asarray(weights, dtype=float)
    times = np.asarray(timestamps_s, dtype=float)
    count = len(times)
    has_thumbs = thumbnails is not None and len(thumbnails) > 0 and count > 0
    rows = 3 if has_thumbs else 2
    heights = [0.58, 0.12, 0.30] if has_thumbs else [0.8, 0.2]
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.025, row_heights=heights)
    hover = [f"<b>{t:.2f} s</b> · frame {int(f)}<br>weight {w:.4f}<br>sample {k}"
             for k, (f, t, w) in enumerate(zip(frame_indices, times, weights))]
    top = float(zmax) if zmax else (float(weights.max()) if weights.size else 1.0)
    uniform = uniform_level if uniform_level is not None else uniform_share(count)  # zoomed: of all
    fig.add_trace(go.Scatter(x=times, y=weights, mode="lines+markers" if count <= 300 else "lines", fill="tozeroy",
                             fillcolor=CURVE_FILL, line={"color": CURVE_COLOUR, "width": 2 if count <= 300 else 1},
                             marker={"size": 5, "color": CURVE_COLOUR},
                             hovertext=hover, hoverinfo="text", name="weight", customdata=np.arange(count)),
                  row=1, col=1)
    if count > 1:
        fig.add_hline(y=uniform, line={"color": "#868e96", "width": 1, "dash": "dash"}, row=1, col=1,
                      annotation_text="uniform", annotation_position="top right",
                      annotation_font={"size": 10, "color": "#868e96"})
    top = max(top, 1e-12)
    fig.add_trace(go.Heatmap(x=times, y=[0], z=[weights], zmin=0.0, zmax=top, colorscale=ATTENTION_SCALE,
                             showscale=True, colorbar=legend_colorbar(top, count, len=0.62, y=1.0, yanchor="top",
                                                                      x=1.01, xanchor="left"),
                             hovertext=[hover], hoverinfo="text", name="heatmap", xgap=0),
                  row=2, col=1)
    if event_times is not None:
        for row in range(1, rows + 1):
            fig.add_vrect(x0=event_times[0], x1=event_times[1], fillcolor=EVENT_COLOUR, line_width=0,
                          row=row, col=1, layer="below")
        fig.add_vrect(x0=event_times[0], x1=event_times[1], line={"color": EVENT_LINE, "width": 2},
                      fillcolor="rgba(0,0,0,0)", row=2, col=1, layer="above")
        fig.add_annotation(x=(event_times[0] + event_times[1]) / 2, y=1.0, yref="y domain", yanchor="bottom",
                           text="ground-truth event", showarrow=False, font={"color": EVENT_LINE, "size": 11},
                           row=1, col=1)
    if selected is not None and 0 <= selected < count:
        fig.add_vline(x=times[selected], line={"color": SELECTED_COLOUR, "width": 2, "dash": "dot"})
        fig.add_trace(go.Scatter(x=[times[selected]], y=[weights[selected]], mode="markers", hoverinfo="skip",
                                 marker={"size": 12, "color": "rgba(0,0,0,0)",
                                         "line": {"color": SELECTED_COLOUR, "width": 2}}), row=1, col=1)
    if has_thumbs:
        _add_thumbnails(fig, thumbnails, times, hover, max_thumbnails, selected, row=3, weights=weights)
    fig.update_yaxes(title_text="weight", rangemode="tozero", row=1, col=1, gridcolor="#f1f3f5")
    fig.update_yaxes(visible=False, row=2, col=1)
    fig.update_xaxes(showgrid=False)
    fig.update_xaxes(title_text="time (s)", row=rows, col=1)
    fig.add_shape(type="rect", xref="x2 domain", yref="y2 domain", x0=0, x1=1, y0=0, y1=1,
                  line={"color": OUTLINE, "width": 1}, layer="below")  # the band's extent: zero is background
    fig.update_layout(template=TEMPLATE, title={"text": title, "font": {"size": 15}}, height=height, showlegend=False,
                      margin={"l": 55, "r": 130, "t": 50, "b": 45}, hovermode="closest", plot_bgcolor=PAGE_BACKGROUND,
                      paper_bgcolor=PAGE_BACKGROUND,
                      clickmode="event+select", dragmode=False)
    if count > 1:
        _clock_axis(fig, times, rows)
        _mark_peak_span(fig, weights, times)
    return fig


def _add_thumbnails(fig: go.Figure, thumbnails: np.ndarray, times: np.ndarray, hover: list[str],
                    max_thumbnails: int, selected: int | None, row: int, weights: np.ndarray | None = None) -> None:
    """A film strip: evenly spaced slots over the time axis, each showing the sample nearest its centre —
    or the attention peak inside it (``strip.thin_thumbnails``: thinning never hides a peak); the slot
    holding the selected sample is framed."""
    count = len(times)
    slots = min(count, max(1, max_thumbnails))
    start, end = float(times[0]), float(times[-1])
    step = (end - start) / max(count - 1, 1) if count > 1 else 1.0
    low, high = start - step / 2, end + step / 2  # the heatmap's extent
    width = (high - low) / slots
    centres = low + width * (np.arange(slots) + 0.5)
    shown = strip.thin_thumbnails(weights if weights is not None else np.zeros(count), times, slots)
    axis = "" if row == 1 else str(row)
    for centre, k in zip(centres, shown):
        fig.add_layout_image(source=_png_data_uri(thumbnails[k]), x=centre, y=0.5, xref=f"x{axis}",
                             yref=f"y{axis}", sizex=width * 0.94, sizey=1.0, xanchor="center", yanchor="middle",
                             sizing="contain", layer="above")
    if selected is not None and 0 <= selected < count:
        slot = int(np.clip((times[selected] - low) // width, 0, slots - 1))
        fig.add_shape(type="rect", x0=low + slot * width, x1=low + (slot + 1) * width, y0=0, y1=1,
                      xref=f"x{axis}", yref=f"y{axis}", line={"color": SELECTED_COLOUR, "width": 2},
                      fillcolor="rgba(28, 126, 214, 0.35)", layer="below")
    fig.add_trace(go.Scatter(x=centres, y=[0.5] * slots, mode="markers", marker={"opacity": 0, "size": 30},
                             hovertext=[hover[k] for k in shown], hoverinfo="text", showlegend=False,
                             customdata=shown), row=row, col=1)
    fig.update_yaxes(visible=False, range=[0, 1], fixedrange=True, row=row, col=1)


def _clock_axis(fig: go.Figure, times: np.ndarray, rows: int) -> None:
    """Label the shared time axis as video time ("1:12") instead of seconds."""
    low, high = float(times[0]), float(times[-1])
    values, labels = strip.clock_ticks(low, high)
    fig.update_xaxes(tickvals=values, ticktext=labels)
    fig.update_xaxes(title_text="video time (m:ss)", row=rows, col=1)


def _mark_peak_span(fig: go.Figure, weights: np.ndarray, times: np.ndarray) -> None:
    """Bracket the span around the attention peak on the curve and write it as video time ("1:12–1:15")."""
    if not weights.size or not np.isfinite(weights).all() or weights.max() <= 0:
        return
    start, end = strip.peak_span(weights, times)
    fig.add_shape(type="line", x0=start, x1=end, y0=1.0, y1=1.0, xref="x", yref="y domain",
                  line={"color": CURVE_COLOUR, "width": 3})
    fig.add_annotation(x=end, y=1.0, xref="x", yref="y domain", xanchor="left", yanchor="middle", showarrow=False,
                       text=f"peak {strip.format_span(start, end)}", font={"color": CURVE_COLOUR, "size": 11},
                       bgcolor="rgba(255,255,255,0.85)", xshift=6)


def top_k_bars(labels: Sequence[str], probabilities: Sequence[float], title: str = "Top predictions") -> go.Figure:
    """Horizontal bars of the top classes, best on top (class names shown as plain text: ``safe_text.plotly``)."""
    labels, probabilities = [safe_text.plotly(label) for label in labels][::-1], list(probabilities)[::-1]
    fig = go.Figure(go.Bar(x=probabilities, y=labels, orientation="h", marker_color="#d6336c",
                           text=[f"{p:.1%}" for p in probabilities], textposition="auto",
                           hovertemplate="%{y}: %{x:.2%}<extra></extra>"))
    fig.update_layout(template=TEMPLATE, title=title, xaxis={"range": [0, 1], "tickformat": ".0%"}, height=60 + 32 * len(labels),
                      margin={"l": 10, "r": 10, "t": 40, "b": 30}, plot_bgcolor="white")
    return fig


def head_grid(cls_attention: np.ndarray, timestamps_s: np.ndarray, title: str = "",
              event_times: tuple[float, float] | None = None) -> go.Figure:
    """A layer × head grid of small attention strips ([layers, heads, F] weights), one colour scale."""
    layers, heads, frames = cls_attention.shape
    fig = make_subplots(rows=layers, cols=heads, shared_xaxes=True, shared_yaxes=True,
                        horizontal_spacing=0.008, vertical_spacing=0.1 / max(layers, 1),
                        column_titles=[f"head {h}" for h in range(heads)],
                        row_titles=[f"layer {n}" for n in range(layers)])
    zmax = float(np.max(cls_attention)) if cls_attention.size else 1.0
    for layer in range(layers):
        for head in range(heads):
            fig.add_trace(go.Heatmap(x=timestamps_s, y=[0], z=[cls_attention[layer, head]], zmin=0, zmax=zmax,
                                     colorscale=ATTENTION_SCALE, showscale=layer == 0 and head == heads - 1,
                                     colorbar=legend_colorbar(max(zmax, 1e-12), frames, len=1.0, x=1.02,
                                                              xanchor="left"),
                                     hovertemplate=f"layer {layer} head {head}<br>%{{x:.2f}} s<br>"
                                                   "weight %{z:.4f}<extra></extra>"),
                          row=layer + 1, col=head + 1)
            fig.add_shape(type="rect", xref="x domain", yref="y domain", x0=0, x1=1, y0=0, y1=1,
                          line={"color": OUTLINE, "width": 1}, row=layer + 1, col=head + 1)
            if event_times is not None:
                fig.add_vrect(x0=event_times[0], x1=event_times[1], line={"color": EVENT_LINE, "width": 1.5},
                              fillcolor="rgba(0,0,0,0)", row=layer + 1, col=head + 1)
    fig.update_yaxes(visible=False)
    fig.update_xaxes(showgrid=False, tickfont={"size": 9})
    fig.update_annotations(font_size=11)
    fig.update_layout(template=TEMPLATE, title=title or None, height=60 + 64 * layers, plot_bgcolor=PAGE_BACKGROUND,
                      paper_bgcolor=PAGE_BACKGROUND, margin={"l": 10, "r": 130, "t": 40 if not title else 70, "b": 30})
    return fig


def overlay_strips(series: dict[str, tuple[np.ndarray, np.ndarray]], event_times: tuple[float, float] | None = None,
                   title: str = "Attention on one time axis") -> go.Figure:
    """Several models' [CLS] weights (name → (times, weights)) overlaid on one time axis."""
    fig = go.Figure()
    for k, (name, (times, weights)) in enumerate(series.items()):
        fig.add_trace(go.Scatter(x=times, y=weights, mode="lines+markers", name=name, marker={"size": 4},
                                 line={"color": PALETTE[k % len(PALETTE)], "width": 2},
                                 hovertemplate=f"{name}<br>%{{x:.2f}} s<br>weight %{{y:.4f}}<extra></extra>"))
    if event_times is not None:
        fig.add_vrect(x0=event_times[0], x1=event_times[1], fillcolor=EVENT_COLOUR, line_width=0, layer="below",
                      annotation_text="ground-truth event", annotation_position="top left",
                      annotation_font={"color": EVENT_LINE, "size": 11})
    fig.update_layout(template=TEMPLATE, title=title, xaxis_title="time (s)", yaxis_title="weight", height=320,
                      margin={"l": 55, "r": 20, "t": 60, "b": 40},
                      legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"})
    fig.update_yaxes(rangemode="tozero", gridcolor="#f1f3f5")
    return fig


def training_curves(histories: dict[str, list[dict[str, float]]], title: str = "Training and validation") -> go.Figure:
    """Per-epoch loss, accuracy and (when recorded) validation localization of several runs
    (name → history rows); train dashed, validation solid — the paper's ablation figure."""
    has_localization = any(row.get("val_localization") is not None for rows in histories.values() for row in rows)
    panels = [("loss", "loss"), ("acc", "accuracy")] + ([("localization", "attention on the event (val)")]
                                                       if has_localization else [])
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[label for _, label in panels],
                        horizontal_spacing=0.07)
    for k, (name, history) in enumerate(histories.items()):
        epochs = [row.get("epoch", n + 1) for n, row in enumerate(history)]
        colour = PALETTE[k % len(PALETTE)]
        for col, (metric, _) in enumerate(panels, start=1):
            splits = (("val", "solid"),) if metric == "localization" else (("train", "dash"), ("val", "solid"))
            for split, dash in splits:
                values = [row.get(f"{split}_{metric}") for row in history]
                if not values or any(v is None for v in values):
                    continue
                fig.add_trace(go.Scatter(x=epochs, y=values, mode="lines+markers", name=f"{name} · {split}",
                                         line={"color": colour, "dash": dash}, marker={"size": 5},
                                         legendgroup=f"{name}{split}", showlegend=col == 1,
                                         hovertemplate=f"{name} {split}<br>epoch %{{x}}<br>%{{y:.3f}}<extra></extra>"),
                              row=1, col=col)
    fig.update_xaxes(title_text="epoch", gridcolor="#f1f3f5")
    fig.update_yaxes(gridcolor="#f1f3f5")
    for col in range(2, len(panels) + 1):
        fig.update_yaxes(range=[0, 1.02], tickformat=".0%", row=1, col=col)
    fig.update_layout(template=TEMPLATE, title=title, height=400, margin={"l": 50, "r": 20, "t": 80, "b": 40},
                      legend={"orientation": "h", "y": -0.2, "yanchor": "top"})
    return fig


def localization_bars(masses: dict[str, Sequence[float]], baseline: float | None = None,
                      title: str = "Attention on the ground-truth event, per layer") -> go.Figure:
    """Per model (name → event mass per layer) grouped bars; ``baseline`` = the event's share of frames."""
    fig = go.Figure()
    for k, (name, values) in enumerate(masses.items()):
        fig.add_trace(go.Bar(x=[f"layer {n}" for n in range(len(values))], y=list(values), name=name,
                             marker_color=PALETTE[k % len(PALETTE)], text=[f"{v:.0%}" for v in values],
                             textposition="outside", hovertemplate=f"{name}<br>%{{x}}: %{{y:.1%}}<extra></extra>"))
    if baseline is not None:
        fig.add_hline(y=baseline, line={"color": "#495057", "dash": "dash"},
                      annotation_text=f"event's share of frames ({baseline:.0%})", annotation_position="top left")
    top = max([max(v) for v in masses.values() if len(v)] + [baseline or 0, 0.1])
    fig.update_traces(cliponaxis=False)
    fig.update_layout(template=TEMPLATE, title=title, barmode="group", height=320,
                      yaxis={"tickformat": ".0%", "range": [0, min(1.05, top * 1.25)], "gridcolor": "#f1f3f5"},
                      margin={"l": 50, "r": 20, "t": 60, "b": 40},
                      legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"})
    return fig


def prediction_change_bars(rows: Sequence[dict], before: str = "learned", after: str = "uniform",
                           title: str = "Predictions before and after") -> go.Figure:
    """Grouped bars of class probabilities before/after a change (rows: class, before, after; class names shown
    as plain text)."""
    labels = [safe_text.plotly(row["class"]) for row in rows]
    fig = go.Figure()
    for k, (key, name) in enumerate((("before", before), ("after", after))):
        values = [row[key] for row in rows]
        fig.add_trace(go.Bar(x=labels, y=values, name=name, marker_color=PALETTE[k],
                             text=[f"{v:.0%}" for v in values], textposition="outside",
                             hovertemplate=f"{name}<br>%{{x}}: %{{y:.1%}}<extra></extra>"))
    top = max([row["before"] for row in rows] + [row["after"] for row in rows] + [0.1])
    fig.update_traces(cliponaxis=False)
    fig.update_layout(template=TEMPLATE, title=title, barmode="group", height=320,
                      yaxis={"tickformat": ".0%", "range": [0, min(1.1, top * 1.25)], "gridcolor": "#f1f3f5"},
                      margin={"l": 50, "r": 20, "t": 60, "b": 40},
                      legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"})
    return fig
