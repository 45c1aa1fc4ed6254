"""``batch`` on a real local Ray (no cluster in CI): two workers over a dozen generated videos plus a broken
file with one worker killed mid-run; accuracy against ``evaluate``; resume; a killed driver resumed over a
PySlowFast CSV through ``--address``. Every test leaves no Ray process behind."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest

import vtn_core
from tests.batch_data import BROKEN, CHECKPOINT, labelled_corpus, pyslowfast_csv, without_broken
from vtn_core.batch import EngineOptions, run_batch
from vtn_core.batch.rows import COLUMNS
from vtn_core.evaluate import evaluate

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
FRAMES = 8


def ray_processes() -> list[psutil.Process]:
    """Live Ray processes started from this test process (workers, raylet, GCS), zombies excluded."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "ray" in " ".join(child.cmdline()).lower():
                found.append(child)
        except psutil.Error:
            continue
    return found


def assert_no_ray_left(timeout_s: float = 20.0) -> None:
    deadline = time.time() + timeout_s
    while ray_processes() and time.time() < deadline:
        time.sleep(0.5)
    assert not ray_processes(), [p.cmdline()[:2] for p in ray_processes()]


def rows_in(path: Path) -> int:
    try:
        return pq.read_metadata(path).num_rows
    except (OSError, ValueError):
        return 0


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return labelled_corpus(tmp_path_factory.mktemp("corpus"))


def test_two_workers_broken_file_killed_worker_accuracy_and_resume(corpus, tmp_path):
    out = tmp_path / "run"
    killed: dict[str, object] = {}

    def kill_one_worker() -> None:
        """Once the first rows are on disk, SIGKILL one of the model actors (Ray restarts it and retries)."""
        deadline = time.time() + 240
        while time.time() < deadline and "pid" not in killed:
            if rows_in(out / "results.parquet") >= 1:
                actors = [p for p in ray_processes() if "MapWorker" in " ".join(p.cmdline())]
                if actors:
                    killed.update(pid=actors[0].pid, rows=rows_in(out / "results.parquet"))
                    actors[0].kill()
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_worker, daemon=True)
    killer.start()
    first = run_batch(CHECKPOINT, corpus, out, num_frames=FRAMES, options=EngineOptions(workers=2),
                      show_progress=False)
    killer.join(timeout=5)
    assert_no_ray_left()

    assert killed.get("pid") and killed["rows"] < 13, killed  # a worker really died mid-run
    table = pq.read_table(out / "results.parquet")
    assert table.column_names == list(COLUMNS) and table.num_rows == 13
    rows = table.to_pylist()
    errors = [r for r in rows if r["error"] is not None]
    assert len(errors) == 1 and errors[0]["path"].endswith(BROKEN) and "VideoError" in errors[0]["error"]
    assert all(len(r["cls_attention"]) == FRAMES == len(r["timestamps_s"]) for r in rows if r["error"] is None)
    assert all(r["localization"] is not None for r in rows if r["error"] is None)  # labels.csv has events
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "complete" and run["engine"]["name"] == "ray" and run["engine"]["workers"] == 2
    assert run["counts"] == {"videos": 13, "failed": 1, "labelled": 13, "scored": 12,
                             "correct": first["counts"]["correct"], "resumed": 0, "run": 13}

    model = vtn_core.load_checkpoint(CHECKPOINT, device="cpu")
    reference = evaluate(model, without_broken(corpus, corpus / "labels_ok.csv"), num_frames=FRAMES)
    assert first["accuracy"] == pytest.approx(reference["accuracy"])
    by_path = {r["path"]: r for r in rows}
    for video in reference["videos"]:
        assert by_path[video["path"]]["predicted"] == video["predicted"]
        assert by_path[video["path"]]["localization"] == pytest.approx(video["localization"], abs=1e-5)

    second = run_batch(CHECKPOINT, corpus, out, num_frames=FRAMES, options=EngineOptions(workers=2),
                       show_progress=False)
    assert second["counts"]["resumed"] == 13 and second["counts"]["run"] == 0
    assert second["timings"]["wall_s"] < 0.5 * first["timings"]["wall_s"]
    assert pq.read_table(out / "results.parquet").to_pylist() == rows
    assert len(second["history"]) == 2 and second["engine"]["workers"] == 2


@pytest.fixture()
def ray_cluster():
    """A local Ray 'cluster' started by this test process, for ``--address``; shut down afterwards."""
    import ray

    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=128 * 1024**2, log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
        assert_no_ray_left()


def test_killed_driver_resumes_pyslowfast_csv_on_a_cluster_address(corpus, tmp_path, ray_cluster):
    model = vtn_core.load_checkpoint(CHECKPOINT, device="cpu")
    listing = pyslowfast_csv(corpus, model.class_names, tmp_path / "test.csv")
    out = tmp_path / "run"
    command = [sys.executable, "-m", "vtn_core", "batch", "--checkpoint", str(CHECKPOINT), "--data", str(listing),
               "--out", str(out), "--frames", str(FRAMES), "--workers", "2", "--address", ray_cluster]
    driver = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while time.time() < deadline and driver.poll() is None and rows_in(out / "results.parquet") < 1:
        time.sleep(0.05)
    driver.send_signal(signal.SIGKILL)
    driver.communicate(timeout=30)
    partial = pq.read_table(out / "results.parquet")  # readable whatever the moment of the kill
    assert 1 <= partial.num_rows < 12, partial.num_rows

    rerun = subprocess.run(command, check=False, cwd=REPO, capture_output=True, text=True, timeout=400)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert rerun.stdout.startswith("12 videos: 12 ok, 0 failed") and "already done (resumed)" in rerun.stdout
    run = json.loads((out / "run.json").read_text())
    assert run["data"]["format"] == "pyslowfast" and run["engine"]["address"] == ray_cluster
    assert run["counts"]["resumed"] >= partial.num_rows and run["counts"]["resumed"] + run["counts"]["run"] == 12
    table = pq.read_table(out / "results.parquet")
    assert table.num_rows == 12 and table.column("error").null_count == 12
    labels = [line.rsplit(" ", 1) for line in listing.read_text().splitlines()]
    assert table.column("path").to_pylist() == [path for path, _ in labels]
    assert table.column("label").to_pylist() == [model.class_names[int(i)] for _, i in labels]
    done = {r["path"]: r for r in partial.to_pylist()}
    for row in table.to_pylist():  # rows finished before the kill are kept as they were, not recomputed
        if row["path"] in done:
            assert row == done[row["path"]]
