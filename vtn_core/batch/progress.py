"""The batch progress bar (videos done, videos/s, ETA) and the summary line."""
from __future__ import annotations

import math
import sys
import time
from typing import Any, TextIO

BAR_WIDTH = 24
PLAIN_EVERY_S = 10.0  # when stderr is not a terminal: one line at most this often


def format_eta(seconds: float | None) -> str:
    """``H:MM:SS`` or ``M:SS``; ``--:--`` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "--:--"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_text(done: int, total: int, elapsed_s: float, failed: int = 0, steady_rate: float | None = None) -> str:
    """``batch [#####-----] 12/40 · 1.8 videos/s · ETA 0:16 · 1 failed``: the rate over this run so far; the ETA
    from ``steady_rate`` (videos/s since the first video finished: model loading excluded) when known."""
    share = done / total if total else 1.0
    filled = round(BAR_WIDTH * share)
    rate = done / elapsed_s if elapsed_s > 0 and done else 0.0
    pace = steady_rate or rate
    eta = (total - done) / pace if pace > 0 else None
    text = (f"batch [{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {done}/{total} · {rate:.2f} videos/s · "
            f"ETA {format_eta(eta)}")
    return text + (f" · {failed} failed" if failed else "")


class ProgressBar:
    """Redraws one line on a terminal; elsewhere (logs, CI) writes a line every ``PLAIN_EVERY_S``."""

    def __init__(self, total: int, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.total, self.stream, self.enabled = total, stream or sys.stderr, enabled
        self.started = time.perf_counter()
        self.last_plain = 0.0
        self.first: tuple[int, float] | None = None

    def restart_clock(self) -> None:
        """Start timing now (after the engine started, so videos/s measures videos only)."""
        self.started = time.perf_counter()
        self.first = None

    def update(self, done: int, failed: int = 0) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        elapsed = now - self.started
        if self.first is None and done > 0:
            self.first = (done, now)
        steady = None
        if self.first is not None and done > self.first[0] and now > self.first[1]:
            steady = (done - self.first[0]) / (now - self.first[1])
        line = progress_text(done, self.total, elapsed, failed, steady)
        if self.stream.isatty():
            self.stream.write("\r" + line + ("\n" if done >= self.total else ""))
        elif done >= self.total or elapsed - self.last_plain >= PLAIN_EVERY_S:
            self.last_plain = elapsed
            self.stream.write(line + "\n")
        self.stream.flush()


def summary_line(summary: dict[str, Any]) -> str:
    """``40 videos: 39 ok, 1 failed · 11 resumed · accuracy 0.974 on 39 labelled · wall 52.1 s (0.8 videos/s)``."""
    counts, timings = summary["counts"], summary["timings"]
    parts = [f"{counts['videos']} videos: {counts['videos'] - counts['failed']} ok, {counts['failed']} failed"]
    if counts.get("resumed"):
        parts.append(f"{counts['resumed']} already done (resumed)")
    if summary.get("accuracy") is not None:
        parts.append(f"accuracy {summary['accuracy']:.3f} on {counts['scored']} labelled")
    rate = timings.get("videos_per_s")
    parts.append(f"wall {timings['wall_s']:.1f} s" + (f" ({rate:.2f} videos/s)" if rate else ""))
    return " · ".join(parts)
