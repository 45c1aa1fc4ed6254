"""Long video: one sample per second through the bundled model, each length in a fresh process (peak RSS)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from vtn_core.bench.common import generated_video, run_worker


def bench_long(directory: Path, minutes: Sequence[int], checkpoint: Path | None,
               before_after: bool = False) -> dict[str, Any]:
    """Wall time and peak RSS per video length; the growth of the last over the first shows length-dependence.

    ``before_after``: the longest video also runs through the pre-issue-15 decoding (whole-frame RGB, one
    in-process reader) right before the current one, in a fresh process of its own."""
    runs, before = [], None
    extra = ["--checkpoint", str(checkpoint)] if checkpoint else []
    for length in minutes:
        video, made_s = generated_video(directory, int(length * 60))
        if before_after and length == max(minutes):
            before = run_worker("long", "--video", str(video), "--fps", "1", "--legacy", *extra)
            before["minutes"] = length
        run = run_worker("long", "--video", str(video), "--fps", "1", *extra)
        run.update({"minutes": length, "video_mb": video.stat().st_size / 1024**2, "generate_s": made_s})
        runs.append(run)
    first, last = runs[0], runs[-1]
    growth = last["rss_growth_mb"] - first["rss_growth_mb"]
    compared = {} if before is None else {
        "before": before, "wall_ratio_after_vs_before": last["wall_s"] / before["wall_s"],
        "peak_rss_total_mb_before": before["peak_rss_total_mb"], "peak_rss_total_mb_after": last["peak_rss_total_mb"]}
    return {"runs": runs, "lengths_min": list(minutes), **compared,
            "peak_rss_mb_longest": last["peak_rss_mb"],
            "peak_rss_ratio_longest_vs_shortest": last["peak_rss_mb"] / first["peak_rss_mb"],
            "rss_growth_difference_mb": growth,
            "result_mb_difference": last["result_mb"] - first["result_mb"],
            "rss_growth_beyond_result_mb": growth - (last["result_mb"] - first["result_mb"])}
