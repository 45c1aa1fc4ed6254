"""The one attention colour scale, used by every figure (app, HTML export) and the mp4 overlay.

Zero attention is the page background (white) and the peak the darkest, most saturated colour, so the
eye lands on the frames that drove the decision. The scale is a straight line in Oklab (Ottosson 2020)
from white to a deep indigo: lightness falls in equal perceptual steps (perceptually uniform, monotone)
and, because lightness alone carries the order, it reads the same under protan-, deutan- and tritanopia.
"""
from __future__ import annotations

import numpy as np

PAGE_BACKGROUND = "#ffffff"
STOPS = 11
_LIGHTNESS = (1.0, 0.30)  # Oklab L at zero and at the peak
_CHROMA = (0.0, 0.15)  # Oklab chroma at zero and at the peak
_HUE_DEG = 285.0  # indigo: far from the green of the ground-truth event band

# Oklab -> linear sRGB (Ottosson's published matrices)
_LMS_FROM_OKLAB = np.array([[1.0, 0.3963377774, 0.2158037573],
                            [1.0, -0.1055613458, -0.0638541728],
                            [1.0, -0.0894841775, -1.2914855480]])
_RGB_FROM_LMS = np.array([[4.0767416621, -3.3077115913, 0.2309699292],
                          [-1.2684380046, 2.6097574011, -0.3413193965],
                          [-0.0041960863, -0.7034186147, 1.7076147010]])


def _oklab_to_srgb(lab: np.ndarray) -> np.ndarray:
    """Oklab [..., 3] -> gamma-encoded sRGB in [0, 1] (clipped to the gamut)."""
    lms = (np.asarray(lab, float) @ _LMS_FROM_OKLAB.T) ** 3
    linear = np.clip(lms @ _RGB_FROM_LMS.T, 0.0, 1.0)
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)


def scale_rgb(positions: np.ndarray) -> np.ndarray:
    """The scale's colour at ``positions`` in [0, 1] (0 = no attention, 1 = the peak) as uint8 RGB [..., 3]."""
    t = np.clip(np.asarray(positions, float), 0.0, 1.0)[..., None]
    lightness = _LIGHTNESS[0] + (_LIGHTNESS[1] - _LIGHTNESS[0]) * t
    chroma = _CHROMA[0] + (_CHROMA[1] - _CHROMA[0]) * t
    hue = np.deg2rad(_HUE_DEG)
    lab = np.concatenate([lightness, chroma * np.cos(hue), chroma * np.sin(hue)], axis=-1)
    return np.round(_oklab_to_srgb(lab) * 255).astype(np.uint8)


def _hex(rgb: np.ndarray) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(int(c) for c in rgb))


ATTENTION_COLORSCALE: list[list[float | str]] = [[round(float(t), 4), _hex(c)] for t, c in
                                                  zip(np.linspace(0, 1, STOPS), scale_rgb(np.linspace(0, 1, STOPS)))]
"""Plotly colorscale: the scale sampled at ``STOPS`` evenly spaced positions (Plotly interpolates in RGB)."""

PEAK_COLOUR = str(ATTENTION_COLORSCALE[-1][1])
"""The darkest colour: the attention curve's line."""

CURVE_FILL_COLOUR = str(ATTENTION_COLORSCALE[2][1])
"""A light tint of the scale: the area under the attention curve."""


def attention_rgb(weights: np.ndarray, zmax: float | None = None) -> np.ndarray:
    """Weights as uint8 RGB [..., 3] on the attention scale, 0 → background and ``zmax`` (default: the largest
    weight) → the peak colour; interpolated between the Plotly stops exactly as the figures draw them."""
    weights = np.asarray(weights, float)
    top = float(zmax) if zmax else (float(weights.max()) if weights.size else 1.0)
    position = np.clip(weights / max(top, 1e-12), 0.0, 1.0)
    stops = np.array([t for t, _ in ATTENTION_COLORSCALE], float)
    colours = np.array([[int(str(c)[i:i + 2], 16) for i in (1, 3, 5)] for _, c in ATTENTION_COLORSCALE], float)
    channels = [np.interp(position, stops, colours[:, k]) for k in range(3)]
    return np.round(np.stack(channels, axis=-1)).astype(np.uint8)


def uniform_level(num_frames: int) -> float:
    """The weight every frame gets under uniform attention: the [CLS] token attends to itself and ``num_frames``
    frames equally, so each frame gets 1/(F+1) (0 when there are no frames)."""
    return 1.0 / (num_frames + 1) if num_frames > 0 else 0.0


def legend_colorbar(zmax: float, num_frames: int, **overrides: object) -> dict:
    """A Plotly colorbar for the attention scale with the uniform level 1/(F+1) and the top of the scale marked
    (and 0, unless the uniform label would sit on top of it)."""
    uniform = uniform_level(num_frames)
    values: list[float] = []
    labels: list[str] = []
    show_uniform = 0 < uniform < zmax * 0.97
    if not show_uniform or uniform >= zmax * 0.12:
        values.append(0.0)
        labels.append("0 (none)")
    if show_uniform:
        values.append(uniform)
        labels.append(f"uniform 1/{num_frames + 1}")
    values.append(zmax)
    labels.append(f"{zmax:.3g} (peak)")
    colorbar: dict = {"title": {"text": "weight", "side": "top", "font": {"size": 11}}, "tickvals": values,
                      "ticktext": labels, "tickfont": {"size": 10}, "thickness": 12, "outlinewidth": 1,
                      "outlinecolor": "#adb5bd", "ticks": "outside"}
    colorbar.update(overrides)
    return colorbar
