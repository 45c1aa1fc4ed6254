"""End to end in a real Chromium: start ``streamlit run app.py``, see the demo's results without a click,
upload a generated video through the file input, see its results, then open Compare, Ablation and
Checkpoints. Screenshots go to ``test-output/screenshots/``.

Uses Debian's ``/usr/bin/chromium`` (``bash scripts/setup.sh --tests`` installs it); never downloads a browser.
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from tests.app_assets import build_assets
from tests.videos import make_video

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
START_TIMEOUT_S = 60
RESULT_TIMEOUT_MS = 150_000

pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bundled_assets_ready() -> bool:
    """The repository's own demo (models and videos) is present: test the real product then."""
    assets = ROOT / "assets"
    return any((assets / "models").glob("*learned*.safetensors")) and any((assets / "demo_videos").rglob("*.mp4"))


def wait_healthy(port: int, server: subprocess.Popen, log: Path) -> None:
    deadline = time.time() + START_TIMEOUT_S
    while time.time() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"streamlit exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"streamlit did not answer within {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


@contextlib.contextmanager
def app_server(env: dict[str, str], log: Path) -> Iterator[int]:
    """``streamlit run app.py`` on a free localhost port (output to ``log``); yields the port once healthy and
    always stops the server. A server that died during the test fails it with its exit status and its log
    (Python's fault handler writes every thread's stack there on a crash), not only with a page timeout."""
    port = free_port()
    with open(log, "w") as log_handle:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless",
             "true", "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env={**env, "PYTHONFAULTHANDLER": "1"}, stdout=log_handle, stderr=subprocess.STDOUT)
    try:
        wait_healthy(port, server, log)
        yield port
    finally:
        died = server.poll()
        stop(server)
        if died is not None:
            raise AssertionError(f"the streamlit server died during the test (exit status {died}):\n"
                                 f"{log.read_text(errors='replace')[:6000]}")


def wait_idle(page, timeout_ms: int = RESULT_TIMEOUT_MS) -> None:
    """Until Streamlit's script run finished (its running indicator is gone)."""
    page.wait_for_timeout(700)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms)
    page.wait_for_timeout(800)


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the sidebar selectbox labelled ``label``."""
    box = page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").filter(has_text=label).first
    box.click()
    page.get_by_role("option", name=option).first.click()


def test_end_to_end_in_chromium(tmp_path):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `bash scripts/setup.sh --tests` (Debian's chromium); "
                    "the browser test never downloads a browser")
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, VTN_CACHE_DIR=str(tmp_path / "cache"), PYTHONUNBUFFERED="1")
    if not bundled_assets_ready():
        env["VTN_ASSETS_DIR"] = str(build_assets(tmp_path / "assets"))
    clip = make_video(tmp_path / "e2e_upload.mp4", 36, fps=12.0, height=96, width=128)
    with app_server(env, tmp_path / "server.log") as port:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1440, "height": 2400})
                page.set_default_timeout(60_000)
                started = time.time()
                page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)
                # the demo's results, no click needed: prediction, attention strip with thumbnails
                page.get_by_text("Prediction:").first.wait_for(timeout=RESULT_TIMEOUT_MS)
                page.locator(".js-plotly-plot").nth(1).wait_for(timeout=RESULT_TIMEOUT_MS)
                wait_idle(page)
                first_results_s = time.time() - started
                assert page.get_by_text("Where the [CLS] token looked").count() == 1
                assert page.locator(".js-plotly-plot image").count() > 0, "thumbnails missing from the strip"
                assert page.locator("[data-testid='stException']").count() == 0
                page.screenshot(path=str(SCREENSHOTS / "01_explore_demo.png"))

                # upload a generated video through the file input
                choose(page, "Video", "Upload a video…")
                page.locator("[data-testid='stSidebar'] input[type='file']").wait_for(state="attached")
                page.set_input_files("[data-testid='stSidebar'] input[type='file']", str(clip))
                page.get_by_text("e2e_upload.mp4").nth(1).wait_for(timeout=RESULT_TIMEOUT_MS)
                page.get_by_text("Prediction:").first.wait_for(timeout=RESULT_TIMEOUT_MS)
                wait_idle(page)
                assert page.locator("[data-testid='stException']").count() == 0
                assert page.locator("[data-testid='stAlertContentError']").count() == 0
                assert page.locator(".js-plotly-plot").count() >= 2
                page.screenshot(path=str(SCREENSHOTS / "02_explore_uploaded.png"))

                # the other pages, one click each
                for name, heading, shot in (("Compare", "Compare two models", "03_compare.png"),
                                            ("Ablation", "Ablation: learned vs uniform attention", "04_ablation.png"),
                                            ("Checkpoints", "Checkpoints", "05_checkpoints.png")):
                    page.locator("[data-testid='stSidebarNav']").get_by_text(name, exact=True).click()
                    page.get_by_role("heading", name=heading).first.wait_for(timeout=RESULT_TIMEOUT_MS)
                    page.locator(".js-plotly-plot").first.wait_for(timeout=RESULT_TIMEOUT_MS)
                    wait_idle(page)
                    assert page.locator("[data-testid='stException']").count() == 0, name
                    if name == "Compare":  # agreement figures, on the video uploaded on Explore
                        assert page.get_by_text("Same top-1").count() >= 1
                        assert page.get_by_text("e2e_upload.mp4").count() >= 1
                    page.screenshot(path=str(SCREENSHOTS / shot))
                print(f"first results on screen after {first_results_s:.1f} s")
            finally:
                browser.close()
