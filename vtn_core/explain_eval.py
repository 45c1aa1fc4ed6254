"""Explanations scored against ground truth: the pointing game on event frames and faithfulness AUCs per video."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vtn_core.boxes import Box, point_in_box, pointing_margin
from vtn_core.explain import decode_source_frames
from vtn_core.faithfulness import ORDERINGS, deletion_insertion
from vtn_core.features import extract_features
from vtn_core.model import VTN
from vtn_core.saliency import available_methods, frame_saliency


def explanation_scores(model: VTN, video: str | Path, label: str, boxes: dict[int, Box],
                       num_frames: int | None = None, seeds: int = 5) -> dict[str, Any]:
    """For one video: saliency peaks of the sampled event frames (those with a box) for the true class, hit or
    miss per method; deletion/insertion AUCs per ordering for the predicted class."""
    feats = extract_features(model, video, num_frames=num_frames)
    predicted = int(np.argmax(feats.probabilities))
    curves = deletion_insertion(model, feats.features, feats.positions, feats.attention(), predicted, seeds=seeds)
    row: dict[str, Any] = {"deletion_auc": curves.deletion_auc, "insertion_auc": curves.insertion_auc, "hits": {}}
    slots = [k for k, index in enumerate(feats.frame_indices) if int(index) in boxes]
    if slots and label in model.class_names:
        target = model.class_names.index(label)
        frames = decode_source_frames(Path(video), feats.frame_indices[slots], feats.info)
        margin = pointing_margin(frames.shape[2], frames.shape[1])
        for method in available_methods(model):
            maps = frame_saliency(model, feats.features, feats.positions, slots, frames, target, method)
            row["hits"][method] = [point_in_box(m.peak, boxes[int(feats.frame_indices[m.slot])], margin) for m in maps]
        row["pointing_margin_px"] = margin
    return row


def summarise_explanations(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Pointing-game accuracy per method over all event frames, mean AUCs per ordering over videos."""
    summary: dict[str, Any] = {}
    methods = sorted({m for row in rows for m in row["hits"]})
    if methods:
        by_method = {m: [hit for row in rows for hit in row["hits"].get(m, [])] for m in methods}
        summary["pointing_game_by_method"] = {m: float(np.mean(h)) if h else None for m, h in by_method.items()}
        first = next(m for m in available_order(methods))
        summary["pointing_game"] = summary["pointing_game_by_method"][first]
        summary["pointing_method"] = first
        summary["pointing_frames"] = len(by_method[first])
        summary["pointing_margin_px"] = float(np.mean([r["pointing_margin_px"] for r in rows if "pointing_margin_px" in r]))
    if rows:
        for kind in ("deletion_auc", "insertion_auc"):
            summary[kind] = {o: float(np.mean([row[kind][o] for row in rows])) for o in ORDERINGS}
        random = summary["deletion_auc"]["random"]
        summary["deletion_ratio_attention_vs_random"] = summary["deletion_auc"]["attention"] / max(random, 1e-9)
    return summary


def available_order(methods: list[str]) -> list[str]:
    """``methods`` in METHODS order (the default method first)."""
    from vtn_core.saliency import METHODS
    return [m for m in METHODS if m in methods] + [m for m in methods if m not in METHODS]
