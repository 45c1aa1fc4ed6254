"""Agreement between two models' outputs on one video, from plain arrays.

Attention vectors of different lengths (different frame counts) are resampled onto a common time axis
before they are compared. Attention is peaked (most weights near zero), so agreement is measured where the
weight is: the overlap of the most attended frames, the distance between the peaks in seconds, and the
Jensen–Shannon divergence of the whole distributions. (Rank correlation over all frames is not used: the
ranks of near-zero weights are noise.) A flat (uniform) attention has no peak: its peak distance is ``nan``,
which the app shows as "n/a".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from vtn_core.result import Result

DEFAULT_GRID_SIZE = 200


def common_grid(times_a: np.ndarray, times_b: np.ndarray, size: int | None = None) -> np.ndarray:
    """An even time axis over the overlap of two sample-time arrays (their union when they do not overlap)."""
    times_a, times_b = np.asarray(times_a, float), np.asarray(times_b, float)
    start, end = max(times_a.min(), times_b.min()), min(times_a.max(), times_b.max())
    if end <= start:
        start, end = min(times_a.min(), times_b.min()), max(times_a.max(), times_b.max())
    count = size or max(len(times_a), len(times_b), 2)
    return np.linspace(start, end, int(count)) if end > start else np.array([start])


def resample(times: np.ndarray, weights: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """``weights`` (a distribution over ``times``) linearly interpolated onto ``grid`` and renormalised."""
    times, weights = np.asarray(times, float), np.asarray(weights, float)
    order = np.argsort(times, kind="stable")
    values = np.interp(np.asarray(grid, float), times[order], weights[order])
    total = values.sum()
    return values / total if total > 0 else values


def align(times_a: np.ndarray, weights_a: np.ndarray, times_b: np.ndarray, weights_b: np.ndarray,
          size: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both distributions on one axis: ``(grid, a, b)``; unchanged when the sample times already match."""
    times_a, times_b = np.asarray(times_a, float), np.asarray(times_b, float)
    if times_a.shape == times_b.shape and np.allclose(times_a, times_b):
        return times_a, _normalise(weights_a), _normalise(weights_b)
    grid = common_grid(times_a, times_b, size)
    return grid, resample(times_a, weights_a, grid), resample(times_b, weights_b, grid)


def _normalise(weights: np.ndarray) -> np.ndarray:
    weights = np.asarray(weights, float)
    total = weights.sum()
    return weights / total if total > 0 else weights


def top_k_count(num_frames: int, share: float = 0.1) -> int:
    """How many frames count as "most attended": the top 10% (at least one), as the Top-10% mass statistic."""
    return max(1, int(np.ceil(share * num_frames))) if num_frames > 0 else 0


def top_k_frames(weights: np.ndarray, k: int) -> set[int]:
    """Indices of the ``k`` largest weights, every frame tied with the k-th included (flat attention: all)."""
    weights = np.asarray(weights, float).ravel()
    if weights.size == 0 or k < 1:
        return set()
    threshold = np.sort(weights)[::-1][min(k, weights.size) - 1]
    if threshold <= 0 < weights.max():  # fewer than k frames attended at all: those frames, not every zero
        return set(np.flatnonzero(weights > 0).tolist())
    return set(np.flatnonzero(weights >= threshold - 1e-12 * max(abs(threshold), 1.0)).tolist())


def attended_overlap(a: np.ndarray, b: np.ndarray, k: int) -> float:
    """Shared top-``k`` frames of two equal-length attention vectors over the larger top set: 1 = the same
    moments, 0 = none in common (flat attention spreads its top set over every frame, so it shares little)."""
    a, b = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"attended_overlap needs equal lengths, got {a.size} and {b.size}; align() them first")
    top_a, top_b = top_k_frames(a, k), top_k_frames(b, k)
    if not top_a or not top_b:
        return float("nan")
    return len(top_a & top_b) / max(len(top_a), len(top_b))


def is_flat(weights: np.ndarray, tolerance: float = 1e-6) -> bool:
    """True when every weight is (nearly) the same: uniform attention has no peak."""
    weights = np.asarray(weights, float)
    return weights.size == 0 or float(weights.max() - weights.min()) <= tolerance * max(float(weights.max()), 1e-12)


