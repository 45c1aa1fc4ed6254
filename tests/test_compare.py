"""Agreement metrics between two models' outputs (vtn_core.compare)."""
from __future__ import annotations

import numpy as np
import pytest

from vtn_core.compare import align, common_grid, compare_results, js_divergence, prediction_change, rankdata, resample, spearman
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


def test_rankdata_averages_ties():
    assert rankdata(np.array([3.0, 1.0, 3.0, 2.0])).tolist() == [3.5, 1.0, 3.5, 2.0]


def test_spearman_perfect_reversed_and_constant():
    a = np.array([0.1, 0.4, 0.2, 0.3])
    assert spearman(a, a * 2) == pytest.approx(1.0)
    assert spearman(a, -a) == pytest.approx(-1.0)
    assert np.isnan(spearman(a, np.full(4, 0.25)))
    with pytest.raises(ValueError):
        spearman(a, a[:3])


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
    assert spearman(a, b) > 0.9
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
    assert same.same_top1 and same.spearman == pytest.approx(1.0) and same.js_divergence == pytest.approx(0.0)
    diff = compare_results(a, b, layer=5, head=9)  # clamped to the models' sizes
    assert not diff.same_top1 and diff.top1_b == "b"
    assert diff.js_divergence > 0.0
    assert diff.to_dict()["top5_overlap"] == 1.0


def test_prediction_change_rows():
    times = np.linspace(0, 1, 3)
    before = make_result(np.ones(3), times, [0.6, 0.3, 0.1])
    after = make_result(np.ones(3), times, [0.2, 0.5, 0.3])
    rows = prediction_change(before, after, k=2)
    assert rows[0]["class"] == "a" and rows[0]["change"] == pytest.approx(-0.4)
    assert {row["class"] for row in rows} == {"a", "b", "c"}
