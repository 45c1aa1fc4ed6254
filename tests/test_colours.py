"""The one attention colour scale: perceptually even, monotone, colour-blind safe, zero = page background and the
peak darkest; used by every figure, by the mp4 overlay, and drawn identically in the app and in the HTML export."""
from __future__ import annotations

import json

import numpy as np
import pytest

from vtn_core import colours, plots
from vtn_core.colours import ATTENTION_COLORSCALE, PAGE_BACKGROUND, attention_rgb, legend_colorbar, uniform_level
from vtn_core.export import BAND_HEIGHT, attention_panel

# Machado, Oliveira & Fernandes (2009), severity 1.0, applied to linear RGB
CVD = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
}


def hex_rgb(colour: str) -> np.ndarray:
    return np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], float)


def linear(rgb: np.ndarray) -> np.ndarray:
    c = np.asarray(rgb, float) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def cielab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (0-255) → CIELAB (D65): an independent space from the Oklab the scale is built in."""
    xyz = linear(rgb) @ np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]).T
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def scale_colours(samples: int = 41) -> np.ndarray:
    return attention_rgb(np.linspace(0, 1, samples), 1.0).astype(float)


def test_zero_is_the_page_background_and_the_peak_is_darkest_and_most_saturated():
    assert ATTENTION_COLORSCALE[0] == [0.0, PAGE_BACKGROUND]
    assert ATTENTION_COLORSCALE[-1][0] == 1.0
    lab = cielab(scale_colours())
    lightness, chroma = lab[:, 0], np.hypot(lab[:, 1], lab[:, 2])
    assert lightness[0] == pytest.approx(100.0, abs=0.1)
    assert np.all(np.diff(lightness) < 0), "lightness must fall monotonically towards the peak"
    assert lightness[-1] < 30
    assert np.argmax(chroma) == len(chroma) - 1 and np.all(np.diff(chroma) >= -0.5)


def test_steps_are_perceptually_even():
    lab = cielab(np.array([hex_rgb(c) for _, c in ATTENTION_COLORSCALE]))
    steps = np.linalg.norm(np.diff(lab, axis=0), axis=1)
    assert steps.std() / steps.mean() < 0.15, steps


@pytest.mark.parametrize("kind", sorted(CVD))
def test_order_survives_colour_blindness(kind):
    simulated = np.clip(linear(scale_colours()) @ np.array(CVD[kind]).T, 0, 1)
    luminance = simulated @ np.array([0.2126, 0.7152, 0.0722])
    assert np.all(np.diff(luminance) < 0), f"{kind}: the scale's order is lost"


def test_attention_rgb_maps_zero_to_background_and_zmax_to_the_peak():
    rgb = attention_rgb(np.array([0.0, 0.25, 0.5, 2.0]), zmax=0.5)
    assert tuple(rgb[0]) == (255, 255, 255)
    assert tuple(rgb[2]) == tuple(rgb[3]) == tuple(hex_rgb(colours.PEAK_COLOUR).astype(int))
    assert attention_rgb(np.array([0.2, 0.4])).tolist()[1] == hex_rgb(colours.PEAK_COLOUR).tolist()


def test_legend_marks_the_uniform_level():
    assert uniform_level(16) == pytest.approx(1 / 17) and uniform_level(0) == 0.0
    bar = legend_colorbar(0.3, 16)
    assert bar["tickvals"] == [0.0, pytest.approx(1 / 17), 0.3]
    assert "uniform 1/17" in bar["ticktext"]
    close = legend_colorbar(0.9, 16)  # the uniform level near the bottom: "0" is left out, not overprinted
    assert close["tickvals"] == [pytest.approx(1 / 17), 0.9]
    assert len(legend_colorbar(1 / 17, 16)["tickvals"]) == 2  # uniform = peak: one label, not two overlapping


def strip_heatmap(figure_json: dict) -> dict:
    return next(trace for trace in figure_json["data"] if trace.get("type") == "heatmap")


def test_strip_and_grid_use_the_scale_with_a_legend():
    weights = np.array([0.0, 0.01, 0.9, 0.05])
    strip = json.loads(plots.attention_strip(weights, np.arange(4) * 0.5, np.arange(4)).to_json())
    heat = strip_heatmap(strip)
    assert [list(stop) for stop in heat["colorscale"]] == ATTENTION_COLORSCALE
    assert heat["zmin"] == 0 and heat["zmax"] == pytest.approx(0.9) and heat["showscale"] is True
    assert "uniform 1/5" in heat["colorbar"]["ticktext"]
    assert strip["layout"]["plot_bgcolor"] == PAGE_BACKGROUND
    uniform_line = [shape for shape in strip["layout"]["shapes"] if shape.get("line", {}).get("dash") == "dash"]
    assert uniform_line and uniform_line[0]["y0"] == pytest.approx(1 / 5)
    grid = json.loads(plots.head_grid(np.random.default_rng(0).random((2, 3, 4)), np.arange(4.0)).to_json())
    heatmaps = [trace for trace in grid["data"] if trace.get("type") == "heatmap"]
    assert len(heatmaps) == 6 and all([list(s) for s in h["colorscale"]] == ATTENTION_COLORSCALE for h in heatmaps)
    assert sum(bool(h.get("showscale")) for h in heatmaps) == 1


def test_mp4_panel_band_uses_the_same_scale():
    weights = np.array([0.0, 0.0, 1.0, 0.0, 0.0])
    panel = attention_panel(np.linspace(0, 1, 5), weights, 1.0, 201, 90)
    band = panel[90 - 4 - BAND_HEIGHT:90 - 4]
    assert tuple(band[5, 2]) == (255, 255, 255)  # zero weight: background
    assert tuple(band[5, 100]) == tuple(hex_rgb(colours.PEAK_COLOUR).astype(int))  # the peak: darkest
