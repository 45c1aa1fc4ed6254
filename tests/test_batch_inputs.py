"""Batch inference without Ray: input discovery, rows, resume bookkeeping, atomic Parquet, progress text."""
from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

import vtn_core
from tests.batch_data import CHECKPOINT, fake_run
from tests.videos import make_video
from vtn_core.batch.inputs import BatchItem, discover, unknown_labels
from vtn_core.batch.progress import format_eta, progress_text, summary_line
from vtn_core.batch.rows import COLUMNS, DIGEST, INDEX, SCHEMA, predict_row, rows_table
from vtn_core.batch.runner import reuse_done, summarise
from vtn_core.batch.store import META_KEY, RESULTS, ResultsWriter, read_done, settings_digest
from vtn_core.errors import DataError
from vtn_core.inference import run_video

CLASSES = ["a", "b", "c"]


def test_contract_columns_in_order():
    assert COLUMNS == ("path", "label", "predicted", "prob", "top5", "correct", "entropy", "localization",
                       "num_frames", "duration_s", "cls_attention", "timestamps_s", "seconds", "error")
    assert SCHEMA.field("top5").type.value_type.names == ["label", "prob"]


def test_labels_folder_plain_folder_and_pyslowfast_csv(tmp_path):
    (tmp_path / "set" / "sub").mkdir(parents=True)
    for name in ("x.mp4", "sub/y.webm", "notes.txt"):
        (tmp_path / "set" / name).write_bytes(b"0")
    plain = discover(tmp_path / "set", CLASSES)
    assert plain.format == "folder" and [i.path.name for i in plain.items] == ["y.webm", "x.mp4"]
    assert all(i.label is None and i.event is None for i in plain.items)

    (tmp_path / "set" / "labels.csv").write_text("path,label,event_start,event_end\nx.mp4,b,3,7\nmissing.mp4,a,,\n")
    labelled = discover(tmp_path / "set", CLASSES)
    assert labelled.format == "labels"
    assert labelled.items == [BatchItem(tmp_path / "set" / "x.mp4", "b", (3, 7)),
                              BatchItem(tmp_path / "set" / "missing.mp4", "a", None)]  # kept: becomes an error row

    listing = tmp_path / "test.csv"
    listing.write_text(f"{tmp_path}/set/x.mp4 2\nset/sub/y.webm 0\n\nmy clip with spaces.mp4 1\n")
    slowfast = discover(listing, CLASSES)
    assert slowfast.format == "pyslowfast"
    assert [(i.path, i.label) for i in slowfast.items] == [
        (tmp_path / "set" / "x.mp4", "c"), (tmp_path / "set" / "sub" / "y.webm", "a"),
        (tmp_path / "my clip with spaces.mp4", "b")]
    assert unknown_labels([BatchItem(tmp_path, "zebra"), BatchItem(tmp_path, "a")], CLASSES) == ["zebra"]


@pytest.mark.parametrize("text, message", [
    ("clip.mp4 7\n", "outside the model's 3 classes"),
    ("clip.mp4 cat\n", "is not a whole number"),
    ("clip.mp4\n", "expected 'path label_index'"),
    ("\n\n", "lists no videos"),
])
def test_bad_pyslowfast_csv_is_a_data_error(tmp_path, text, message):
    listing = tmp_path / "val.csv"
    listing.write_text(text)
    with pytest.raises(DataError, match=message):
        discover(listing, CLASSES)


def test_missing_or_empty_inputs(tmp_path):
    with pytest.raises(DataError, match="no such file or folder"):
        discover(tmp_path / "nope", CLASSES)
    with pytest.raises(DataError, match="no videos found"):
        discover(tmp_path, CLASSES)
    (tmp_path / "labels.csv").write_text("label\nx\n")
    with pytest.raises(DataError, match="missing column path"):
        discover(tmp_path, CLASSES)
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(DataError, match="UTF-8"):
        discover(tmp_path / "bin.csv", CLASSES)


@pytest.fixture(scope="module")
def model():
    return vtn_core.load_checkpoint(CHECKPOINT, device="cpu")


