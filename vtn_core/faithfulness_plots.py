"""Plotly figures of deletion/insertion curves, built from arrays (no model)."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from vtn_core import safe_text
from vtn_core.colours import PEAK_COLOUR
from vtn_core.plots import TEMPLATE

COLOURS = {"attention": PEAK_COLOUR, "gradient": "#1f77b4", "random": "#7f7f7f"}
LABELS = {"attention": "[CLS] attention", "gradient": "|gradient × feature|", "random": "random (mean)"}


def _band(fig: go.Figure, x: np.ndarray, mean: np.ndarray, spread: np.ndarray, column: int) -> None:
    upper, lower = np.clip(mean + spread, 0, 1), np.clip(mean - spread, 0, 1)
    fig.add_trace(go.Scatter(x=np.concatenate([x, x[::-1]]), y=np.concatenate([upper, lower[::-1]]), fill="toself",
                             fillcolor="rgba(127,127,127,0.18)", line={"width": 0}, hoverinfo="skip",
                             showlegend=False), row=1, col=column)


def faithfulness_curves(fractions: np.ndarray, deletion: Mapping[str, np.ndarray], insertion: Mapping[str, np.ndarray],
                        deletion_auc: Mapping[str, float], insertion_auc: Mapping[str, float],
                        random_spread: Mapping[str, np.ndarray] | None = None, label: str = "",
                        title: str = "Does the model rely on these frames?", height: int = 420) -> go.Figure:
    """Two panels — deletion (frames removed, most important first) and insertion (frames added back) — with
    one line per ordering, the predicted class's probability on y, the share of frames processed on x, the
    area under each curve in the legend; ``random_spread`` [F + 1] draws ±1 std of the random seeds."""
    x = np.asarray(fractions, dtype=float)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08,
                        subplot_titles=("Deletion: remove frames, most important first (lower = more faithful)",
                                        "Insertion: add frames back, most important first (higher = more faithful)"))
    for column, (curves, aucs, kind) in enumerate(((deletion, deletion_auc, "deletion"),
                                                    (insertion, insertion_auc, "insertion")), start=1):
        if random_spread is not None and kind in random_spread and "random" in curves:
            _band(fig, x, np.asarray(curves["random"]), np.asarray(random_spread[kind]), column)
        for name, curve in curves.items():
            line_label = LABELS.get(name, safe_text.plotly(name))
            fig.add_trace(go.Scatter(
                x=x, y=np.asarray(curve, dtype=float), mode="lines+markers", marker={"size": 4},
                line={"color": COLOURS.get(name), "dash": "dot" if name == "random" else "solid", "width": 2},
                name=f"{line_label} · deletion AUC {deletion_auc[name]:.2f} · insertion AUC {insertion_auc[name]:.2f}",
                legendgroup=name, showlegend=column == 1,
                hovertemplate=f"{line_label}<br>%{{x:.0%}} of frames {'removed' if kind == 'deletion' else 'added back'}"
                              f"<br>probability %{{y:.3f}} · AUC {aucs[name]:.2f}<extra></extra>"), row=1, col=column)
    fig.update_xaxes(title_text="share of frames removed", tickformat=".0%", range=[0, 1], row=1, col=1)
    fig.update_xaxes(title_text="share of frames added back", tickformat=".0%", range=[0, 1], row=1, col=2)
    fig.update_yaxes(title_text=f"P({safe_text.plotly(label)})" if label else "probability", range=[0, 1.02], row=1, col=1)
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_layout(title={"text": safe_text.plotly(title), "font": {"size": 15}}, height=height,
                      margin={"l": 50, "r": 10, "t": 70, "b": 40}, template=TEMPLATE,
                      legend={"orientation": "h", "x": 0.0, "y": -0.22, "yanchor": "top", "font": {"size": 11}})
    fig.update_annotations(font_size=12)
    return fig
