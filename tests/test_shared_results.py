"""``ui.shared.SharedResults``: work done once per process for every session asking the same question."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ui import shared
from ui.shared import SharedResults

ROOT = Path(__file__).resolve().parents[1]


def test_threads_asking_at_once_share_one_computation():
    results: SharedResults = SharedResults(max_entries=4)
    calls: list[int] = []
    barrier = threading.Barrier(8)

    def compute():
        calls.append(1)
        time.sleep(0.4)  # long enough that every other thread arrives while it runs
        return {"value": len(calls)}

    def ask(_):
        barrier.wait(timeout=30)
        return results.get_or_compute("clip", compute)

    with ThreadPoolExecutor(8) as pool:
        values = list(pool.map(ask, range(8), timeout=60))
    assert len(calls) == 1 and all(v is values[0] for v in values)
    assert results.get("clip") is values[0] and results.get("other") is None
    assert results.get_or_compute("other", lambda: "second") == "second" and len(calls) == 1


def test_a_failed_computation_is_computed_again_by_the_next_caller():
    results: SharedResults = SharedResults(max_entries=4)
    started, attempts = threading.Event(), []

    def failing():
        attempts.append("first")
        started.set()
        time.sleep(0.3)
        raise RuntimeError("the script run was stopped")

    def waiter():
        started.wait(timeout=30)
        return results.get_or_compute("clip", lambda: attempts.append("second") or "done")

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(results.get_or_compute, "clip", failing)
        second = pool.submit(waiter)
        with pytest.raises(RuntimeError, match="stopped"):
            first.result(timeout=30)
        assert second.result(timeout=30) == "done"
    assert attempts == ["first", "second"] and results.get("clip") == "done"


def test_a_waiter_is_told_and_can_leave_without_disturbing_the_computation(monkeypatch):
    monkeypatch.setattr(shared, "WAIT_STEP_S", 0.05)
    results: SharedResults = SharedResults(max_entries=4)
    started, release = threading.Event(), threading.Event()

    def slow():
        started.set()
        release.wait(timeout=30)
        return "value"

    told: list[int] = []

    def impatient():  # what a Streamlit rerun does to a waiting session: an exception from its next st call
        told.append(1)
        if len(told) == 3:
            raise KeyboardInterrupt("rerun")

    with ThreadPoolExecutor(2) as pool:
        computing = pool.submit(results.get_or_compute, "clip", slow)
        started.wait(timeout=30)
        with pytest.raises(KeyboardInterrupt):
            results.get_or_compute("clip", lambda: "never", impatient)
        release.set()
        assert computing.result(timeout=30) == "value"
    assert len(told) == 3 and results.get("clip") == "value"


def test_least_recently_used_values_are_dropped_beyond_the_cap():
    results: SharedResults = SharedResults(max_entries=2)
    for name in ("a", "b"):
        results.put(name, name.upper())
    assert results.get("a") == "A"  # now the most recent
    results.put("c", "C")
    assert len(results) == 2 and results.get("b") is None and results.get("a") == "A" and results.get("c") == "C"


def test_uploads_and_missing_files_are_never_shared(tmp_path, monkeypatch):
    from ui import state

    checkpoint, demo = tmp_path / "model.safetensors", tmp_path / "demo.mp4"
    checkpoint.write_bytes(b"weights")
    demo.write_bytes(b"video")
    upload_folder = state.SESSION_ROOT / "session-test-shared"
    upload_folder.mkdir(parents=True, exist_ok=True)
    upload = upload_folder / "video-0123.mp4"
    upload.write_bytes(b"video")
    try:
        assert state.shareable(checkpoint, demo)
        assert not state.shareable(checkpoint, upload)  # private to its session
        assert not state.shareable(checkpoint, tmp_path / "gone.mp4") and not state.shareable(None, demo)
    finally:
        upload.unlink()
        upload_folder.rmdir()


def test_two_sessions_on_the_default_view_run_and_explain_once(tmp_path, monkeypatch):
    """Two browser sessions (two AppTests) opening the demo: the second takes the first one's run and
    explanations instead of computing them again, and shows the same prediction."""
    from streamlit.testing.v1 import AppTest

    import vtn_core.explain
    from tests.app_assets import build_assets
    from ui import explain_views, runner

    monkeypatch.setenv("VTN_ASSETS_DIR", str(build_assets(tmp_path / "assets")))
    monkeypatch.setenv("VTN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(runner, "SHARED", SharedResults(max_entries=8))
    monkeypatch.setattr(explain_views, "SHARED", SharedResults(max_entries=16))
    counts = {"run": 0, "explain": 0}
    real_run, real_explain = runner.run_video, vtn_core.explain.explain_video

    def counted_run(*args, **kwargs):
        counts["run"] += 1
        return real_run(*args, **kwargs)

    def counted_explain(*args, **kwargs):
        counts["explain"] += 1
        return real_explain(*args, **kwargs)

    monkeypatch.setattr(runner, "run_video", counted_run)
    monkeypatch.setattr(vtn_core.explain, "explain_video", counted_explain)
    headings = []
    for session in range(2):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
        at.run()
        assert not at.exception and not at.error, (session, at.exception, at.error)
        headings.append(next(m.value for m in at.markdown if m.value.startswith("### Prediction:")))
        if session == 0:
            first = dict(counts)
            assert first["run"] == 1 and first["explain"] >= 1  # the saliency and the faithfulness questions
    assert counts == first and headings[0] == headings[1]
