"""Many users at once, and hostile upload names.

* Four browser sessions on ONE real ``streamlit run app.py`` server, each on a different video and model
  (three bundled demo clips, one uploaded file), all started before any is waited for: each page shows its
  own prediction and its own "<checkpoint> (<mode> attention) on <video>" line, never another session's.
* The shared model cache (``ui.state.load_model``) under threads: one load per checkpoint and mode, one
  object for everyone; concurrent ``run_video`` calls with one shared model equal sequential runs.
* Upload names such as ``../../etc/passwd.mp4`` never reach the file system: files get generated names in
  the session's private folder and are removed after errors and when the session ends.

Screenshots: ``test-output/screenshots/concurrency_*.png``.
"""
from __future__ import annotations

import io
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import vtn_core
from tests.app_assets import build_assets, build_models
from tests.test_browser import (CHROMIUM, CHROMIUM_ARGS, ROOT, SCREENSHOTS, app_server, bundled_assets_ready, choose,
                                wait_idle)
from tests.videos import make_video
from ui import catalog, state, uploads
from vtn_core.cache import ResultCache
from vtn_core.inference import run_video
from vtn_core.video import probe_video

RESULT_TIMEOUT_MS = 360_000  # four 250-sample long-clip analyses with their explanations share 2 cores
GENERATED = re.compile(r"^video-[0-9a-f]{32}\.mp4$")


# ---- helpers ------------------------------------------------------------------------------------------------------
def _assets(tmp_path: Path) -> Path:
    """The repository's assets when bundled, else a tiny stand-in built under ``tmp_path``."""
    if bundled_assets_ready():
        return ROOT / "assets"
    return build_assets(tmp_path / "assets")


def _expected(checkpoint: Path, video: Path, frames: int | None = None) -> tuple[str, str, int]:
    """(top-1 label, attention mode, frame count of the video) for ``checkpoint`` on ``video`` sampled at
    ``frames`` (default: the app's default, the checkpoint's frame count but at most the video's)."""
    model = vtn_core.load_checkpoint(checkpoint, device="cpu")
    info = probe_video(video)
    frames = frames or min(model.config.eval_num_frames, max(2, info.num_frames))
    result = run_video(model, video, num_frames=frames, cache=False)
    return result.top_k(1)[0][0], model.attention_mode, info.num_frames


def _plain(text: str) -> str:
    return " ".join(text.split())


