"""Agreement metrics between two models' outputs (vtn_core.compare)."""
from __future__ import annotations

import numpy as np
import pytest

from vtn_core.compare import (align, attended_overlap, common_grid, compare_results, is_flat, js_divergence,
                              peak_distance_s, prediction_change, resample, top_k_count, top_k_frames)
from vtn_core.result import Result


def make_result(weights: np.ndarray, times: np.ndarray, probs: list[float], classes=("a", "b", "c")) -> Result:
    frames = len(times)
    attention = np.broadcast_to(np.asarray(weights, np.float32), (2, 3, frames)).copy()
    return Result(video={"path": "v.mp4", "fps": 10.0}, checkpoint={"path": "m", "attention": "learned"},
                  class_names=list(classes), probabilities=np.asarray(probs, np.float32),
                  logits=np.log(np.asarray(probs, np.float32)), cls_attention=attention,
                  cls_self_attention=np.zeros((2, 3), np.float32), frame_indices=np.arange(frames),
                  positions=np.arange(frames), timestamps_s=np.asarray(times, float),
                  thumbnails=np.zeros((frames, 8, 8, 3), np.uint8))


def test_top_k_frames_ties_and_sparse():
    assert top_k_count(16) == 2 and top_k_count(5) == 1 and top_k_count(0) == 0
    assert top_k_frames(np.array([0.1, 0.5, 0.3, 0.1]), 2) == {1, 2}
    assert top_k_frames(np.full(4, 0.25), 2) == {0, 1, 2, 3}  # flat: every frame ties
    assert top_k_frames(np.array([0.0, 1.0, 0.0, 0.0]), 2) == {1}  # fewer attended frames than k
    assert top_k_frames(np.array([]), 2) == set()


def test_attended_overlap_same_disjoint_partial_and_flat():
    peaked = np.array([0.0, 0.05, 0.8, 0.15, 0.0, 0.0])
    assert attended_overlap(peaked, peaked * 3, 2) == 1.0
    assert attended_overlap(peaked, np.roll(peaked, 3), 2) == 0.0
    assert attended_overlap(peaked, np.array([0.0, 0.0, 0.7, 0.0, 0.3, 0.0]), 2) == 0.5
    assert attended_overlap(peaked, np.full(6, 1 / 6), 2) == pytest.approx(2 / 6)  # flat shares little
    with pytest.raises(ValueError):
        attended_overlap(peaked, peaked[:3], 2)


def test_near_zero_noise_does_not_hide_a_shared_peak():
    """The case rank correlation got wrong: the same peak, unrelated noise on the near-zero frames."""
    rng = np.random.default_rng(3)
    a, b = rng.random(16) * 1e-4, rng.random(16) * 1e-4
    a[9], b[9] = 0.9, 0.95
    a[10], b[10] = 0.05, 0.04
    times = np.arange(16) / 8
    assert attended_overlap(a, b, top_k_count(16)) == 1.0
    assert peak_distance_s(times, a, times, b) == 0.0
    assert js_divergence(a / a.sum(), b / b.sum()) < 0.01


def test_peak_distance_in_seconds_and_flat_is_nan():
    times_a, times_b = np.array([0.0, 0.5, 1.0, 1.5]), np.array([0.0, 1.0, 2.0])
    assert peak_distance_s(times_a, [0.1, 0.7, 0.1, 0.1], times_b, [0.1, 0.1, 0.8]) == pytest.approx(1.5)
    assert np.isnan(peak_distance_s(times_a, np.full(4, 0.2), times_b, [0.1, 0.1, 0.8]))
    assert is_flat(np.full(3, 1 / 17)) and not is_flat(np.array([0.1, 0.2]))


def test_js_divergence_bounds():
    p = np.array([0.5, 0.5, 0.0, 0.0])
    assert js_divergence(p, p) == pytest.approx(0.0, abs=1e-12)
    assert js_divergence(p, np.array([0.0, 0.0, 0.5, 0.5])) == pytest.approx(1.0)
    mid = js_divergence(p, np.full(4, 0.25))
    assert 0.0 < mid < 1.0
    assert js_divergence(p, np.full(4, 0.25)) == pytest.approx(js_divergence(np.full(4, 0.25), p))


def test_resample_onto_common_axis_when_frame_counts_differ():
    times_a, times_b = np.linspace(0, 4, 9), np.linspace(0, 4, 5)
    wa = np.exp(-((times_a - 2) ** 2))
    wb = np.exp(-((times_b - 2) ** 2))
    grid, a, b = align(times_a, wa, times_b, wb)
    assert grid.shape == a.shape == b.shape
    assert a.sum() == pytest.approx(1.0) and b.sum() == pytest.approx(1.0)
    assert attended_overlap(a, b, 1) == 1.0
    assert common_grid(np.array([0, 1.0]), np.array([0.5, 2.0]), 3).tolist() == [0.5, 0.75, 1.0]
    assert resample(np.array([0.0, 1.0]), np.array([1.0, 3.0]), np.array([0.0, 0.5, 1.0])).tolist() == pytest.approx(
        [1 / 6, 2 / 6, 3 / 6])


def test_compare_results_same_and_different():
    times = np.linspace(0, 3, 7)
    peak = np.exp(-((times - 1) ** 2))
    a = make_result(peak, times, [0.7, 0.2, 0.1])
    times_b = np.linspace(0, 3, 4)
    b = make_result(np.exp(-((times_b - 2.5) ** 2)), times_b, [0.2, 0.7, 0.1])
    same = compare_results(a, a)
    assert same.same_top1 and same.attended_overlap == 1.0 and same.js_divergence == pytest.approx(0.0)
    assert same.peak_distance_s == 0.0 and same.top_k == 1
    diff = compare_results(a, b, layer=5, head=9)  # clamped to the models' sizes
    assert not diff.same_top1 and diff.top1_b == "b"
    assert diff.js_divergence > 0.0
    assert diff.peak_distance_s == pytest.approx(1.0)  # peaks at 1.0 s and 2.0 s on their own axes
    assert diff.to_dict()["top5_overlap"] == 1.0 and diff.to_dict()["peak_distance_s"] == pytest.approx(1.0)
    flat = compare_results(a, make_result(np.ones(7), times, [0.7, 0.2, 0.1]))
    assert flat.to_dict()["peak_distance_s"] is None and "spearman" not in flat.to_dict()


def test_prediction_change_rows():
    times = np.linspace(0, 1, 3)
    before = make_result(np.ones(3), times, [0.6, 0.3, 0.1])
    after = make_result(np.ones(3), times, [0.2, 0.5, 0.3])
    rows = prediction_change(before, after, k=2)
    assert rows[0]["class"] == "a" and rows[0]["change"] == pytest.approx(-0.4)
    assert {row["class"] for row in rows} == {"a", "b", "c"}
