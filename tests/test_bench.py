"""``python -m vtn_core bench``: the --quick run as a smoke test of the JSON's shape (never its speeds), bad arguments,
and the pieces the figures rest on (multi-view sampling, crops, generated videos)."""
from __future__ import annotations

import json
import numbers

import numpy as np
import pytest
import torch

from vtn_core.bench.multiview import CLIP_FRAMES, clip_indices, spatial_crops
from vtn_core.cli import main
from vtn_core.config import Preprocessing
from vtn_core.video import preprocess_frames

TOP_KEYS = {"quick", "machine", "sizes", "elapsed_s", "models", "videos", "overhead", "decode", "multiview",
            "long_video", "temporal_scaling", "cache", "gpu", "demo_first", "decoding", "resize"}


def _positive(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and value > 0


@pytest.fixture(scope="module")
def quick_document(tmp_path_factory):
    """One --quick run for the whole module (its videos in a temporary cache folder)."""
    folder = tmp_path_factory.mktemp("bench")
    out = folder / "bench.json"
    assert main(["bench", "--quick", "--json", str(out), "--cache-dir", str(folder / "videos")]) == 0
    return json.loads(out.read_text())


@pytest.mark.slow
def test_quick_demo_first_result(quick_document):
    """The cold first result on the app's default demo clip, in a fresh process (quick: 16 samples)."""
    doc = quick_document["demo_first"]
    assert doc["samples"] == 16 and doc["video_frames"] >= 1500  # a long demo clip (≥ 60 s at 25 fps)
    assert _positive(doc["first_result_s"]) and _positive(doc["load_model_s"])
    assert {"probe", "total"} <= set(doc["timings_s"])


@pytest.mark.slow
def test_quick_json_shape(quick_document):
    doc = quick_document
    assert TOP_KEYS <= set(doc) and doc["quick"] is True
    assert _positive(doc["machine"]["cores"]) and isinstance(doc["machine"]["torch"], str)
    for model in ("bundled", "vit_b"):
        row = doc["overhead"][model]
        assert all(_positive(row[k]) for k in ("overhead_ratio", "pipeline_s", "backbone_only_s",
                                               "overhead_floor_perfect_overlap", "decode_preprocess_only_s"))
        assert len(row["overhead_vs_floor_ratios"]) == row["repeats"] >= 2  # a median, not one noisy pair
        mv = doc["multiview"][model]
        assert all(_positive(mv[k]) for k in ("wall_speedup", "flop_ratio", "single_pass_gflops", "multiview_gflops"))
        assert mv["paper_wall_speedup"] == 5.1 and mv["paper_flop_ratio"] == 1.5
    camera = doc["overhead"]["bundled_camera"]  # the same pipeline on the camera-like encode of the clip
    assert _positive(camera["overhead_vs_floor"]) and len(camera["overhead_vs_floor_ratios"]) == camera["repeats"]
    assert doc["videos"]["camera_clip"]["encoding"] != doc["videos"]["clip"]["encoding"]
    # issue 15: conversion over bare decoding, per input size; dense (cheap and camera encodes) and spread
    for part in ("overhead", "overhead_camera", "overhead_spread"):
        assert doc["decoding"][part]["video"]["encoding"]
        for model in ("bundled", "vit_b"):
            row = doc["decoding"][part][model]
            assert all(_positive(row[k]) for k in ("decode_overhead", "decode_overhead_legacy", "bare_s", "ours_s"))
            assert row["bare_s"] <= min(row["bare_threaded_s"], row["bare_single_thread_s"])  # the faster per repeat
            assert len(row["decode_overhead_ratios"]) == row["repeats"]
            assert row["decoder"].startswith(("one thread in", "FFmpeg's frame threads in all"))
            assert all(_positive(row[k]) for k in ("cores_busy_bare_threaded", "cores_busy_ours"))
            assert row["decode_overhead_cpu_floor"] >= 1.0  # never under bare decoding itself
    scaling = doc["decoding"]["scaling"]
    assert _positive(scaling["decode_scaling"]) and scaling["samples"] > 0
    nonref = doc["decoding"]["nonref"]  # the camera-like encode has B-frames nobody refers to; ultrafast has none
    assert nonref["camera"]["decoded_passing_over"] < nonref["camera"]["decoded_every"]
    assert nonref["cheap"]["decoded_passing_over"] == nonref["cheap"]["decoded_every"]
    assert all(_positive(r["nonref_speedup"]) and len(r["nonref_speedup_ratios"]) == r["repeats"]
               for r in nonref.values())
    for row in doc["decode"].values():
        assert _positive(row["decode_speedup"]) and row["strategy"] in ("seek", "sequential")
        assert row["frames_decoded_ours"] <= row["frames_decoded_every_frame"]
    long = doc["long_video"]
    assert len(long["runs"]) == 2
    assert all(_positive(run[k]) for run in long["runs"] for k in ("peak_rss_mb", "wall_s", "result_mb", "samples"))
    assert isinstance(long["rss_growth_beyond_result_mb"], numbers.Real)
    sizes = doc["temporal_scaling"]["sizes"]
    assert [r["tokens"] for r in sizes] == sorted(r["tokens"] for r in sizes)
    assert all(_positive(r["seconds"]) and _positive(r["ms_per_token"]) for r in sizes)
    assert _positive(doc["cache"]["cache_speedup"]) and doc["cache"]["cache_hits"] == doc["cache"]["repeats"]
    assert doc["gpu"]["available"] is torch.cuda.is_available()
    assert _positive(doc["elapsed_s"]["total"])


def test_bad_arguments_exit_2(capsys, tmp_path):
    assert main(["bench", "--only", "nonsense"]) == 2
    assert capsys.readouterr().err.startswith("error: --only: unknown benchmark nonsense")
    assert main(["bench", "--checkpoint", str(tmp_path / "missing.safetensors")]) == 2
    assert "error: " in capsys.readouterr().err
    assert main(["bench", "--json", str(tmp_path / "no" / "such" / "dir.json")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["bench", "--no-such-flag"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_clip_indices_follow_pyslowfast():
    first, last = clip_indices(300, 0), clip_indices(300, 9)
    assert len(first) == CLIP_FRAMES and first[0] == 0 and last[-1] == 299
    assert np.all(np.diff(first) > 0)
    short = clip_indices(20, 5)  # shorter than one clip: indices stay inside the video
    assert short.min() >= 0 and short.max() <= 19


def test_centre_crop_view_equals_the_pipeline_input():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (2, 72, 128, 3), dtype=np.uint8)
    prep = Preprocessing(resize_short_side=64, crop_size=64)
    views = spatial_crops(frames, prep)  # [3 crops, 3, N, 64, 64]
    assert views.shape == (3, 3, 2, 64, 64)
    centre = views[1].permute(1, 0, 2, 3)
    torch.testing.assert_close(centre, preprocess_frames(frames, prep), atol=1e-6, rtol=0)
    assert not torch.allclose(views[0], views[2])


PEAK_RSS_PROBE = """
import numpy as np
from vtn_core.bench.worker import peak_rss_mb, reset_peak_rss
reset_peak_rss()
before = peak_rss_mb()
block = np.ones(64 * 1024**2 // 8)  # 64 MB touched
grown = peak_rss_mb()
del block
print(before, grown, peak_rss_mb())
"""


def test_peak_rss_reset_is_honest():
    """In a fresh process (a long-lived one may reuse resident freed memory): 64 MB touched raises the peak,
    and the peak stays after the memory is freed."""
    import subprocess
    import sys

    from pathlib import Path

    proc = subprocess.run([sys.executable, "-c", PEAK_RSS_PROBE], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parent.parent)
    assert proc.returncode == 0, proc.stderr
    before, grown, after = map(float, proc.stdout.split())
    assert grown >= before + 50 and after >= before + 50


