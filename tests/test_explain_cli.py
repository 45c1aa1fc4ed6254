"""``explain`` on the command line (contract, PNGs, bad input → one ``error:`` line, exit 2) and ``evaluate``'s
pointing game and faithfulness AUCs over a folder with ``boxes.csv``."""
import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import vtn_core
from vtn_core.cli import main
from vtn_core.evaluate import evaluate
from vtn_core.synthetic import render_video, sample_spec
from vtn_core.videowrite import write_video

ASSETS = Path(__file__).resolve().parent.parent / "assets"
LEARNED = ASSETS / "models" / "vtn_resnet_learned.safetensors"
with open(ASSETS / "demo_videos" / "labels.csv", newline="") as _handle:
    DEMO = next(csv.DictReader(_handle))  # the first bundled demo clip, whatever the bundled data
CLIP = ASSETS / "demo_videos" / DEMO["path"]


def run_cli(args, capsys) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse errors
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_explain_writes_the_contract_and_one_png_per_frame_and_method(tmp_path, capsys):
    out = tmp_path / "explain.json"
    code, stdout, stderr = run_cli(["explain", CLIP, "--checkpoint", LEARNED, "--top", 2, "--json", out,
                                    "--out-dir", tmp_path / "maps", "--seeds", 3], capsys)
    assert code == 0, stderr
    doc = json.loads(out.read_text())
    info = vtn_core.video.probe_video(CLIP)
    assert doc["video"]["path"] == str(CLIP) and doc["video"]["width"] == info.width
    assert doc["video"]["num_frames"] == info.num_frames
    assert doc["checkpoint"] == {"path": str(LEARNED), "format": "native", "attention": "learned"}
    assert doc["target"]["label"] == DEMO["label"] and doc["target"]["prob"] > 0.9
    assert len(doc["frames"]) == 2
    assert doc["frames"][0]["attention"] >= doc["frames"][1]["attention"]
    for frame in doc["frames"]:
        assert set(frame) >= {"index", "time_s", "attention", "saliency_peak", "method"}
        assert frame["method"] == "gradcam++"
        x, y = frame["saliency_peak"]
        assert 0 <= x < info.width and 0 <= y < info.height
    # the most attended frame lies in the event (the learned model found it)
    assert int(DEMO["event_start"]) <= doc["frames"][0]["index"] <= int(DEMO["event_end"])
    faith = doc["faithfulness"]
    for kind in ("deletion_auc", "insertion_auc"):
        assert set(faith[kind]) == {"attention", "gradient", "random"}
        assert all(0.0 <= v <= 1.0 for v in faith[kind].values())
    assert faith["deletion_auc"]["attention"] < faith["deletion_auc"]["random"]
    pngs = sorted((tmp_path / "maps").glob("*.png"))
    assert len(pngs) == 4  # 2 frames x (Grad-CAM++, Grad-CAM): a ResNet has no rollout
    with Image.open(pngs[0]) as image:
        assert image.size[0] >= 240 and image.mode == "RGB"
    assert "deletion AUC" in stdout


@pytest.mark.parametrize("case", ["missing video", "not a video", "bad checkpoint", "unknown class", "top zero",
                                  "frame out of range", "out-dir is a file", "no json"])
def test_explain_refuses_bad_input_with_one_error_line(tmp_path, capsys, case):
    video, checkpoint = CLIP, LEARNED
    extra: list = ["--json", tmp_path / "out.json"]
    if case == "missing video":
        video = tmp_path / "nope.mp4"
    elif case == "not a video":
        video = tmp_path / "noise.mp4"
        video.write_bytes(os.urandom(4000))
    elif case == "bad checkpoint":
        checkpoint = tmp_path / "model.safetensors"
        checkpoint.write_bytes(os.urandom(2000))
    elif case == "unknown class":
        extra += ["--class", "juggling<script>"]
    elif case == "top zero":
        extra += ["--top", "0"]
    elif case == "frame out of range":
        extra += ["--frames", "8", "--frame", "99"]
    elif case == "out-dir is a file":
        (tmp_path / "file").write_text("x")
        extra += ["--out-dir", tmp_path / "file"]
    elif case == "no json":
        extra = []
    code, _, stderr = run_cli(["explain", video, "--checkpoint", checkpoint, *extra], capsys)
    assert code == 2
    assert stderr.startswith("error: ") and stderr.count("\n") == 1 and "Traceback" not in stderr
    assert not (tmp_path / "out.json").exists()


def write_boxed_dataset(root: Path, labels: list[str], seed: int = 5) -> Path:
    """Synthetic clips with labels.csv and a boxes.csv measured from the frames: the hero's pixels are where
    the clip rendered with its event differs from the same clip rendered without it."""
    (root / "videos").mkdir(parents=True)
    rows, boxes = [], []
    for number, label in enumerate(labels):
        spec = sample_spec(np.random.default_rng([seed, number]), label=label, num_frames=64)
        frames, without = render_video(spec), render_video(spec, with_event=False)
        name = f"videos/{number:03d}_{label}.mp4"
        write_video(root / name, frames, spec.fps, crf=20)
        rows.append([name, label, spec.event_start, spec.event_end, spec.num_frames, spec.fps])
        for frame in range(spec.event_start, spec.event_end + 1):
            ys, xs = np.nonzero(np.abs(frames[frame].astype(int) - without[frame].astype(int)).max(axis=-1) > 12)
            boxes.append([name, frame, xs.min(), ys.min(), xs.max(), ys.max()])
    for file_name, header, table in (("labels.csv", ["path", "label", "event_start", "event_end", "num_frames", "fps"],
                                      rows), ("boxes.csv", ["path", "frame", "x0", "y0", "x1", "y1"], boxes)):
        with open(root / file_name, "w", newline="") as handle:
            csv.writer(handle).writerows([header, *table])
    return root


@pytest.mark.slow
def test_evaluate_adds_pointing_game_and_faithfulness_when_boxes_exist(tmp_path):
    data = write_boxed_dataset(tmp_path / "data", ["falling", "colliding"])
    model = vtn_core.load_checkpoint(LEARNED, device="cpu")
    summary = evaluate(model, data)
    assert summary["accuracy"] == 1.0
    assert summary["pointing_method"] == "gradcam++" and summary["pointing_frames"] >= 2
    assert summary["pointing_game"] >= 0.75, summary["pointing_game_by_method"]
    assert set(summary["pointing_game_by_method"]) == {"gradcam++", "gradcam"}
    assert summary["deletion_auc"]["attention"] <= 0.8 * summary["deletion_auc"]["random"]
    assert set(summary["insertion_auc"]) == {"attention", "gradient", "random"}
    assert all("pointing_hits" in row for row in summary["videos"])
    assert "pointing_game" not in evaluate(model, data, explanations=False)


def test_evaluate_refuses_a_malformed_boxes_csv(tmp_path):
    data = write_boxed_dataset(tmp_path / "data", ["rising"])
    (data / "boxes.csv").write_text("path,frame,x0,y0,x1,y1\nvideos/000_rising.mp4,3,10,10,5,5\n")
    with pytest.raises(vtn_core.DataError, match="x0 <= x1"):
        evaluate(vtn_core.load_checkpoint(LEARNED, device="cpu"), data)
