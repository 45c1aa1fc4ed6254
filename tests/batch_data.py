"""Generated corpora for the batch and Corpus tests: a labelled synthetic folder plus a broken file, a
PySlowFast CSV over it, and a run folder written from rows made up in code (no model, no Ray)."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vtn_core.batch.rows import DIGEST, INDEX, rows_table
from tests.videos import make_video
from vtn_core.batch.store import RUN_JSON, ResultsWriter, settings_digest, write_bytes_atomic, write_json_atomic
from vtn_core.synthetic import generate_dataset

CHECKPOINT = Path(__file__).resolve().parent.parent / "assets" / "models" / "vtn_resnet_learned.safetensors"
BROKEN = "videos/zz_broken.mp4"


def labelled_corpus(root: Path, videos: int = 12, seed: int = 11) -> Path:
    """``videos`` synthetic event videos (64 frames, 48 px) and ``labels.csv``, plus one broken .mp4 listed last."""
    generate_dataset(root, videos, seed=seed, frames=64, size=48, workers=1)
    (root / BROKEN).write_bytes(np.random.default_rng(0).bytes(4096))
    with open(root / "labels.csv", "a", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerow([BROKEN, "falling", "", "", 64, 25])
    return root


def without_broken(corpus: Path, target: Path) -> Path:
    """A labels.csv beside ``corpus``'s videos that leaves out the broken file (what ``evaluate`` can read)."""
    lines = (corpus / "labels.csv").read_text(encoding="utf-8").splitlines()
    (target).write_text("\n".join(line for line in lines if BROKEN not in line) + "\n", encoding="utf-8")
    return target