# ---- four sessions on one server ----------------------------------------------------------------------------------
@pytest.mark.browser
def test_four_sessions_on_one_server_each_see_their_own_results(tmp_path):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `bash scripts/setup.sh --tests` (Debian's chromium)")
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assets = _assets(tmp_path)
    saved = os.environ.get(catalog.ASSETS_ENV)
    os.environ[catalog.ASSETS_ENV] = str(assets)
    try:
        checkpoints = catalog.bundled_checkpoints()
        demos = catalog.demo_videos()
    finally:
        if saved is None:
            os.environ.pop(catalog.ASSETS_ENV, None)
        else:
            os.environ[catalog.ASSETS_ENV] = saved
    assert len(checkpoints) >= 2 and len(demos) >= 2
    # the default view is demos[0] with checkpoints[0]: every session moves away from it
    picks = [d for d in demos[1:]][:3] or demos[:1]
    upload_name = "..;rm -rf ~;client 4.mp4"  # a hostile-looking name; a file name cannot hold "/" in a browser
    upload_file = make_video(tmp_path / "client4_source.mp4", 40, fps=12.0, height=96, width=128)
    clients = []
    for k in range(4):
        checkpoint = checkpoints[(k + 1) % len(checkpoints)]
        if k < 3 and k < len(picks):
            clients.append({"checkpoint": checkpoint, "video": picks[k].path, "name": picks[k].name, "upload": False})
        else:
            clients.append({"checkpoint": checkpoint, "video": upload_file, "name": upload_name, "upload": True})
    assert len({c["checkpoint"] for c in clients}) >= 2 and len({c["name"] for c in clients}) == 4
    for client in clients:
        _, client["mode"], client["total"] = _expected(client["checkpoint"], client["video"])
        client["line"] = f"{client['checkpoint'].name} ({client['mode']} attention) on {client['name']}"

    session_root = tmp_path / "tmp"  # the server's tempfile.gettempdir(): its session folders land here
    session_root.mkdir()
    env = dict(os.environ, VTN_CACHE_DIR=str(tmp_path / "cache"), VTN_ASSETS_DIR=str(assets), TMPDIR=str(session_root),
               PYTHONUNBUFFERED="1")
    with app_server(env, tmp_path / "server.log") as port:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                pages = []
                for _ in clients:  # four sessions (one per browser context: separate cookies and websockets)
                    context = browser.new_context(viewport={"width": 1280, "height": 1800})
                    page = context.new_page()
                    page.set_default_timeout(60_000)
                    page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)
                    pages.append(page)
                for page in pages:  # each session's default view first: the sidebar stops changing shape
                    page.get_by_text("Prediction:").first.wait_for(timeout=RESULT_TIMEOUT_MS)
                    wait_idle(page, RESULT_TIMEOUT_MS)
                # Click only into idle pages (a rerun redrawing the sidebar under an open dropdown makes the
                # click land on another widget), but never wait for one session before acting in the next:
                # each phase starts all four script runs, then waits for them, so the server runs them together.
                for page, client in zip(pages, clients):
                    choose(page, "Checkpoint", client["checkpoint"].name)
                for page in pages:
                    wait_idle(page, RESULT_TIMEOUT_MS)
                started = time.time()
                for page, client in zip(pages, clients):
                    if client["upload"]:
                        choose(page, "Video", "Upload a video…")
                        page.locator("[data-testid='stSidebar'] input[type='file']").wait_for(state="attached")
                        page.set_input_files("[data-testid='stSidebar'] input[type='file']",
                                             files=[{"name": upload_name, "mimeType": "video/mp4",
                                                     "buffer": upload_file.read_bytes()}])
                    else:
                        choose(page, "Video", client["name"])
                for k, (page, client) in enumerate(zip(pages, clients)):
                    page.wait_for_function(
                        "line => document.body.innerText.replace(/\\s+/g, ' ').includes(line)",
                        arg=client["line"], timeout=RESULT_TIMEOUT_MS)
                    page.get_by_text("Prediction:").first.wait_for(timeout=RESULT_TIMEOUT_MS)
                    client["seconds"] = time.time() - started
                for k, (page, client) in enumerate(zip(pages, clients)):
                    wait_idle(page, RESULT_TIMEOUT_MS)
                    page.screenshot(path=str(SCREENSHOTS / f"concurrency_{k + 1}_{Path(client['video']).stem}.png"),
                                    full_page=False)
                    main = _plain(page.locator("[data-testid='stMain']").first.inner_text())
                    assert page.locator("[data-testid='stException']").count() == 0, k
                    assert page.locator("[data-testid='stAlertContentError']").count() == 0, k
                    # the player's caption says how this session sampled ITS video ("16 frames of 84 · …")
                    sampled = re.search(r"(\d+) frames of (\d+)", main)
                    assert sampled and int(sampled.group(2)) == client["total"], (k, main[:600])
                    client["label"] = _expected(client["checkpoint"], client["video"], int(sampled.group(1)))[0]
                    heading = _plain(page.get_by_text("Prediction:").first.inner_text())
                    assert heading.startswith(f"Prediction: {client['label']} ·"), (k, heading, client)
                    assert page.get_by_text("Prediction:").count() == 1, k
                    assert client["line"] in main, (k, client["line"], main[:600])
                    for j, other in enumerate(clients):
                        if j != k:  # nothing of another session: its video's name, its model/video line
                            assert other["name"] not in main, (k, other["name"])
                            assert other["line"] not in main, (k, other["line"])
                # the uploaded file lives only under a generated name in that session's private folder
                stored = [p for p in session_root.rglob("*") if p.is_file()]
                uploaded = [p for p in stored if p.parent.name.startswith("session-")]
                assert len(uploaded) == 1 and GENERATED.match(uploaded[0].name), [str(p) for p in stored]
                assert not [p for p in stored if "rm -rf" in str(p) or "client 4" in str(p)]
                print("results on screen after", [round(c["seconds"], 1) for c in clients], "s")
            finally:
                browser.close()
    # a server stopped normally removes every session's folder (uploads included) on its way out
    assert not [str(p) for p in session_root.rglob("*") if p.is_file()]


