"""The opening page draws its heatmaps exactly as its HTML export does: the same colour scale (zero = the page
background, the peak darkest), without Streamlit's theme. The export is the file the "Figures (HTML)" button
would download, captured from the app run itself."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from tests.app_assets import build_assets
from tests.test_colours import cielab, hex_rgb
from vtn_core.colours import PAGE_BACKGROUND

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def downloads(tmp_path, monkeypatch):
    """Tiny bundled assets, a private cache, and every deferred download's generator by file name."""
    monkeypatch.setenv("VTN_ASSETS_DIR", str(build_assets(tmp_path / "assets")))
    monkeypatch.setenv("VTN_CACHE_DIR", str(tmp_path / "cache"))
    captured: dict[str, object] = {}
    original = MediaFileManager.add_deferred

    def record(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        captured[file_name] = data_callable
        return original(self, data_callable, mimetype, coordinates, file_name=file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", record)
    return captured


def html_figures(page: str) -> list[dict]:
    """Every ``Plotly.newPlot(id, data, layout, …)`` of an exported page as {"data", "layout"}."""
    decoder, figures, start = json.JSONDecoder(), [], 0

    def value_after_comma(cursor: int) -> tuple[object, int]:
        cursor = page.index(",", cursor) + 1
        while page[cursor].isspace():
            cursor += 1
        return decoder.raw_decode(page, cursor)

    while (at := page.find("Plotly.newPlot(", start)) >= 0:
        data, cursor = value_after_comma(at)
        layout, start = value_after_comma(cursor)
        figures.append({"data": data, "layout": layout})
    return figures


def heatmap_scales(figure: dict) -> list[list]:
    return [[list(stop) for stop in trace["colorscale"]] for trace in figure["data"] if trace.get("type") == "heatmap"]


def test_opening_page_heatmaps_match_the_html_export(downloads):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    assert not at.exception and not at.error
    charts = at.get("plotly_chart")
    assert charts and all(chart.proto.theme == "" for chart in charts), "every chart is drawn with theme=None"
    shown = [json.loads(chart.proto.spec) for chart in charts]
    shown_heatmaps = [fig for fig in shown if heatmap_scales(fig)]
    assert len(shown_heatmaps) >= 2  # the attention strip and the layer × head grid

    export = next(fn for name, fn in downloads.items() if name and name.endswith("_figures.html"))
    exported = [fig for fig in html_figures(export().decode()) if heatmap_scales(fig)]
    assert len(exported) == len(shown_heatmaps)

    for app_figure, html_figure in zip(shown_heatmaps, exported):
        assert heatmap_scales(app_figure) == heatmap_scales(html_figure)
        assert app_figure["layout"]["plot_bgcolor"] == html_figure["layout"]["plot_bgcolor"] == PAGE_BACKGROUND
        assert app_figure["layout"].get("template") == html_figure["layout"].get("template")
        for scale in heatmap_scales(app_figure):
            assert scale[0][1] == PAGE_BACKGROUND  # zero attention = the page
            lightness = cielab([hex_rgb(colour) for _, colour in scale])[:, 0]
            assert lightness.argmin() == len(scale) - 1 and all(lightness[:-1] > lightness[1:])  # the peak darkest
    strip = shown_heatmaps[0]
    heat = next(trace for trace in strip["data"] if trace.get("type") == "heatmap")
    assert heat["zmin"] == 0 and heat["zmax"] == pytest.approx(max(heat["z"][0]))
    assert any(text.startswith("uniform 1/") for text in heat["colorbar"]["ticktext"])
