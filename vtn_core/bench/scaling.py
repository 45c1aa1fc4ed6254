"""Temporal encoder scaling: forward_features of the ViT-B VTN's Longformer from 250 to 16,000 tokens."""
from __future__ import annotations

from typing import Any, Sequence

from vtn_core.bench.common import run_worker


def bench_scaling(sizes: Sequence[int], repeats: int, device: str = "cpu") -> dict[str, Any]:
    """Time and memory per size in one fresh process (sizes ascending, so each peak is that size's own)."""
    run = run_worker("temporal", "--sizes", ",".join(str(s) for s in sizes), "--repeats", str(repeats),
                     "--device", device)
    rows = run["sizes"]
    first, last = rows[0], rows[-1]
    before = rows[-2] if len(rows) > 1 else first
    return {"device": device, "baseline_rss_mb": run["baseline_rss_mb"], "sizes": rows,
            "tokens_ratio": last["tokens"] / first["tokens"], "time_ratio": last["seconds"] / first["seconds"],
            # 1.0 = perfectly linear; quadratic attention would give tokens_ratio here
            "time_per_token_ratio": last["ms_per_token"] / first["ms_per_token"],
            # the two largest sizes, where fixed per-call costs no longer hide the growth: 1.0 = linear
            "time_per_token_ratio_largest_two": last["ms_per_token"] / before["ms_per_token"]}