def test_changing_the_video_keeps_the_default_sampling(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("VTN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv(catalog.ASSETS_ENV, str(_assets(tmp_path)))
    demos = catalog.demo_videos()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    before = at.slider(key="explore_frames").value
    at.sidebar.selectbox(key="explore_video").set_value(demos[1].name).run()
    assert not at.exception
    assert at.slider(key="explore_frames").value == min(before, demos_frames(demos[1].path))
    at.slider(key="explore_frames").set_value(10).run()  # the user's own choice survives a change of video too
    at.sidebar.selectbox(key="explore_video").set_value(demos[2].name).run()
    assert not at.exception and at.slider(key="explore_frames").value == 10


def demos_frames(path: Path) -> int:
    return probe_video(path).num_frames


# ---- the shared model cache under threads ------------------------------------------------------------------------
@pytest.fixture()
def model_files(tmp_path):
    """Two checkpoints (learned, uniform) and four distinct videos."""
    if bundled_assets_ready():
        folder = ROOT / "assets" / "models"
        learned = sorted(folder.glob("*learned*.safetensors"))[0]
        videos = sorted((ROOT / "assets" / "demo_videos").rglob("*.mp4"))[:4]
    else:
        learned, _ = build_models(tmp_path / "models")
        videos = []
    while len(videos) < 4:
        k = len(videos)
        videos.append(make_video(tmp_path / f"clip_{k}.mp4", 24 + 8 * k, fps=12.0, height=64, width=96))
    return learned, videos


def _counting_loader(monkeypatch, delay_s: float = 0.3):
    """Replace ``vtn_core.load_checkpoint`` (what ``ui.state`` calls) with a slow counting wrapper."""
    real = vtn_core.load_checkpoint
    calls: list[str] = []
    lock = threading.Lock()

    def slow(path, *args, **kwargs):
        with lock:
            calls.append(str(path))
        time.sleep(delay_s)  # widen the window in which a second thread could start a second load
        return real(path, *args, **kwargs)

    monkeypatch.setattr(vtn_core, "load_checkpoint", slow)
    return calls


def test_threads_share_one_loaded_model(model_files, monkeypatch):
    learned, _ = model_files
    state._cached_model.clear()
    calls = _counting_loader(monkeypatch)
    threads = 8
    barrier = threading.Barrier(threads)

    def load(attention):
        barrier.wait(timeout=30)
        return state.load_model(learned, attention, device="cpu")

    try:
        with ThreadPoolExecutor(threads) as pool:
            natives = list(pool.map(load, [None] * threads, timeout=120))
        assert len(calls) == 1, calls  # loaded once, although eight threads asked at the same moment
        assert all(m is natives[0] for m in natives)
        assert natives[0].attention_mode == "learned"

        barrier.reset()
        with ThreadPoolExecutor(threads) as pool:  # half ask for the what-if mode, half for the native one
            mixed = list(pool.map(load, ["uniform", None] * (threads // 2), timeout=120))
        uniforms = [m for m in mixed[0::2]]
        assert all(m is uniforms[0] for m in uniforms) and uniforms[0] is not natives[0]
        assert uniforms[0].attention_mode == "uniform"
        assert all(m is natives[0] for m in mixed[1::2])
        assert natives[0].attention_mode == "learned"  # the shared native model was not switched
        assert len(calls) == 2, calls  # one more load: the uniform entry's own object
    finally:
        state._cached_model.clear()


def test_concurrent_runs_on_one_shared_model_equal_sequential_runs(model_files):
    learned, videos = model_files
    model = vtn_core.load_checkpoint(learned, device="cpu")
    sequential = [run_video(model, v, num_frames=12, cache=False) for v in videos]
    jobs = videos * 2  # every video twice, eight runs at once on four workers
    with ThreadPoolExecutor(4) as pool:
        concurrent = list(pool.map(lambda v: run_video(model, v, num_frames=12, cache=False), jobs, timeout=300))
    for video, result in zip(jobs, concurrent):
        expected = sequential[videos.index(video)]
        assert result.video.get("path") == expected.video.get("path")
        np.testing.assert_allclose(result.cls_attention, expected.cls_attention, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(result.probabilities, expected.probabilities, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(result.frame_indices, expected.frame_indices)
    # the videos really differ, so equal results are not trivially equal
    assert any(not np.allclose(sequential[0].cls_attention, r.cls_attention) for r in sequential[1:])


def test_concurrent_runs_share_one_disk_cache_safely(model_files, tmp_path):
    learned, videos = model_files
    model = vtn_core.load_checkpoint(learned, device="cpu")
    cache = ResultCache(tmp_path / "cache")
    jobs = [v for v in videos[:2] for _ in range(3)]  # three writers per entry, at the same time
    with ThreadPoolExecutor(4) as pool:
        written = list(pool.map(lambda v: run_video(model, v, num_frames=10, cache=cache), jobs, timeout=300))
    for video, result in zip(jobs, written):
        again = run_video(model, video, num_frames=10, cache=cache)  # read back from the cache
        assert again.from_cache
        np.testing.assert_allclose(again.cls_attention, result.cls_attention, rtol=1e-5, atol=1e-6)
        assert again.video.get("path") == result.video.get("path")
    leftovers = [p.name for p in (tmp_path / "cache").rglob("*") if p.is_file() and ".tmp" in p.name]
    assert not leftovers, leftovers


# ---- hostile upload names ---------------------------------------------------------------------------------------
HOSTILE_NAMES = ["../../etc/passwd.mp4", "a/b\\c;rm -rf.mp4", "..\\..\\Windows\\system32\\evil.mp4",
                 "/etc/cron.d/job.mp4", "$(touch pwned).mp4", "`id`.mp4", "new\nline\x00nul.mp4",
                 "~/.bashrc.mp4", "x" * 300 + ".mp4", "..mp4", " .mp4"]


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_upload_names_never_reach_the_file_system(tmp_path, name):
    session = tmp_path / "deep" / "er" / "session"
    before = set(_tree(tmp_path))
    stored = uploads.store_upload(io.BytesIO(b"payload"), name, session, "video", uploads.VIDEO_TYPES, 1024)
    assert stored.path.parent == session and GENERATED.match(stored.path.name), stored.path
    assert stored.path.read_bytes() == b"payload"
    added = set(_tree(tmp_path)) - before
    assert added == {"deep", "deep/er", "deep/er/session", f"deep/er/session/{stored.path.name}"}, added
    label = stored.display_name
    assert "/" not in label and "\\" not in label and "\n" not in label and "\x00" not in label
    assert 0 < len(label) <= 60
    uploads.discard(stored.path)
    assert not list(session.iterdir())


@pytest.mark.parametrize("name", ["../../etc/passwd.mp4", "a/b\\c;rm -rf.mp4"])
def test_hostile_names_are_removed_after_validation_errors(tmp_path, name):
    session = tmp_path / "session"
    with pytest.raises(vtn_core.VTNError) as info:  # not a video: refused, message names the user's base name
        uploads.accept_video(b"definitely not a video" * 64, name, session)
    assert uploads.display_name(name) in str(info.value) and "video-" not in str(info.value)
    assert not list(session.iterdir())

    def crash(path):  # an unexpected error inside validation: still removed, error not swallowed
        raise RuntimeError("validator crashed")

    with pytest.raises(RuntimeError):
        uploads.accept(b"data", name, session, "video", uploads.VIDEO_TYPES, 1024, crash)
    assert not list(session.iterdir())
    assert _tree(tmp_path) == ["session"]


def test_upload_interrupted_mid_copy_leaves_nothing(tmp_path):
    class Broken(io.RawIOBase):
        """A stream that fails after the first block (a dropped connection)."""

        def __init__(self):
            self.reads = 0

        def readable(self):
            return True

        def read(self, size=-1):
            self.reads += 1
            if self.reads > 1:
                raise OSError("connection reset")
            return b"x" * 1000

    with pytest.raises(OSError):
        uploads.store_upload(Broken(), "../../etc/passwd.mp4", tmp_path / "s", "video", uploads.VIDEO_TYPES, 10**6)
    assert not list((tmp_path / "s").iterdir())


def test_session_folder_is_private_and_removed_when_the_session_ends(tmp_path):
    root = tmp_path / "sessions"
    first, second = state.SessionFiles(root), state.SessionFiles(root)
    assert first.directory != second.directory and first.directory.parent == root
    assert (first.directory.stat().st_mode & 0o077) == 0  # mkdtemp: only the server's user can read it
    stored = uploads.accept_video(make_video(tmp_path / "src.mp4", 12, fps=12.0, height=48, width=64).read_bytes(),
                                  "../../etc/passwd.mp4", first.directory)
    assert stored.path.is_file() and stored.path.parent == first.directory
    first.cleanup()  # explicit end
    assert not first.directory.exists() and second.directory.is_dir()
    folder = second.directory
    del second  # the session state was discarded: the finalizer removes the folder
    import gc
    gc.collect()
    assert not folder.exists()


def test_stale_session_folders_of_a_killed_process_are_swept(tmp_path):
    root = tmp_path / "sessions"
    old, fresh = root / "session-old", root / "session-fresh"
    for folder in (old, fresh):
        folder.mkdir(parents=True)
        (folder / "video-0.mp4").write_bytes(b"x")
    long_ago = time.time() - state.STALE_AFTER_S - 60
    os.utime(old, (long_ago, long_ago))
    state.sweep_stale(root)
    assert not old.exists() and fresh.is_dir()
