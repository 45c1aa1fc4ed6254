"""Long video: one sample per second through the bundled model, each length in a fresh process (peak RSS)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from vtn_core.bench.common import generated_video, run_worker


def bench_long(directory: Path, minutes: Sequence[int], checkpoint: Path | None) -> dict[str, Any]:
    """Wall time and peak RSS per video length; the growth of the last over the first shows length-dependence."""
    runs = []
    for length in minutes:
        video, made_s = generated_video(directory, int(length * 60))
        args = ["long", "--video", str(video), "--fps", "1"] + (["--checkpoint", str(checkpoint)] if checkpoint else [])
        run = run_worker(*args)
        run.update({"minutes": length, "video_mb": video.stat().st_size / 1024**2, "generate_s": made_s})
        runs.append(run)
    first, last = runs[0], runs[-1]
    growth = last["rss_growth_mb"] - first["rss_growth_mb"]
    return {"runs": runs, "lengths_min": list(minutes),
            "peak_rss_mb_longest": last["peak_rss_mb"],
            "peak_rss_ratio_longest_vs_shortest": last["peak_rss_mb"] / first["peak_rss_mb"],
            "rss_growth_difference_mb": growth,
            "result_mb_difference": last["result_mb"] - first["result_mb"],
            "rss_growth_beyond_result_mb": growth - (last["result_mb"] - first["result_mb"])}
