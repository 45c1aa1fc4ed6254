"""The long preset: 60–180 s 16:9 videos, deterministic, an event of 2–5 s whose boxes match the pixels."""
import csv
import subprocess
import sys

import av
import numpy as np

from vtn_core.synthetic import CLASSES, generate_dataset
from vtn_core.synthetic_long import (
    MAX_EVENT_SHARE,
    hero_boxes,
    long_dataset_specs,
    render_long_frames,
    sample_long_spec,
)


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _changed(spec, indices, threshold=20):
    """Per frame: a mask of pixels that the hero changes (rendered with vs without the event)."""
    with_event = render_long_frames(spec, indices).astype(int)
    without = render_long_frames(spec, indices, with_event=False).astype(int)
    return np.abs(with_event - without).max(axis=-1) > threshold


def test_specs_respect_the_rules():
    specs = long_dataset_specs(60, seed=2)
    assert {s.label for s in specs} == set(CLASSES)
    for s in specs:
        seconds, event_seconds = s.num_frames / s.fps, (s.event_end - s.event_start + 1) / s.fps
        assert 60 <= seconds <= 180 and s.fps == 25
        assert s.width * 9 == s.height * 16 and s.width >= 480
        assert 2 <= event_seconds <= 5 or event_seconds == int(MAX_EVENT_SHARE * s.num_frames) / s.fps
        assert event_seconds * s.fps <= MAX_EVENT_SHARE * s.num_frames
        assert 0 < s.event_start <= s.event_end < s.num_frames - 1
    assert len({round(s.event_start / s.num_frames, 1) for s in specs}) >= 6  # events at varied times
    assert max(s.num_frames for s in specs) > 2 * min(s.num_frames for s in specs)  # lengths vary


def test_same_seed_same_videos_and_boxes(tmp_path):
    a, b, c = long_dataset_specs(3, seed=4), long_dataset_specs(3, seed=4), long_dataset_specs(3, seed=5)
    assert a == b and a != c
    frames = [0, a[0].event_start + 5, a[0].num_frames - 1]
    np.testing.assert_array_equal(render_long_frames(a[0], frames), render_long_frames(b[0], frames))
    generate_dataset(tmp_path / "one", 2, seed=4, frames=1500, workers=1, preset="long")
    generate_dataset(tmp_path / "two", 2, seed=4, frames=1500, workers=2, preset="long")
    for name in ("labels.csv", "boxes.csv", "videos/00000_falling.mp4", "videos/00001_rising.mp4"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name


def test_the_hero_is_inside_its_box_during_the_event_and_absent_outside():
    specs = [sample_long_spec(np.random.default_rng([8, i]), label=label, num_frames=1500)
             for i, label in enumerate(CLASSES)]
    for spec in specs:
        boxes = {frame: box for frame, *box in hero_boxes(spec)}
        assert sorted(boxes) == list(range(spec.event_start, spec.event_end + 1)), spec.label
        x_square, _, side = spec.square
        during = [spec.event_start, (spec.event_start + spec.event_end) // 2, spec.event_end]
        outside = [0, spec.event_start - 1, spec.event_end + 1, spec.num_frames - 1]
        changed = _changed(spec, during + outside)
        for mask, frame in zip(changed[:3], during):
            x0, y0, x1, y1 = boxes[frame]
            assert x_square <= x0 < x1 < x_square + side and 0 <= y0 < y1 < spec.height  # what the model sees
            inside = np.zeros_like(mask)
            inside[y0:y1 + 1, x0:x1 + 1] = True
            assert mask[inside].sum() > 0.03 * inside.sum(), (spec.label, frame)  # the hero is there
            assert not mask[~inside].any(), (spec.label, frame)  # and nowhere else
        assert not changed[3:].any(), spec.label


def test_decoded_video_shows_the_hero_in_its_box(tmp_path):
    generate_dataset(tmp_path, 1, seed=6, frames=1500, workers=1, preset="long")
    label_row = _rows(tmp_path / "labels.csv")[0]
    rows = _rows(tmp_path / "boxes.csv")
    assert list(rows[0]) == ["path", "frame", "x0", "y0", "x1", "y1"]
    assert len(rows) == int(label_row["event_end"]) - int(label_row["event_start"]) + 1
    middle = rows[len(rows) // 2]
    frame = int(middle["frame"])
    with av.open(str(tmp_path / label_row["path"])) as container:
        decoded = [f.to_ndarray(format="rgb24") for i, f in zip(range(frame + 1), container.decode(video=0))]
    assert decoded[-1].shape == (270, 480, 3)
    spec = long_dataset_specs(1, seed=6, frames=1500)[0]
    clean = render_long_frames(spec, [frame, 10], with_event=False).astype(int)
    diff = np.abs(decoded[-1].astype(int) - clean[0]).max(axis=-1)
    x0, y0, x1, y1 = (int(middle[k]) for k in ("x0", "y0", "x1", "y1"))
    inside = np.zeros(diff.shape, bool)
    inside[y0:y1 + 1, x0:x1 + 1] = True
    assert (diff[inside] > 40).mean() > 0.1  # the hero is visible in its box after encoding
    assert np.percentile(diff[~inside], 99) < 30  # elsewhere only compression noise
    assert np.percentile(np.abs(decoded[10].astype(int) - clean[1]).max(axis=-1), 99) < 30  # before: no hero


def test_cli_long_preset_and_bad_frames(tmp_path):
    base = [sys.executable, "-m", "vtn_core", "synth", "--preset", "long", "--videos", "1", "--seed", "1"]
    proc = subprocess.run([*base, "--out", str(tmp_path / "bad"), "--frames", "200"], capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("error:") and "1500" in proc.stderr
    proc = subprocess.run([*base, "--out", str(tmp_path / "ok"), "--frames", "1500"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    with av.open(str(next((tmp_path / "ok" / "videos").glob("*.mp4")))) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (480, 270) and stream.frames in (0, 1500)
