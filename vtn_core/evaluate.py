"""Evaluate a checkpoint on a labelled folder: accuracy, and how much [CLS] attention falls on the event."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from vtn_core.attention import span_mass
from vtn_core.boxes import boxes_file, read_boxes
from vtn_core.dataset import read_labels
from vtn_core.errors import DataError
from vtn_core.inference import run_video
from vtn_core.model import VTN


def evaluate(model: VTN, data_dir: str | Path, num_frames: int | None = None,
             progress: Callable[[int, int], None] | None = None, explanations: bool | None = None) -> dict[str, Any]:
    """Run every video of ``data_dir/labels.csv`` through the app's own pipeline and summarise.

    ``event_fraction``: mean share of sampled frames inside the event (what uniform attention scores);
    ``localization``: mean share of head-averaged first-layer [CLS] attention inside the event;
    ``localization_by_layer``: the same per layer. With ``data_dir/boxes.csv`` (and ``explanations`` not False):
    ``pointing_game`` (saliency peaks of sampled event frames inside the hero's box) and mean
    ``deletion_auc``/``insertion_auc`` per ordering (see ``vtn_core.explain_eval``).
    """
    records = read_labels(data_dir)
    box_path = boxes_file(data_dir) if explanations is not False else None
    boxes = read_boxes(box_path) if box_path else None
    root = box_path.parent if box_path else None
    explained: list[dict[str, Any]] = []
    unknown = sorted({r.label for r in records} - set(model.class_names))
    if unknown:
        raise DataError(f"{data_dir}: labels {', '.join(unknown)} are not classes of this model "
                        f"({', '.join(model.class_names[:8])}{'…' if len(model.class_names) > 8 else ''})")
    correct, fractions, by_layer, per_video = 0, [], [], []
    for number, record in enumerate(records):
        result = run_video(model, record.path, num_frames=num_frames, cache=False, prefetch=0)
        predicted = result.predicted_label
        correct += predicted == record.label
        row: dict[str, Any] = {"path": str(record.path), "label": record.label, "predicted": predicted}
        if record.event is not None:
            start, end = record.event
            inside = (result.frame_indices >= start) & (result.frame_indices <= end)
            fractions.append(float(inside.mean()))
            layers = [span_mass(result.attention(layer=layer), result.frame_indices, start, end)
                      for layer in range(result.num_layers)]
            by_layer.append(layers)
            row.update({"event_fraction": fractions[-1], "localization": layers[0]})
        if boxes is not None and root is not None:
            from vtn_core.explain_eval import explanation_scores  # grad-cam and Captum load only when needed
            scores = explanation_scores(model, record.path, record.label,
                                        boxes.get(record.path.relative_to(root).as_posix(), {}), num_frames)
            explained.append(scores)
            row.update({"pointing_hits": scores["hits"], "deletion_auc": scores["deletion_auc"],
                        "insertion_auc": scores["insertion_auc"]})
        per_video.append(row)
        if progress:
            progress(number + 1, len(records))
    summary: dict[str, Any] = {"accuracy": correct / len(records), "num_videos": len(records),
                               "attention": model.attention_mode}
    if by_layer:
        summary["event_fraction"] = float(np.mean(fractions))
        summary["localization"] = float(np.mean([layers[0] for layers in by_layer]))
        summary["localization_by_layer"] = [float(v) for v in np.mean(by_layer, axis=0)]
        summary["localization_ratio"] = summary["localization"] / max(summary["event_fraction"], 1e-9)
    if explained:
        from vtn_core.explain_eval import summarise_explanations
        summary.update(summarise_explanations(explained))
    summary["videos"] = per_video
    return summary
