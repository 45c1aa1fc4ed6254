"""Screenshots of every page of the app in headless Chromium (Debian's /usr/bin/chromium via Playwright).

    python scripts/screenshots.py --prefix after [--present] [--out test-output/screenshots]

Starts ``streamlit run app.py`` on a free port, waits for each page's results, and writes
``PREFIX_01_explore.png`` … ``PREFIX_04_checkpoints.png`` (and the Explore page's HTML export, opened in
Chromium, as ``PREFIX_05_explore_html_export.png``). Used to look at colour and layout changes.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.test_browser import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    RESULT_TIMEOUT_MS,
    app_server,
    free_port,
    stop,
    wait_healthy,
    wait_idle,
)

PAGES = (("Compare", "Compare two models", "02_compare"),
         ("Ablation", "Ablation: learned vs uniform attention", "03_ablation"),
         ("Checkpoints", "Checkpoints", "04_checkpoints"))


@contextlib.contextmanager
def present_server(env: dict[str, str], log: Path) -> Iterator[int]:
    """``python -m vtn_core app --present`` (what ``vtn-explorer app --present`` runs) on a free port."""
    port = free_port()
    with open(log, "w") as handle:
        server = subprocess.Popen([sys.executable, "-m", "vtn_core", "app", "--present", "--port", str(port),
                                   "--address", "127.0.0.1"], cwd=ROOT, env=env, stdout=handle,
                                  stderr=subprocess.STDOUT)
    try:
        wait_healthy(port, server, log)
        yield port
    finally:
        stop(server)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", default="after")
    parser.add_argument("--out", type=Path, default=ROOT / "test-output" / "screenshots")
    parser.add_argument("--present", action="store_true", help="start the app in presentation mode")
    parser.add_argument("--timeout-s", type=float, default=RESULT_TIMEOUT_MS / 1000,
                        help="wait this long for each page's results (a loaded machine needs more)")
    args = parser.parse_args(argv)
    import tests.test_browser as browser_tests

    browser_tests.START_TIMEOUT_S = max(browser_tests.START_TIMEOUT_S, int(args.timeout_s))  # slow start under load
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="vtn-shots-"))
    env = dict(os.environ, VTN_CACHE_DIR=os.environ.get("VTN_CACHE_DIR", str(work / "cache")), PYTHONUNBUFFERED="1")
    server = present_server if args.present else app_server
    with server(env, work / "server.log") as port, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 2600}, accept_downloads=True)
            page.set_default_timeout(args.timeout_s * 1000)
            page.goto(f"http://127.0.0.1:{port}/")
            page.get_by_text("Prediction:").first.wait_for()
            page.locator(".js-plotly-plot").nth(1).wait_for()
            wait_idle(page, int(args.timeout_s * 1000))
            page.screenshot(path=str(args.out / f"{args.prefix}_01_explore.png"), full_page=True)
            with page.expect_download() as download:
                page.get_by_text("Figures (HTML)").first.click()
            exported = work / "export.html"
            download.value.save_as(exported)
            viewer = browser.new_page(viewport={"width": 1200, "height": 1600})
            viewer.set_default_timeout(args.timeout_s * 1000)
            viewer.goto(exported.as_uri(), timeout=args.timeout_s * 1000)
            viewer.locator(".js-plotly-plot").nth(1).wait_for()
            viewer.wait_for_timeout(1500)
            viewer.screenshot(path=str(args.out / f"{args.prefix}_05_explore_html_export.png"), full_page=True)
            viewer.close()
            if not args.present:
                for name, heading, stem in PAGES:
                    page.locator("[data-testid='stSidebarNav']").get_by_text(name, exact=True).click()
                    page.get_by_role("heading", name=heading).first.wait_for()
                    page.locator(".js-plotly-plot").first.wait_for()
                    wait_idle(page, int(args.timeout_s * 1000))
                    page.screenshot(path=str(args.out / f"{args.prefix}_{stem}.png"), full_page=True)
        finally:
            browser.close()
    print(f"screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
