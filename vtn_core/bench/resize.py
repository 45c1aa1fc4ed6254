"""The opt-in decoder-side resize (``run_video(resize="decoder")``) against the official recipe: how much it
changes logits and [CLS] attention, and how much faster decoding + pre-processing gets, on the same frames."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vtn_core.bench.common import REPO_ROOT, timed
from vtn_core.inference import run_video

OFFICIAL_FIXTURE = REPO_ROOT / "tests" / "fixtures" / "vtn_official_tiny.pyth"


def official_layout_model():
    """(model, source): the official-layout test checkpoint (PySlowFast .pyth), else None."""
    from vtn_core.checkpoint import load_checkpoint

    if OFFICIAL_FIXTURE.is_file():
        return load_checkpoint(OFFICIAL_FIXTURE, device="cpu"), f"official layout {OFFICIAL_FIXTURE.name}"
    return None, "official-layout fixture not found"


def resize_effect(model, video: Path, num_frames: int) -> dict[str, Any]:
    """Exact recipe vs decoder-side resize on the same samples: logits, top-1, attention, decode time."""
    exact, exact_s = timed(lambda: run_video(model, video, num_frames=num_frames, cache=False, decode_workers=1))
    fast, fast_s = timed(lambda: run_video(model, video, num_frames=num_frames, cache=False, decode_workers=1,
                                           resize="decoder"))
    attention_exact = exact.cls_attention.mean(axis=1)  # [layers, frames], heads averaged
    attention_fast = fast.cls_attention.mean(axis=1)
    return {"frames": num_frames, "input_px": model.config.preprocessing.crop_size,
            "max_abs_logit_diff": float(np.abs(exact.logits - fast.logits).max()),
            "logit_range": float(exact.logits.max() - exact.logits.min()),
            "max_abs_prob_diff": float(np.abs(exact.probabilities - fast.probabilities).max()),
            "same_top1": bool(int(np.argmax(exact.logits)) == int(np.argmax(fast.logits))),
            "max_abs_attention_diff": float(np.abs(attention_exact - attention_fast).max()),
            "attention_l1": float(np.abs(attention_exact - attention_fast).sum(axis=-1).max()),
            "exact_decode_s": exact.timings_s["decode"], "decoder_decode_s": fast.timings_s["decode"],
            "exact_total_s": exact_s, "decoder_total_s": fast_s}


def bench_resize(bundled, video: Path, frames_bundled: int, frames_official: int) -> dict[str, Any]:
    """The effect for the bundled model and the official-layout model."""
    rows: dict[str, Any] = {"bundled": resize_effect(bundled, video, frames_bundled)}
    official, source = official_layout_model()
    rows["official_source"] = source
    if official is not None:
        rows["official"] = resize_effect(official, video, frames_official)
    return rows
