"""Cache: run_video on a video already in the result cache vs the same run cold."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from vtn_core.bench.common import median, timed
from vtn_core.cache import ResultCache
from vtn_core.inference import run_video


def bench_cache(model, video: Path, num_frames: int, repeats: int = 3) -> dict[str, Any]:
    """Cold (computed and stored) vs warm (read back) in a fresh cache folder."""
    with tempfile.TemporaryDirectory(prefix="vtn-bench-cache-") as folder:
        cache = ResultCache(folder)
        _, cold = timed(lambda: run_video(model, video, num_frames=num_frames, cache=cache))
        warm, hits = [], 0
        for _ in range(repeats):
            result, seconds = timed(lambda: run_video(model, video, num_frames=num_frames, cache=cache))
            warm.append(seconds)
            hits += int(bool(result.from_cache))
        entry_mb = sum(p.stat().st_size for p in cache.entries()) / 1024**2
    warm_s = median(warm)
    return {"frames": num_frames, "cold_s": cold, "warm_s": warm_s, "cache_speedup": cold / warm_s,
            "cache_hits": hits, "repeats": repeats, "entry_mb": entry_mb}