def test_predict_row_matches_run_video_and_broken_video_is_an_error_row(tmp_path, model):
    video = make_video(tmp_path / "clip.mp4", 40, fps=20.0)
    row = predict_row(model, BatchItem(video, "falling", (10, 20)), 8)
    result = run_video(model, video, num_frames=8, cache=False)
    assert row["predicted"] == result.predicted_label and row["correct"] == (result.predicted_label == "falling")
    assert [t["label"] for t in row["top5"]] == [label for label, _ in result.top_k(5)]
    np.testing.assert_allclose(row["cls_attention"], result.attention(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(row["timestamps_s"], result.timestamps_s)
    inside = (result.frame_indices >= 10) & (result.frame_indices <= 20)
    assert row["localization"] == pytest.approx(result.attention(layer=0)[inside].sum())
    assert 0 <= row["entropy"] <= 1 and row["num_frames"] == 40 and row["duration_s"] == pytest.approx(2.0)
    assert row["error"] is None and row["seconds"] > 0

    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 2048)
    failed = predict_row(model, BatchItem(broken, None), 8)
    assert failed["error"].startswith("VideoError") and failed["predicted"] is None and failed["label"] is None
    rows_table([failed, row])  # both fit the schema


def test_writer_is_atomic_ordered_and_resumable(tmp_path):
    run = fake_run(tmp_path / "run", 30, errors=2)
    table = pq.read_table(run / RESULTS)
    assert table.column_names == list(COLUMNS) and table.num_rows == 30
    digest = json.loads((run / "run.json").read_text())["settings_digest"]
    done = read_done(run, digest)
    assert done.column(DIGEST).to_pylist() == [f"{i:032x}" for i in range(30)]
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")]  # no temp file left behind
    with pytest.raises(DataError, match="another checkpoint or other settings"):
        read_done(run, settings_digest("other", {"num_frames": 16}))

    # rows arriving out of order (as from parallel workers) are written in input order, each flush complete
    rows = done.to_pylist()
    writer = ResultsWriter(tmp_path / "run", digest)
    for chunk in ([rows[7], rows[2]], [rows[0]], [rows[5], rows[1]]):
        writer.add(rows_table([dict(r, **{INDEX: int(r[DIGEST], 16)}) for r in chunk], transport=True))
        writer.flush()
        written = pq.read_table(run / RESULTS)
        order = [int(d, 16) for d in json.loads(written.schema.metadata[META_KEY])["digests"]]
        assert order == sorted(order) and written.num_rows == len(order)
        assert written.column("path").to_pylist() == [rows[i]["path"] for i in order]
    assert order == [0, 1, 2, 5, 7]


def test_reuse_done_matches_by_content_not_path(tmp_path):
    run = fake_run(tmp_path / "run", 6, errors=1)
    digest = json.loads((run / "run.json").read_text())["settings_digest"]
    done = read_done(run, digest)
    items = [BatchItem(tmp_path / f"moved_{i}.mp4", "bouncing") for i in range(7)]
    digests = [f"{i:032x}" for i in range(6)] + ["new"]
    reused, todo = reuse_done(done, items, digests)
    assert todo == [6] and len(reused) == 6
    assert reused[0]["path"].endswith("moved_0.mp4") and reused[0]["correct"] is True and reused[1]["correct"] is False
    _, todo = reuse_done(done, items, digests, retry_errors=True)
    assert todo == [5, 6]  # the failed row is run again on request


def test_summary_counts_accuracy_like_evaluate(tmp_path):
    run = fake_run(tmp_path / "run", 12, flip=0.5, errors=2, seed=3)
    table = pq.read_table(run / RESULTS)
    summary = summarise(table)
    ok = [r for r in table.to_pylist() if r["error"] is None]
    assert summary["counts"]["failed"] == 2 and summary["counts"]["scored"] == 10
    assert summary["accuracy"] == pytest.approx(sum(r["predicted"] == r["label"] for r in ok) / len(ok))
    summary["counts"]["resumed"] = 4
    summary["timings"] = {"wall_s": 12.34, "videos_per_s": 0.5}
    line = summary_line(summary)
    assert line.startswith("12 videos: 10 ok, 2 failed") and "4 already done" in line and "wall 12.3 s" in line


def test_progress_text_rate_and_eta():
    assert progress_text(0, 10, 0.0).endswith("ETA --:--")
    text = progress_text(5, 20, 10.0, failed=1, steady_rate=1.0)
    assert "5/20" in text and "0.50 videos/s" in text and "ETA 0:15" in text and "1 failed" in text
    assert format_eta(3725) == "1:02:05" and format_eta(float("nan")) == "--:--"


def test_bad_batch_arguments_are_one_error_line(tmp_path, capsys):
    from vtn_core.cli import main

    fake_run(tmp_path / "other", 3)  # a run folder of other settings: never overwritten
    (tmp_path / "videos").mkdir()
    make_video(tmp_path / "videos" / "a.mp4", 8)
    base = ["batch", "--checkpoint", str(CHECKPOINT), "--out", str(tmp_path / "r")]
    cases = [(["--data", str(tmp_path / "missing")], "no such file or folder"),
             (["--data", str(tmp_path), "--workers", "0"], "must be between 1 and"),
             (["--data", str(tmp_path), "--gpus-per-worker", "-1"], "must be a finite number above 0"),
             (["--data", str(tmp_path / "videos"), "--out", str(tmp_path / "other")], "choose a new --out folder"),
             (["--data", str(tmp_path / "videos"), "--out", str(tmp_path / "videos" / "a.mp4")], "refusing to overwrite it")]
    for extra, message in cases:
        try:
            status = main(base + extra)
        except SystemExit as exc:  # argparse's own errors
            status = exc.code
        assert status == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "r").exists()

