"""Plotly figures of a run, from plain arrays and tables (no model, no queries)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from vtn_core.plots import PALETTE

CORRECT_COLOUR, WRONG_COLOUR = "#37b24d", "#e03131"


def confusion_matrix(classes: Sequence[str], counts: np.ndarray, title: str = "Confusion matrix") -> go.Figure:
    """Rows = true class, columns = predicted; colour = share of the row, text = count."""
    counts = np.asarray(counts, dtype=float)
    shares = counts / np.clip(counts.sum(axis=1, keepdims=True), 1, None)
    fig = go.Figure(go.Heatmap(z=shares, x=list(classes), y=list(classes), colorscale="Blues", zmin=0, zmax=1,
                               text=counts.astype(int), texttemplate="%{text}",
                               hovertemplate="true %{y}<br>predicted %{x}<br>%{text} videos (%{z:.0%} of the row)"
                                             "<extra></extra>", colorbar={"title": "share"}))
    fig.update_layout(title=title, xaxis_title="predicted", yaxis_title="true class", height=120 + 34 * len(classes),
                      yaxis={"autorange": "reversed"}, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig


def class_profiles(centres: np.ndarray, profiles: dict[str, np.ndarray], counts: dict[str, int] | None = None,
                   title: str = "Mean [CLS] attention over normalised time") -> go.Figure:
    """One line per class: mean attention (× frames, 1 = uniform) against time from start (0) to end (1)."""
    fig = go.Figure()
    colours = PALETTE + ["#7048e8", "#0ca678", "#f76707", "#495057", "#ae3ec9", "#1098ad"]
    for k, (name, profile) in enumerate(profiles.items()):
        videos = f" ({counts[name]} videos)" if counts and name in counts else ""
        fig.add_trace(go.Scatter(x=np.asarray(centres), y=np.asarray(profile), mode="lines", name=f"{name}{videos}",
                                 line={"color": colours[k % len(colours)], "width": 2},
                                 hovertemplate=f"{name}<br>time %{{x:.0%}}<br>%{{y:.2f}}× uniform<extra></extra>"))
    fig.add_hline(y=1.0, line_dash="dot", line_color="#868e96", annotation_text="uniform",
                  annotation_position="bottom right")
    fig.update_layout(title=title, xaxis={"title": "normalised time (0 = start, 1 = end)", "tickformat": ".0%"},
                      yaxis_title="attention × frames", height=380, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig


def confidence_vs_entropy(points: pd.DataFrame, title: str = "Confidence vs attention entropy") -> go.Figure:
    """Top-1 probability against normalised attention entropy; green = correct, red = wrong, grey = unlabelled."""
    fig = go.Figure()
    groups = [("correct", points["correct"].eq(True), CORRECT_COLOUR),
              ("wrong", points["correct"].eq(False), WRONG_COLOUR),
              ("unlabelled", points["correct"].isna(), "#868e96")]
    for name, mask, colour in groups:
        part = points[mask]
        if part.empty:
            continue
        fig.add_trace(go.Scattergl(
            x=part["entropy"], y=part["prob"], mode="markers", name=name,
            marker={"color": colour, "size": 6, "opacity": 0.65},
            customdata=np.stack([part["row"], part["path"].map(lambda p: str(p).rsplit("/", 1)[-1]),
                                 part["label"].fillna("—"), part["predicted"]], axis=1),
            hovertemplate="row %{customdata[0]}: %{customdata[1]}<br>true %{customdata[2]} · predicted "
                          "%{customdata[3]}<br>entropy %{x:.2f} · confidence %{y:.0%}<extra></extra>"))
    fig.update_layout(title=title, xaxis={"title": "attention entropy (1 = uniform)", "range": [0, 1.02]},
                      yaxis={"title": "confidence (top-1 probability)", "range": [0, 1.02], "tickformat": ".0%"},
                      height=380, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig


def divergence_histogram(values: np.ndarray, title: str = "Attention divergence per video") -> go.Figure:
    """Histogram of per-video Jensen–Shannon divergences (bits) between two runs."""
    fig = go.Figure(go.Histogram(x=np.asarray(values, float), xbins={"start": 0, "end": 1, "size": 0.025},
                                 marker_color=PALETTE[1], hovertemplate="JS %{x}<br>%{y} videos<extra></extra>"))
    fig.update_layout(title=title, xaxis={"title": "Jensen–Shannon divergence (bits, 0 = same)", "range": [0, 1]},
                      yaxis_title="videos", height=300, bargap=0.05, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig
