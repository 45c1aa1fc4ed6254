"""Plain summaries of a loaded checkpoint for the Checkpoints page (reads attributes only)."""
from __future__ import annotations

from typing import Any

import vtn_core
from vtn_core.checkpoint import human_bytes


def summary(model: vtn_core.VTN, name: str, origin: str) -> dict[str, Any]:
    """One table row: what the file is, how big, what it predicts, how it was trained."""
    config, meta = model.config, model.metadata
    history = meta.get("history") if isinstance(meta.get("history"), list) else []
    last = history[-1] if history else {}
    return {
        "checkpoint": name,
        "origin": origin,
        "format": {"native": "VTN Explorer (.safetensors)", "official": "official PySlowFast (.pyth)"}.get(
            str(meta.get("format")), str(meta.get("format"))),
        "backbone": config.backbone,
        "file size": human_bytes(float(meta.get("file_bytes") or 0)),
        "parameters": f"{model.num_parameters() / 1e6:.2f} M",
        "classes": len(model.class_names),
        "attention": model.attention_mode,
        "temporal layers × heads": f"{config.num_hidden_layers} × {config.num_attention_heads}",
        "frames (eval)": config.eval_num_frames,
        "epochs": len(history) or None,
        "val accuracy": None if last.get("val_acc") is None else f"{last['val_acc']:.1%}",
    }


def architecture(model: vtn_core.VTN) -> dict[str, Any]:
    """The configuration fields a reader cares about, with the preprocessing."""
    config = model.config.to_dict()
    keys = ("backbone", "backbone_kwargs", "hidden_dim", "mlp_dim", "num_classes", "num_hidden_layers",
            "num_attention_heads", "attention_window", "max_position_embeddings", "position_scheme",
            "eval_num_frames", "target_fps", "attention_mode", "preprocessing")
    return {key: config.get(key) for key in keys if key in config}


def provenance(model: vtn_core.VTN) -> dict[str, Any]:
    """How the checkpoint was made: recipe, data, command, epochs, warnings (what the file records)."""
    meta = model.metadata
    keys = ("recipe", "data", "command", "train_seconds", "epoch", "format_version", "warnings")
    return {key: meta[key] for key in keys if meta.get(key) not in (None, "", [], {})}
