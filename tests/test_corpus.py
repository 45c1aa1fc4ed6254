"""The Corpus page and its queries on generated runs: DuckDB queries against plain-Python reference values,
a 100,000-row run staying fast, two runs compared, and the page in AppTest (render, filter, hand a row to
Explore)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from streamlit.testing.v1 import AppTest

from tests.app_assets import build_assets
from tests.batch_data import CLASSES, big_run, fake_run, run_with_videos
from ui import handoff, views
from vtn_core.compare import js_divergence
from vtn_core.corpus.pairs import compare_runs
from vtn_core.corpus.queries import Filters, RunQueries, time_bins
from vtn_core.corpus.runs import find_runs, open_run
from vtn_core.errors import DataError

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 180


@pytest.fixture(scope="module")
def run_a(tmp_path_factory) -> Path:
    return fake_run(tmp_path_factory.mktemp("runs") / "a", 60, seed=1, flip=0.3, errors=3)


def reference_rows(run: Path) -> list[dict]:
    return pq.read_table(run / "results.parquet").to_pylist()


def test_queries_match_plain_python(run_a):
    rows = reference_rows(run_a)
    q = RunQueries(run_a / "results.parquet")
    ok = [r for r in rows if r["error"] is None]
    overview = q.overview()
    assert overview["videos"] == 60 and overview["failed"] == 3
    assert overview["accuracy"] == pytest.approx(sum(r["correct"] for r in ok) / len(ok))
    assert q.class_names() == sorted(CLASSES)

    filters = Filters(classes=("falling", "rising"), outcome="incorrect", prob=(0.4, 0.95))
    expected = [i for i, r in enumerate(rows) if r["error"] is None and r["label"] in ("falling", "rising")
                and not r["correct"] and 0.4 <= r["prob"] <= 0.95]
    assert q.count(filters) == len(expected)
    table = q.table(filters, sort="prob", descending=True)
    assert sorted(table["row"].tolist()) == expected
    assert table["prob"].tolist() == sorted(table["prob"].tolist(), reverse=True)
    assert q.count(Filters(outcome="failed")) == 3 and q.count(Filters(search="000007_")) == 1
    with pytest.raises(ValueError):
        q.table(sort="prob; DROP TABLE results")

    classes, matrix = q.confusion()
    for r in ok:
        matrix[classes.index(r["label"]), classes.index(r["predicted"])] -= 1
    assert not matrix.any()

    centres, profiles, counts = q.class_profiles(bins=8)
    falling = [r for r in ok if r["label"] == "falling"]
    manual = np.mean([time_bins(16, 8) @ (np.asarray(r["cls_attention"]) * 16) for r in falling], axis=0)
    np.testing.assert_allclose(profiles["falling"], manual, rtol=1e-5)
    assert counts["falling"] == len(falling) and centres[0] == pytest.approx(1 / 16)
    # the generated attention peaks at a class-specific time: the profile finds it
    assert abs(centres[np.argmax(profiles["falling"])] - (CLASSES.index("falling") + 0.5) / 6) < 0.15

    record = q.row(5)
    assert record["path"] == rows[5]["path"] and record["cls_attention"] == pytest.approx(rows[5]["cls_attention"])
    assert len(q.scatter(limit=10)) <= 10 and len(q.scatter()) == len(ok)


def test_time_bins_average_or_interpolate():
    np.testing.assert_allclose(time_bins(8, 4).sum(axis=1), 1.0)
    np.testing.assert_allclose(time_bins(4, 8).sum(axis=1), 1.0)
    np.testing.assert_allclose(time_bins(6, 6), np.eye(6))


def test_two_runs_agreement_and_divergence(tmp_path, run_a):
    run_b = fake_run(tmp_path / "b", 60, seed=2, flip=0.3, errors=1)
    rows_a = {r["path"]: r for r in reference_rows(run_a) if r["error"] is None}
    rows_b = {r["path"]: r for r in reference_rows(run_b) if r["error"] is None}
    shared = sorted(set(rows_a) & set(rows_b))
    result = compare_runs(run_a / "results.parquet", run_b / "results.parquet")
    assert result.shared == len(shared) and result.only_a == 0 and result.only_b == 2
    same = [p for p in shared if rows_a[p]["predicted"] == rows_b[p]["predicted"]]
    assert result.agreement == pytest.approx(len(same) / len(shared))
    assert sorted(result.disagreements["path"]) == sorted(set(shared) - set(same))
    by_path = dict(zip(result.divergence["path"], result.divergence["js_divergence"]))
    for path in shared[:10]:
        assert by_path[path] == pytest.approx(js_divergence(np.asarray(rows_a[path]["cls_attention"]),
                                                            np.asarray(rows_b[path]["cls_attention"])), abs=1e-6)
    assert compare_runs(run_a / "results.parquet", run_a / "results.parquet").mean_divergence == pytest.approx(0)


def test_hundred_thousand_rows_stay_fast(tmp_path):
    big = big_run(tmp_path / "big", 100_000, seed=4)
    q = RunQueries(big / "results.parquet")
    filters = Filters(classes=("falling",), outcome="correct", entropy=(0.2, 0.9))
    timings = {}
    for name, call in {"count": lambda: q.count(filters), "page": lambda: q.table(filters, sort="entropy"),
                       "confusion": q.confusion, "profiles": lambda: q.class_profiles(filters),
                       "scatter": lambda: q.scatter(filters), "overview": q.overview}.items():
        started = time.perf_counter()
        call()
        timings[name] = time.perf_counter() - started
    assert q.overview()["videos"] == 100_000 and 0.85 < q.overview()["accuracy"] < 0.95
    # generous bounds for a loaded 2-core machine; typical: tens of milliseconds, profiles well under 1 s
    assert max(timings.values()) < 5.0, timings


def test_runs_are_found_and_bad_folders_refused(tmp_path, run_a):
    root = tmp_path / "runs"
    fake_run(root / "nested" / "one", 4)
    (root / "junk").mkdir()
    (root / "junk" / "results.parquet").write_bytes(b"not parquet")
    assert [r.name for r in find_runs(root)] == ["one"]
    assert find_runs(tmp_path / "missing") == []
    with pytest.raises(DataError, match="not a readable Parquet"):
        open_run(root / "junk")
    with pytest.raises(DataError, match="no results.parquet"):
        open_run(tmp_path)


# ---- the page ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def page_env(tmp_path_factory, run_a):
    """Tiny app assets, a runs folder with two runs whose rows point at real videos and a real checkpoint."""
    assets = build_assets(tmp_path_factory.mktemp("assets"))
    checkpoint = next((assets / "models").glob("*learned*.safetensors"))
    videos = tmp_path_factory.mktemp("videos")
    runs = tmp_path_factory.mktemp("runs")
    for name, seed in (("first", 1), ("second", 2)):
        run_with_videos(runs / name, 12, videos, seed=seed, flip=0.4, checkpoint=str(checkpoint), frames=24)
    saved = {key: os.environ.get(key) for key in ("VTN_ASSETS_DIR", "VTN_CACHE_DIR", "VTN_RUNS_DIR")}
    os.environ.update(VTN_ASSETS_DIR=str(assets), VTN_CACHE_DIR=str(tmp_path_factory.mktemp("cache")),
                      VTN_RUNS_DIR=str(runs))
    yield runs, checkpoint
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def test_corpus_page_renders_filters_and_hands_a_row_to_explore(page_env):
    _, checkpoint = page_env
    at = AppTest.from_file(str(ROOT / "pages" / "4_Corpus.py"), default_timeout=TIMEOUT).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert sorted(at.sidebar.selectbox(key="corpus_run").options) == ["Type a path…", "first", "second"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Videos"] == "12" and metrics["Failed"] == "1"
    assert len(at.dataframe[0].value) == 12
    assert len(at.get("plotly_chart")) == 3  # confusion, profiles, scatter

    at.selectbox(key="corpus_outcome").set_value("failed").run()
    assert not at.exception and len(at.dataframe[0].value) == 1
    assert "failed in this run" in at.warning[0].value
    at.selectbox(key="corpus_outcome").set_value("correct").run()
    frame = at.dataframe[0].value
    assert len(frame) >= 1 and frame["correct"].all()

    at.sidebar.selectbox(key="corpus_other").set_value(at.sidebar.selectbox(key="corpus_other").options[1]).run()
    assert not at.exception
    assert "Agreement" in {m.label for m in at.metric}

    at.selectbox(key="corpus_open_row").set_value(int(frame["row"].iloc[0])).run()
    at.button(key="corpus_open").click().run()
    assert not at.exception, at.exception
    handed = at.session_state[handoff.KEY]
    assert handed.checkpoint == checkpoint and handed.video.name == frame["video"].iloc[0]


def test_explore_accepts_the_handoff(page_env):
    runs, checkpoint = page_env
    video = next(Path(p) for p in pq.read_table(runs / "first" / "results.parquet").column("path").to_pylist())
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.session_state[handoff.KEY] = handoff.Handoff(video=video, checkpoint=checkpoint, source="run first, row 0",
                                                    label="bouncing")
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("Opened from Corpus" in h.value for h in at.sidebar.subheader)
    assert any(views.md(video.name) in c.value for c in at.caption)
    at.sidebar.button(key="handoff_clear").click().run()
    assert handoff.KEY not in at.session_state and not at.exception


def test_bad_typed_path_is_an_error_box_and_the_page_goes_on(page_env, tmp_path):
    at = AppTest.from_file(str(ROOT / "pages" / "4_Corpus.py"), default_timeout=TIMEOUT).run()
    at.sidebar.selectbox(key="corpus_run").set_value("Type a path…").run()
    at.sidebar.text_input(key="corpus_run_path").input(str(tmp_path)).run()
    assert not at.exception and "Not a run" in at.error[0].value
    assert at.title[0].value == "Corpus"