def pyslowfast_csv(corpus: Path, class_names: list[str], target: Path) -> Path:
    """PySlowFast's ``path label_index`` list of ``corpus``'s readable videos (absolute paths)."""
    lines = []
    with open(corpus / "labels.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["path"] != BROKEN:
                lines.append(f"{(corpus / row['path']).resolve()} {class_names.index(row['label'])}")
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


CLASSES = ["bouncing", "colliding", "falling", "rising", "spinning", "splitting"]


def fake_run(run_dir: Path, rows: int, seed: int = 0, frames: int = 16, checkpoint: str = "model.safetensors",
             flip: float = 0.0, errors: int = 1) -> Path:
    """A run folder as ``batch`` writes it, with ``rows`` made-up videos: labels cycle over ``CLASSES``,
    predictions are right except about ``flip`` of them (seeded), attention peaks near a class-specific time,
    and the last ``errors`` rows are failures. Two calls with the same ``rows`` cover the same paths."""
    rng = np.random.default_rng(seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    table_rows = []
    times = np.linspace(0, 2.5, frames)
    for i in range(rows):
        label = CLASSES[i % len(CLASSES)]
        path = f"/data/videos/{i:06d}_{label}.mp4"
        if i >= rows - errors:
            row = {name: None for name in ("predicted", "prob", "top5", "correct", "entropy", "localization",
                                            "num_frames", "duration_s", "cls_attention", "timestamps_s")}
            row.update(path=path, label=label, seconds=0.01, error="VideoError: not a readable video file")
        else:
            predicted = CLASSES[(i + 1) % len(CLASSES)] if rng.random() < flip else label
            peak = (CLASSES.index(label) + 0.5) / len(CLASSES) * frames
            weights = np.exp(-0.5 * ((np.arange(frames) - peak) / rng.uniform(0.7, 3.0)) ** 2) + 1e-3
            weights = (weights / weights.sum()).astype(np.float32)
            prob = float(rng.uniform(0.3, 1.0))
            entropy = float(-(weights * np.log(weights)).sum() / np.log(frames))
            others = [c for c in CLASSES if c != predicted][:4]
            row = {"path": path, "label": label, "predicted": predicted, "prob": prob,
                   "top5": [{"label": predicted, "prob": prob}] + [{"label": c, "prob": (1 - prob) / 4} for c in others],
                   "correct": predicted == label, "entropy": entropy, "localization": float(rng.uniform(0, 1)),
                   "num_frames": 64, "duration_s": 2.56, "cls_attention": weights.tolist(),
                   "timestamps_s": times.tolist(), "seconds": 0.2, "error": None}
        row[INDEX], row[DIGEST] = i, f"{i:032x}"
        table_rows.append(row)
    digest = settings_digest("fake", {"num_frames": frames})
    writer = ResultsWriter(run_dir, digest)
    writer.add(rows_table(table_rows, transport=True))
    writer.flush()
    write_json_atomic(run_dir / RUN_JSON, {"status": "complete", "settings_digest": digest,
                                           "checkpoint": {"path": checkpoint, "name": Path(checkpoint).name},
                                           "settings": {"num_frames": frames}, "data": {"format": "labels"},
                                           "engine": {"name": "ray", "workers": 2}, "counts": {"videos": rows}})
    return run_dir


def run_with_videos(run_dir: Path, rows: int, videos: Path, seed: int, flip: float, checkpoint: str,
                    frames: int, **video_options) -> Path:
    """``fake_run`` whose rows point at real generated videos (``frames`` frames at 12 fps, made once each
    in ``videos``) and at ``checkpoint``, so the Corpus page can open them in Explore."""
    run = fake_run(run_dir, rows, seed=seed, flip=flip, errors=1, checkpoint=checkpoint)
    table = pq.read_table(run / "results.parquet")
    paths = [str(videos / Path(p).name) for p in table.column("path").to_pylist()]
    for path in paths:
        if not Path(path).exists():
            make_video(path, frames, fps=12.0, **video_options)
    sink = pa.BufferOutputStream()
    pq.write_table(table.set_column(0, "path", pa.array(paths, pa.string())), sink)
    write_bytes_atomic(run / "results.parquet", sink.getvalue().to_pybytes())
    return run


def big_run(run_dir: Path, rows: int, frames: int = 16, seed: int = 0) -> Path:
    """A large run folder built column-wise (fast): ``rows`` videos, ~10% wrong, 0.1% failed."""
    import pyarrow as pa

    from vtn_core.batch.rows import SCHEMA
    from vtn_core.batch.store import META_KEY, RESULTS, write_bytes_atomic

    rng = np.random.default_rng(seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    labels = np.asarray(CLASSES, dtype=object)[np.arange(rows) % len(CLASSES)]
    wrong = rng.random(rows) < 0.1
    predicted = np.where(wrong, np.roll(labels, 1), labels)
    failed = rng.random(rows) < 0.001
    weights = rng.dirichlet(np.ones(frames), size=rows).astype(np.float32)
    offsets = pa.array(np.arange(rows + 1, dtype=np.int32) * frames)
    prob = rng.uniform(0.2, 1.0, rows)
    entropy = -(weights * np.log(weights)).sum(1) / np.log(frames)

    def masked(values, dtype=None):
        return pa.array(values, type=dtype, mask=failed)

    top5 = pa.ListArray.from_arrays(pa.array(np.arange(rows + 1, dtype=np.int32)), pa.StructArray.from_arrays(
        [pa.array(predicted.tolist(), pa.string()), pa.array(prob)], names=["label", "prob"]), mask=pa.array(failed))
    columns = {
        "path": pa.array([f"/data/videos/{i:06d}_{labels[i]}.mp4" for i in range(rows)]),
        "label": pa.array(labels.tolist(), pa.string()), "predicted": masked(predicted.tolist(), pa.string()),
        "prob": masked(prob), "top5": top5, "correct": masked(~wrong), "entropy": masked(entropy.astype(float)),
        "localization": masked(rng.random(rows)), "num_frames": masked(np.full(rows, 64)),
        "duration_s": masked(np.full(rows, 2.56)),
        "cls_attention": pa.ListArray.from_arrays(offsets, pa.array(weights.ravel()), mask=pa.array(failed)),
        "timestamps_s": pa.ListArray.from_arrays(offsets, pa.array(np.tile(np.linspace(0, 2.5, frames), rows)),
                                                 mask=pa.array(failed)),
        "seconds": pa.array(rng.uniform(0.1, 0.3, rows)),
        "error": pa.array(np.where(failed, "VideoError: broken", None).tolist(), pa.string()),
    }
    digest = settings_digest("big", {"num_frames": frames})
    meta = {META_KEY: json_bytes({"settings_digest": digest, "digests": [f"{i:032x}" for i in range(rows)]})}
    table = pa.table(columns).cast(SCHEMA).replace_schema_metadata(meta)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    write_bytes_atomic(run_dir / RESULTS, sink.getvalue().to_pybytes())
    write_json_atomic(run_dir / RUN_JSON, {"status": "complete", "settings_digest": digest,
                                           "settings": {"num_frames": frames}, "counts": {"videos": rows}})
    return run_dir


def json_bytes(document: dict) -> bytes:
    import json

    return json.dumps(document).encode()
