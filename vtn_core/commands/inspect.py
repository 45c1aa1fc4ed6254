"""``inspect``: what a checkpoint is — format, architecture, classes, attention mode, training history."""
from __future__ import annotations

import argparse
import sys

from vtn_core import safe_text
from vtn_core.commands._common import add_checkpoint_arguments, emit_json, load_model_from_args

HELP = "describe a checkpoint (format, backbone, sizes, classes, attention mode, training history)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_checkpoint_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def describe(model) -> dict:
    """Plain facts about a loaded model."""
    meta, config = model.metadata, model.config
    history = meta.get("history") or []
    return {"path": meta.get("path"), "format": meta.get("format"), "file_bytes": meta.get("file_bytes"),
            "backbone": config.backbone, "backbone_kwargs": config.backbone_kwargs, "hidden_dim": config.hidden_dim,
            "layers": config.num_hidden_layers, "heads": config.num_attention_heads,
            "attention_window": config.attention_window, "attention": model.attention_mode,
            "parameters": model.num_parameters(), "num_classes": config.num_classes,
            "classes": list(model.class_names), "frames": config.eval_num_frames,
            "crop_size": config.preprocessing.crop_size, "position_scheme": config.position_scheme,
            "epochs_trained": len(history) or _whole(meta.get("epoch")),
            "final_val_acc": history[-1].get("val_acc") if history else None,
            "warnings": meta.get("warnings", [])}


def _whole(value: object) -> int | None:
    """An epoch count from metadata (anything else the file holds there is ignored)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def run(args: argparse.Namespace) -> int:
    facts = describe(load_model_from_args(args))
    if args.json:
        emit_json(facts, None)
        return 0
    classes = facts["classes"]
    shown = ", ".join(safe_text.terminal(c, 40) for c in classes[:8]) + (
        f", … ({len(classes)} in all)" if len(classes) > 8 else "")
    sys.stdout.write(
        f"{safe_text.terminal(facts['path'], None)}\n  format {facts['format']}, {facts['file_bytes'] / 1024**2:.1f} MB, "
        f"{facts['parameters'] / 1e6:.2f} M parameters\n"
        f"  backbone {facts['backbone']} {facts['backbone_kwargs']}, width {facts['hidden_dim']}\n"
        f"  temporal: {facts['layers']} layers x {facts['heads']} heads, window {facts['attention_window']}, "
        f"{facts['attention']} attention\n  input: {facts['frames']} frames at {facts['crop_size']} px, "
        f"positions '{facts['position_scheme']}'\n  classes: {shown}\n")
    if facts["epochs_trained"]:
        sys.stdout.write(f"  trained {facts['epochs_trained']} epochs"
                         + (f", final val acc {facts['final_val_acc']:.3f}" if facts["final_val_acc"] is not None else "") + "\n")
    for warning in facts["warnings"]:
        sys.stdout.write(f"  warning: {safe_text.terminal(warning, 300)}\n")
    return 0
