"""Exports: standalone offline HTML of figures and the mp4 with the attention curve burned in."""
from __future__ import annotations

import numpy as np
import pytest

from tests.videos import make_video
from vtn_core import plots
from vtn_core.errors import VideoError
from vtn_core.export import attention_panel, attention_video, figures_html
from vtn_core.video import probe_video


def test_figures_html_is_standalone(tmp_path):
    times = np.linspace(0, 2, 6)
    weights = np.array([0.1, 0.1, 0.4, 0.2, 0.1, 0.1])
    thumbs = np.zeros((6, 12, 16, 3), np.uint8)
    figures = {"Strip": plots.attention_strip(weights, times, np.arange(6), thumbs, event_times=(0.5, 1.0)),
               "Top": plots.top_k_bars(["a", "b"], [0.7, 0.3])}
    page = figures_html(figures, title="t <x>")
    assert page.startswith("<!DOCTYPE html>")
    assert 'src="http' not in page and "src='http" not in page  # plotly.js inlined: works offline
    assert page.count("Plotly.newPlot") == 2
    assert "t &lt;x&gt;" in page
    assert len(page) > 1_000_000  # the inlined library


def test_attention_panel_shape():
    panel = attention_panel(np.linspace(0, 1, 5), np.array([0, 1, 2, 1, 0.0]), 1.0, 200, 60, event_times=(0.2, 0.4))
    assert panel.shape == (60, 200, 3) and panel.dtype == np.uint8


def test_attention_video_renders_small_mp4(tmp_path):
    source = make_video(tmp_path / "clip.mp4", 30, fps=15.0, height=48, width=64)
    times = np.linspace(0, 1.9, 8)
    out = attention_video(source, times, np.linspace(1, 2, 8), tmp_path / "out.mp4", height=120, panel_height=40,
                          min_width=160, event_times=(0.5, 1.0))
    info = probe_video(out)
    assert info.codec == "h264"
    assert (info.width, info.height) == (160, 160)
    assert info.duration_s == pytest.approx(2.0, abs=0.2)


def test_attention_video_bad_source(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    with pytest.raises(VideoError):
        attention_video(bad, np.zeros(1), np.ones(1), tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()
