"""A small stand-in for ``assets/`` (models + demo videos) for the app tests: fast on 2 CPU cores.

``build_assets(root)`` writes ``root/models/vtn_vit_learned.safetensors`` and ``vtn_vit_uniform.safetensors``
(tiny learned/uniform twins with a made-up training history) and ``root/demo_videos/*.mp4`` with a
``labels.csv`` holding event spans. Point the app at it with ``VTN_ASSETS_DIR=root``.
"""
from __future__ import annotations

import csv
from pathlib import Path

import torch

import vtn_core
from tests.official_files import tiny_vit_config
from tests.videos import make_video

CLASSES = ["bouncing", "colliding", "falling", "rising", "spinning"]


def fake_history(epochs: int = 4, offset: float = 0.0) -> list[dict[str, float]]:
    """Per-epoch rows shaped like ``vtn_core.train``'s history."""
    return [{"epoch": e, "train_loss": 1.6 / e + offset, "train_acc": min(1.0, 0.3 + 0.15 * e - offset),
             "val_loss": 1.7 / e + offset, "val_acc": min(1.0, 0.25 + 0.14 * e - offset),
             "val_localization": 0.2 + 0.1 * e - offset} for e in range(1, epochs + 1)]


def build_models(directory: Path, seed: int = 0) -> tuple[Path, Path]:
    """Learned and uniform twins (same weights) of the tiny official-layout config."""
    directory.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = vtn_core.VTN(tiny_vit_config(num_classes=len(CLASSES), eval_num_frames=16,
                                         max_position_embeddings=288, position_scheme="rescale"),
                         class_names=CLASSES)
    learned = vtn_core.save_checkpoint(model, directory / "vtn_vit_learned.safetensors",
                                       history=fake_history(), command="tests/app_assets.py")
    model.set_attention("uniform")
    uniform = vtn_core.save_checkpoint(model, directory / "vtn_vit_uniform.safetensors",
                                       history=fake_history(offset=0.1), command="tests/app_assets.py")
    return learned, uniform


def build_videos(directory: Path, count: int = 2, num_frames: int = 40) -> list[Path]:
    """Painted-index demo videos plus a ``labels.csv`` with event spans."""
    directory.mkdir(parents=True, exist_ok=True)
    rows, paths = [], []
    for k in range(count):
        name = f"demo_{k}_{CLASSES[k % len(CLASSES)]}.mp4"
        paths.append(make_video(directory / name, num_frames, fps=20.0, height=64, width=96))
        rows.append({"path": name, "label": CLASSES[k % len(CLASSES)], "event_start": 10 + k,
                     "event_end": 20 + k, "num_frames": num_frames, "fps": 20})
    with open(directory / "labels.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return paths


def build_assets(root: Path) -> Path:
    """Both models and two demo videos under ``root``; returns ``root``."""
    build_models(root / "models")
    build_videos(root / "demo_videos")
    return root
