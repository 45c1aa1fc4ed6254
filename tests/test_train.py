"""Train → save → load → evaluate, end to end on a tiny generated dataset."""
import json
import subprocess
import sys

import pytest

import vtn_core
from vtn_core.synthetic import generate_dataset


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    generate_dataset(out, 18, seed=2, frames=64, size=48, workers=1)
    return out


@pytest.mark.parametrize("extra", [["--freeze-backbone"], []])
def test_one_epoch_checkpoint_roundtrips_with_history(tmp_path, tiny_dataset, extra):
    out = tmp_path / "m.safetensors"
    args = [sys.executable, "-m", "vtn_core", "train", "--data", str(tiny_dataset), "--out", str(out), "--epochs", "1",
            "--frames", "8", "--resolution", "32", "--batch-size", "4", "--layers", "1", "--window", "4",
            "--backbone", "test_vit", "--backbone-kwargs", json.dumps({"img_size": 32}), "--seed", "3", *extra]
    proc = subprocess.run(args, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    model = vtn_core.load_checkpoint(out, device="cpu")
    history = model.metadata["history"]
    assert len(history) == 1 and {"train_loss", "train_acc", "val_loss", "val_acc", "val_localization"} <= set(history[0])
    assert model.metadata["command"].startswith("python -m vtn_core train --data")
    assert model.metadata["recipe"]["freeze_backbone"] == bool(extra)
    assert model.class_names == sorted(model.class_names) and len(model.class_names) == 6
    assert model.config.position_scheme == "rescale" and model.config.eval_num_frames == 8
    proc = subprocess.run([sys.executable, "-m", "vtn_core", "evaluate", "--checkpoint", str(out), "--data",
                           str(tiny_dataset), "--json", "-"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["num_videos"] == 18 and 0 <= summary["accuracy"] <= 1
    assert 0 < summary["event_fraction"] < 0.3 and len(summary["localization_by_layer"]) == 1


def test_uniform_twin_keeps_its_mode(tmp_path, tiny_dataset):
    out = tmp_path / "u.safetensors"
    proc = subprocess.run([sys.executable, "-m", "vtn_core", "train", "--data", str(tiny_dataset), "--out", str(out),
                           "--epochs", "1", "--frames", "8", "--resolution", "32", "--layers", "1", "--window", "4",
                           "--backbone", "test_vit", "--backbone-kwargs", '{"img_size": 32}', "--attention", "uniform",
                           "--freeze-backbone"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    model = vtn_core.load_checkpoint(out, device="cpu")
    assert model.attention_mode == "uniform"
    proc = subprocess.run([sys.executable, "-m", "vtn_core", "evaluate", "--checkpoint", str(out), "--data",
                           str(tiny_dataset), "--json", "-"], capture_output=True, text=True)
    summary = json.loads(proc.stdout)
    # uniform attention puts exactly the event's share of frames on the event
    assert abs(summary["localization"] - summary["event_fraction"]) < 1e-4


def test_bad_training_arguments(tmp_path, tiny_dataset):
    cases = [["--data", str(tmp_path), "--out", str(tmp_path / "m.safetensors")],
             ["--data", str(tiny_dataset), "--out", str(tmp_path / "m.pth")],
             ["--data", str(tiny_dataset), "--out", str(tmp_path / "m.safetensors"), "--backbone-kwargs", "[1"]]
    for args in cases:
        proc = subprocess.run([sys.executable, "-m", "vtn_core", "train", *args], capture_output=True, text=True)
        assert proc.returncode == 2 and proc.stderr.startswith("error:") and "Traceback" not in proc.stderr, proc.stderr


def test_long_video_recipe_eval_frames_and_full_init(tmp_path, tiny_dataset):
    """--eval-frames: a pool of that many uniform samples, steps of --frames, validation and eval_num_frames at
    --eval-frames, training accuracy at all of them; --init-scope all copies the temporal encoder and head."""
    from vtn_core.train import TrainRecipe, build_model

    out = tmp_path / "long.safetensors"
    base = ["--data", str(tiny_dataset), "--epochs", "1", "--resolution", "32", "--layers", "1", "--window", "4",
            "--backbone", "test_vit", "--backbone-kwargs", '{"img_size": 32}', "--freeze-backbone", "--seed", "1"]
    proc = subprocess.run([sys.executable, "-m", "vtn_core", "train", *base, "--out", str(out), "--frames", "4",
                           "--eval-frames", "12"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    model = vtn_core.load_checkpoint(out, device="cpu")
    assert model.config.eval_num_frames == 12 and model.metadata["recipe"]["eval_frames"] == 12
    assert 0 <= model.metadata["history"][-1]["train_eval_acc"] <= 1  # the last epoch always has it
    recipe = TrainRecipe(backbone="test_vit", backbone_kwargs={"img_size": 32}, resolution=32, layers=1, window=4,
                         init_weights=str(out), init_scope="all", seed=7)
    fresh = build_model(recipe, model.class_names).state_dict()
    trained = model.state_dict()
    for name in ("cls_token", "mlp_head.1.weight", "backbone.cls_token"):
        if name in trained:
            assert (fresh[name] == trained[name]).all(), name
    backbone_only = build_model(TrainRecipe(**{**recipe.__dict__, "init_scope": "backbone"}), model.class_names)
    assert not (backbone_only.state_dict()["mlp_head.1.weight"] == trained["mlp_head.1.weight"]).all()
    proc = subprocess.run([sys.executable, "-m", "vtn_core", "train", *base, "--out", str(tmp_path / "x.safetensors"),
                           "--eval-frames", "-1"], capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("error:")