def peak_distance_s(times_a: np.ndarray, weights_a: np.ndarray, times_b: np.ndarray, weights_b: np.ndarray) -> float:
    """Seconds between the two most attended samples, each on its own time axis; ``nan`` when either
    attention is flat (no peak to point at)."""
    if is_flat(weights_a) or is_flat(weights_b):
        return float("nan")
    peak_a = float(np.asarray(times_a, float)[int(np.argmax(weights_a))])
    peak_b = float(np.asarray(times_b, float)[int(np.argmax(weights_b))])
    return abs(peak_a - peak_b)


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen–Shannon divergence in bits (0 = identical, 1 = disjoint) of two distributions."""
    p, q = _normalise(np.clip(p, 0, None)), _normalise(np.clip(q, 0, None))
    if p.shape != q.shape:
        raise ValueError(f"js_divergence needs equal lengths, got {p.size} and {q.size}; align() them first")
    m = 0.5 * (p + q)

    def kl(x: np.ndarray) -> float:
        mask = x > 0
        return float((x[mask] * np.log2(x[mask] / m[mask])).sum())

    return float(min(1.0, max(0.0, 0.5 * kl(p) + 0.5 * kl(q))))


def topk_overlap(labels_a: Sequence[str], labels_b: Sequence[str]) -> float:
    """Share of the first list's labels also in the second (same k)."""
    return len(set(labels_a) & set(labels_b)) / max(len(labels_a), 1)


@dataclass
class Agreement:
    """How far two results agree: predictions and attention on a shared time axis."""

    same_top1: bool
    top1_a: str
    top1_b: str
    top5_overlap: float
    top_k: int
    attended_overlap: float
    peak_distance_s: float
    js_divergence: float
    times: np.ndarray = field(repr=False)
    weights_a: np.ndarray = field(repr=False)
    weights_b: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready figures (``nan`` as ``None``)."""
        return {"same_top1": self.same_top1, "top1_a": self.top1_a, "top1_b": self.top1_b,
                "top5_overlap": self.top5_overlap, "top_k": self.top_k,
                "attended_overlap": _rounded(self.attended_overlap), "peak_distance_s": _rounded(self.peak_distance_s),
                "js_divergence": _rounded(self.js_divergence)}


def _rounded(value: float) -> float | None:
    return None if np.isnan(value) else round(float(value), 6)


def compare_results(a: Result, b: Result, layer: int | None = None, head: int | None = None) -> Agreement:
    """Agreement of two results on one video (``layer``/``head`` ``None`` = mean; clamped to each model)."""
    wa = a.attention(_clamp(layer, a.num_layers), _clamp(head, a.num_heads))
    wb = b.attention(_clamp(layer, b.num_layers), _clamp(head, b.num_heads))
    times, aligned_a, aligned_b = align(a.timestamps_s, wa, b.timestamps_s, wb)
    top_a, top_b = [label for label, _ in a.top_k(5)], [label for label, _ in b.top_k(5)]
    k = top_k_count(len(times))
    return Agreement(same_top1=top_a[0] == top_b[0], top1_a=top_a[0], top1_b=top_b[0],
                     top5_overlap=topk_overlap(top_a, top_b), top_k=k,
                     attended_overlap=attended_overlap(aligned_a, aligned_b, k),
                     peak_distance_s=peak_distance_s(a.timestamps_s, wa, b.timestamps_s, wb),
                     js_divergence=js_divergence(aligned_a, aligned_b), times=times,
                     weights_a=aligned_a, weights_b=aligned_b)


def _clamp(index: int | None, count: int) -> int | None:
    return None if index is None else min(index, count - 1)


def prediction_change(before: Result, after: Result, k: int = 5) -> list[dict[str, Any]]:
    """Per class in either top-k: probability before, after and the change (for the what-if view)."""
    labels = list(dict.fromkeys([label for label, _ in before.top_k(k)] + [label for label, _ in after.top_k(k)]))
    rows = []
    for label in labels:
        p_before = float(before.probabilities[before.class_names.index(label)]) if label in before.class_names else 0.0
        p_after = float(after.probabilities[after.class_names.index(label)]) if label in after.class_names else 0.0
        rows.append({"class": label, "before": p_before, "after": p_after, "change": p_after - p_before})
    return sorted(rows, key=lambda row: -row["before"])
