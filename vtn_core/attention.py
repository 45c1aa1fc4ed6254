"""Temporal attention: the uniform-attention switch of the paper's ablation and [CLS] attention statistics.

Uniform mode makes every query and key projection of the Longformer output zeros without calling it,
so each attention score is 0 and every softmax (local windows and the global [CLS] row) becomes a
uniform distribution over the positions the token may attend to; padding stays masked. The
projections are never called, so no gradient reaches their weights.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

# projections whose output defines attention scores (values are kept: uniform *weights*, learned values)
SCORE_PROJECTIONS = ("query", "key", "query_global", "key_global")


class SwitchableProjection(nn.Linear):
    """An ``nn.Linear`` that outputs zeros (and is not evaluated) while ``uniform`` is set."""

    uniform: bool = False

    @classmethod
    def replacing(cls, linear: nn.Linear) -> "SwitchableProjection":
        """A projection sharing ``linear``'s parameters (so state-dict names and values stay)."""
        projection = cls(linear.in_features, linear.out_features, bias=linear.bias is not None,
                         device=linear.weight.device, dtype=linear.weight.dtype)
        projection.weight = linear.weight
        projection.bias = linear.bias
        return projection

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.uniform:
            return super().forward(x)
        dtype = self.weight.dtype
        if torch.is_autocast_enabled(x.device.type):
            dtype = torch.get_autocast_dtype(x.device.type)
        return x.new_zeros(*x.shape[:-1], self.out_features, dtype=dtype)


def install_switchable_projections(encoder: nn.Module) -> list[SwitchableProjection]:
    """Swap every Longformer self-attention's score projections for switchable ones; returns them."""
    switches: list[SwitchableProjection] = []
    for layer in encoder.encoder.layer:
        self_attention = layer.attention.self
        for name in SCORE_PROJECTIONS:
            projection = SwitchableProjection.replacing(getattr(self_attention, name))
            setattr(self_attention, name, projection)
            switches.append(projection)
    return switches


def entropy(weights: np.ndarray, axis: int = -1) -> np.ndarray:
    """Shannon entropy (nats) of distributions along ``axis`` (renormalised; zeros ignored)."""
    w = np.asarray(weights, dtype=np.float64)
    w = w / np.clip(w.sum(axis=axis, keepdims=True), 1e-12, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(w > 0, w * np.log(w), 0.0)
    return -terms.sum(axis=axis)


def normalized_entropy(weights: np.ndarray, axis: int = -1) -> np.ndarray:
    """Entropy divided by log(n): 1.0 for uniform attention, near 0 for attention on one frame."""
    n = np.asarray(weights).shape[axis]
    return entropy(weights, axis) / max(np.log(n), 1e-12)


def top_frames(weights: np.ndarray, k: int = 5) -> np.ndarray:
    """Indices of the ``k`` largest weights of a 1-D distribution, largest first."""
    w = np.asarray(weights).ravel()
    k = min(k, w.size)
    order = np.argsort(-w, kind="stable")
    return order[:k]


def top_fraction_mass(weights: np.ndarray, fraction: float = 0.1) -> float:
    """Share of the total weight held by the top ``fraction`` of frames (at least one frame)."""
    w = np.sort(np.asarray(weights, dtype=np.float64).ravel())[::-1]
    k = max(1, int(np.ceil(fraction * w.size)))
    total = w.sum()
    return float(w[:k].sum() / total) if total > 0 else 0.0


def span_mass(weights: np.ndarray, frame_indices: np.ndarray, start: int, end: int) -> float:
    """Share of the weight on samples whose source frame index lies in [start, end] (inclusive)."""
    w = np.asarray(weights, dtype=np.float64).ravel()
    idx = np.asarray(frame_indices).ravel()
    inside = (idx >= start) & (idx <= end)
    total = w.sum()
    return float(w[inside].sum() / total) if total > 0 else 0.0
