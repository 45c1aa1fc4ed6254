"""The Corpus page in a real Chromium: a generated run renders, a filter applies, and a row opens in Explore
with the run's checkpoint (the session-state hand-over). Uses Debian's /usr/bin/chromium, never downloads one."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.app_assets import build_assets
from tests.batch_data import run_with_videos
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, app_server, wait_idle

pytestmark = pytest.mark.browser
RESULT_TIMEOUT_MS = 400_000  # the first render imports torch, timm and DuckDB: minutes on a loaded 2-core box


def corpus_runs(root: Path, checkpoint: Path, videos: Path) -> Path:
    """Two runs of 10 videos each whose rows point at real generated videos and a real checkpoint."""
    videos.mkdir(parents=True, exist_ok=True)
    for name, seed in (("learned", 1), ("other", 2)):
        run_with_videos(root / name, 10, videos, seed=seed, flip=0.3, checkpoint=str(checkpoint), frames=30,
                        height=96, width=128)
    return root


def test_corpus_page_opens_a_row_in_explore(tmp_path):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `bash scripts/setup.sh --tests` (Debian's chromium)")
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assets = build_assets(tmp_path / "assets")
    checkpoint = next((assets / "models").glob("*learned*.safetensors"))
    runs = corpus_runs(tmp_path / "runs", checkpoint, tmp_path / "videos")
    env = dict(os.environ, VTN_CACHE_DIR=str(tmp_path / "cache"), VTN_ASSETS_DIR=str(assets),
               VTN_RUNS_DIR=str(runs), PYTHONUNBUFFERED="1")
    with app_server(env, tmp_path / "server.log") as port, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 2200})
            page.set_default_timeout(60_000)
            page.goto(f"http://127.0.0.1:{port}/Corpus", timeout=60_000)
            page.get_by_text("Mean confidence").first.wait_for(timeout=RESULT_TIMEOUT_MS)
            page.locator("[data-testid='stDataFrame']").first.wait_for(timeout=RESULT_TIMEOUT_MS)
            page.locator(".js-plotly-plot").first.wait_for(timeout=RESULT_TIMEOUT_MS)
            wait_idle(page, RESULT_TIMEOUT_MS)
            assert page.locator("[data-testid='stException']").count() == 0
            assert page.get_by_text("10 videos match").count() == 1
            page.screenshot(path=str(SCREENSHOTS / "corpus_01_run.png"), full_page=True)

            outcome = page.locator("[data-testid='stSelectbox']").filter(has_text="Outcome").first
            outcome.click()
            page.get_by_role("option", name="Failed").first.click()
            page.get_by_text("1 videos match").first.wait_for(timeout=RESULT_TIMEOUT_MS)
            wait_idle(page, RESULT_TIMEOUT_MS)
            outcome.click()
            page.get_by_role("option", name="All").first.click()
            page.get_by_text("10 videos match").first.wait_for(timeout=RESULT_TIMEOUT_MS)
            wait_idle(page, RESULT_TIMEOUT_MS)

            row = page.locator("[data-testid='stSelectbox']").filter(has_text="Row to open").first
            row.click()
            page.get_by_role("option", name="row 3 ·").first.click()
            wait_idle(page, RESULT_TIMEOUT_MS)
            page.get_by_role("button", name="Open in Explore").click()
            page.get_by_text("Opened from Corpus").first.wait_for(timeout=RESULT_TIMEOUT_MS)
            page.get_by_text("Prediction:").first.wait_for(timeout=RESULT_TIMEOUT_MS)
            wait_idle(page, RESULT_TIMEOUT_MS)
            assert page.get_by_text(re.compile(r"run (learned|other), row 3: ")).count() >= 1
            assert page.locator("[data-testid='stException']").count() == 0
            assert page.locator("[data-testid='stAlertContentError']").count() == 0
            page.screenshot(path=str(SCREENSHOTS / "corpus_02_explore.png"))
        finally:
            browser.close()
