"""The synthetic event dataset: deterministic, labels and spans that match the pixels, a working CLI."""
import csv
import subprocess
import sys

import av
import numpy as np

from vtn_core.synthetic import CLASSES, MAX_EVENT_SHARE, dataset_specs, generate_dataset, render_video


def test_same_seed_same_data_other_seed_other_data(tmp_path):
    a, b, c = dataset_specs(8, seed=5), dataset_specs(8, seed=5), dataset_specs(8, seed=6)
    assert a == b and a != c
    np.testing.assert_array_equal(render_video(a[0]), render_video(b[0]))
    generate_dataset(tmp_path / "one", 6, seed=5, workers=1)
    generate_dataset(tmp_path / "two", 6, seed=5, workers=2)
    assert (tmp_path / "one" / "labels.csv").read_bytes() == (tmp_path / "two" / "labels.csv").read_bytes()


def test_specs_respect_the_rules():
    specs = dataset_specs(60, seed=1)
    assert {s.label for s in specs} == set(CLASSES)
    for s in specs:
        length = s.event_end - s.event_start + 1
        assert s.num_frames >= 64 and s.fps == 25
        assert 0 <= s.event_start <= s.event_end < s.num_frames
        assert length <= MAX_EVENT_SHARE * s.num_frames
    assert len({s.num_frames for s in specs}) > 10  # lengths vary
    assert len({round(s.event_start / s.num_frames, 1) for s in specs}) >= 5  # events at varied times


def test_the_event_happens_exactly_inside_its_span():
    for spec in dataset_specs(6, seed=3):
        with_event = render_video(spec).astype(int)
        without = render_video(spec, with_event=False).astype(int)
        changed = np.abs(with_event - without).reshape(spec.num_frames, -1).max(axis=1) > 20
        assert changed[spec.event_start:spec.event_end + 1].all(), spec.label
        assert not changed[:spec.event_start].any() and not changed[spec.event_end + 1:].any(), spec.label


def test_frames_outside_the_event_do_not_reveal_the_class():
    """Nearest-centroid on colour statistics of out-of-event frames is near chance (1/6)."""
    specs = dataset_specs(72, seed=11, frames=64, size=48)
    features, labels = [], []
    for spec in specs:
        frames = render_video(spec)
        outside = np.r_[frames[:spec.event_start], frames[spec.event_end + 1:]].astype(float)
        features.append(np.r_[outside.mean(axis=(0, 1, 2)), outside.std(axis=(0, 1, 2)),
                              np.abs(np.diff(outside, axis=0)).mean()])
        labels.append(CLASSES.index(spec.label))
    features, labels = np.array(features), np.array(labels)
    correct = 0
    for i in range(len(labels)):  # leave-one-out
        mask = np.arange(len(labels)) != i
        centroids = np.stack([features[mask & (labels == c)].mean(0) for c in range(len(CLASSES))])
        correct += int(np.argmin(((centroids - features[i]) ** 2).sum(1)) == labels[i])
    assert correct / len(labels) < 0.4


def test_cli_writes_decodable_videos_and_labels(tmp_path):
    out = tmp_path / "data"
    proc = subprocess.run([sys.executable, "-m", "vtn_core", "synth", "--out", str(out), "--videos", "6", "--seed", "1",
                           "--frames", "64", "--size", "64"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(open(out / "labels.csv")))
    assert list(rows[0]) == ["path", "label", "event_start", "event_end", "num_frames", "fps"]
    assert sorted(r["label"] for r in rows) == sorted(CLASSES)
    for row in rows:
        with av.open(str(out / row["path"])) as container:
            assert sum(1 for _ in container.decode(video=0)) == int(row["num_frames"]) == 64


def test_cli_bad_arguments(tmp_path):
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "thesis.txt").write_text("precious")
    for args in (["--frames", "10"], ["--videos", "0"], ["--out", str(tmp_path / "stuff")]):
        base = ["--out", str(tmp_path / "x"), "--videos", "2", "--seed", "1"]
        proc = subprocess.run([sys.executable, "-m", "vtn_core", "synth", *base, *args], capture_output=True, text=True)
        assert proc.returncode == 2 and proc.stderr.startswith("error:") and "Traceback" not in proc.stderr
    assert (tmp_path / "stuff" / "thesis.txt").read_text() == "precious"


def test_short_preset_writes_boxes_that_match_the_pixels(tmp_path):
    from vtn_core.synthetic import hero_boxes

    generate_dataset(tmp_path, 6, seed=2, frames=64, size=64, workers=1)
    with open(tmp_path / "boxes.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["path", "frame", "x0", "y0", "x1", "y1"]
    for spec in dataset_specs(6, seed=2, frames=64, size=64):
        boxes = hero_boxes(spec)
        assert [b[0] for b in boxes] == list(range(spec.event_start, spec.event_end + 1))
        changed = np.abs(render_video(spec).astype(int) - render_video(spec, with_event=False).astype(int)).max(-1) > 40
        for frame, x0, y0, x1, y1 in boxes:
            outside = changed[frame].copy()
            outside[max(y0 - 1, 0):y1 + 2, max(x0 - 1, 0):x1 + 2] = False  # 1 px: the resampling filter's reach
            assert changed[frame, y0:y1 + 1, x0:x1 + 1].any() and not outside.any(), (spec.label, frame)
    assert len(rows) == sum(s.event_end - s.event_start + 1 for s in dataset_specs(6, seed=2, frames=64, size=64))
