"""Plotly figures from plain arrays (never a model): the attention strip, top-k bars, head grids, curves."""
from __future__ import annotations

import base64
import io
from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from PIL import Image

ATTENTION_SCALE = "Magma"
EVENT_COLOUR = "rgba(46, 204, 113, 0.25)"


def _png_data_uri(image: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def thumbnail_subset(count: int, max_thumbnails: int) -> np.ndarray:
    """Evenly spaced sample indices to show as thumbnails (all when few)."""
    if count <= max_thumbnails:
        return np.arange(count)
    return np.unique(np.round(np.linspace(0, count - 1, max_thumbnails)).astype(int))


def attention_strip(weights: np.ndarray, timestamps_s: np.ndarray, frame_indices: np.ndarray,
                    thumbnails: np.ndarray | None = None, event_times: tuple[float, float] | None = None,
                    title: str = "[CLS] attention over time", max_thumbnails: int = 24,
                    selected: int | None = None, height: int = 330) -> go.Figure:
    """The paper's figure 3, interactive: a heatmap of [CLS] weight per sampled frame over time, a line of
    the same weights, and the frame thumbnails aligned beneath. Hover shows frame, time and weight."""
    weights = np.asarray(weights, dtype=float)
    times = np.asarray(timestamps_s, dtype=float)
    rows = 3 if thumbnails is not None and len(thumbnails) else 2
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.02,
                        row_heights=[0.55, 0.2, 0.25][:rows] if rows == 3 else [0.7, 0.3])
    hover = [f"sample {k}<br>frame {int(f)}<br>{t:.2f} s<br>weight {w:.4f}"
             for k, (f, t, w) in enumerate(zip(frame_indices, times, weights))]
    fig.add_trace(go.Scatter(x=times, y=weights, mode="lines+markers", line={"color": "#d6336c", "width": 2},
                             marker={"size": 4}, hovertext=hover, hoverinfo="text", name="weight",
                             customdata=np.arange(len(times))), row=1, col=1)
    fig.add_trace(go.Heatmap(x=times, y=[0], z=[weights], colorscale=ATTENTION_SCALE, showscale=False,
                             hovertext=[hover], hoverinfo="text", name="heatmap"), row=2, col=1)
    if event_times is not None:
        for row in range(1, rows + 1):
            fig.add_vrect(x0=event_times[0], x1=event_times[1], fillcolor=EVENT_COLOUR, line_width=0,
                          row=row, col=1, layer="below" if row == 1 else "above")
        fig.add_annotation(x=(event_times[0] + event_times[1]) / 2, y=1.0, yref="y domain", text="event",
                           showarrow=False, font={"color": "#1e8449"}, row=1, col=1)
    if selected is not None and 0 <= selected < len(times):
        fig.add_vline(x=times[selected], line={"color": "#228be6", "width": 2, "dash": "dot"})
    if rows == 3:
        span = (times[-1] - times[0]) if len(times) > 1 else 1.0
        shown = thumbnail_subset(len(times), max_thumbnails)
        width = span / max(len(shown), 1) * 0.95 if len(times) > 1 else 1.0
        for k in shown:
            fig.add_layout_image(source=_png_data_uri(thumbnails[k]), x=times[k], y=0.5, xref="x3", yref="y3",
                                 sizex=width, sizey=1.0, xanchor="center", yanchor="middle", sizing="contain",
                                 layer="above")
        fig.add_trace(go.Scatter(x=times[shown], y=[0.5] * len(shown), mode="markers", marker={"opacity": 0},
                                 hovertext=[hover[k] for k in shown], hoverinfo="text", showlegend=False,
                                 customdata=shown), row=3, col=1)
        fig.update_yaxes(visible=False, range=[0, 1], row=3, col=1)
    fig.update_yaxes(title_text="weight", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(visible=False, row=2, col=1)
    fig.update_xaxes(title_text="time (s)", row=rows, col=1)
    fig.update_layout(title=title, height=height, margin={"l": 50, "r": 20, "t": 40, "b": 40}, showlegend=False,
                      hovermode="closest", plot_bgcolor="white")
    return fig


def top_k_bars(labels: Sequence[str], probabilities: Sequence[float], title: str = "Top predictions") -> go.Figure:
    """Horizontal bars of the top classes, best on top."""
    labels, probabilities = list(labels)[::-1], list(probabilities)[::-1]
    fig = go.Figure(go.Bar(x=probabilities, y=labels, orientation="h", marker_color="#d6336c",
                           text=[f"{p:.1%}" for p in probabilities], textposition="auto",
                           hovertemplate="%{y}: %{x:.2%}<extra></extra>"))
    fig.update_layout(title=title, xaxis={"range": [0, 1], "tickformat": ".0%"}, height=60 + 32 * len(labels),
                      margin={"l": 10, "r": 10, "t": 40, "b": 30}, plot_bgcolor="white")
    return fig


def head_grid(cls_attention: np.ndarray, timestamps_s: np.ndarray, title: str = "Every layer and head") -> go.Figure:
    """A layer × head grid of small attention strips ([layers, heads, F] weights)."""
    layers, heads, _ = cls_attention.shape
    fig = make_subplots(rows=layers, cols=heads, shared_xaxes=True, shared_yaxes=True,
                        horizontal_spacing=0.01, vertical_spacing=0.04,
                        subplot_titles=[f"L{l} H{h}" for l in range(layers) for h in range(heads)])
    zmax = float(np.max(cls_attention)) if cls_attention.size else 1.0
    for layer in range(layers):
        for head in range(heads):
            fig.add_trace(go.Heatmap(x=timestamps_s, y=[0], z=[cls_attention[layer, head]], zmin=0, zmax=zmax,
                                     colorscale=ATTENTION_SCALE, showscale=layer == 0 and head == heads - 1,
                                     hovertemplate=f"layer {layer} head {head}<br>%{{x:.2f}} s<br>%{{z:.4f}}<extra></extra>"),
                          row=layer + 1, col=head + 1)
    fig.update_yaxes(visible=False)
    fig.update_annotations(font_size=10)
    fig.update_layout(title=title, height=70 + 70 * layers, margin={"l": 10, "r": 10, "t": 60, "b": 30})
    return fig


def overlay_strips(series: dict[str, tuple[np.ndarray, np.ndarray]], event_times: tuple[float, float] | None = None,
                   title: str = "Attention on one time axis") -> go.Figure:
    """Several models' [CLS] weights (name → (times, weights)) overlaid on one time axis."""
    palette = ["#d6336c", "#1c7ed6", "#37b24d", "#f59f00"]
    fig = go.Figure()
    for k, (name, (times, weights)) in enumerate(series.items()):
        fig.add_trace(go.Scatter(x=times, y=weights, mode="lines", name=name,
                                 line={"color": palette[k % len(palette)], "width": 2},
                                 hovertemplate=f"{name}<br>%{{x:.2f}} s<br>%{{y:.4f}}<extra></extra>"))
    if event_times is not None:
        fig.add_vrect(x0=event_times[0], x1=event_times[1], fillcolor=EVENT_COLOUR, line_width=0, layer="below",
                      annotation_text="event", annotation_position="top left")
    fig.update_layout(title=title, xaxis_title="time (s)", yaxis_title="weight", height=300, plot_bgcolor="white",
                      margin={"l": 50, "r": 20, "t": 40, "b": 40}, legend={"orientation": "h", "y": 1.12})
    return fig


def training_curves(histories: dict[str, list[dict[str, float]]], title: str = "Training and validation") -> go.Figure:
    """Per-epoch loss and accuracy of several runs (name → history rows), train dashed and val solid."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=["loss", "accuracy"])
    palette = ["#d6336c", "#1c7ed6", "#37b24d", "#f59f00"]
    for k, (name, history) in enumerate(histories.items()):
        epochs = [row["epoch"] for row in history]
        colour = palette[k % len(palette)]
        for col, metric in ((1, "loss"), (2, "acc")):
            for split, dash in (("train", "dash"), ("val", "solid")):
                values = [row.get(f"{split}_{metric}") for row in history]
                if any(v is None for v in values):
                    continue
                fig.add_trace(go.Scatter(x=epochs, y=values, mode="lines+markers", name=f"{name} {split}",
                                         line={"color": colour, "dash": dash}, legendgroup=name,
                                         showlegend=col == 1), row=1, col=col)
    fig.update_xaxes(title_text="epoch")
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_layout(title=title, height=340, plot_bgcolor="white", margin={"l": 50, "r": 20, "t": 60, "b": 40})
    return fig
