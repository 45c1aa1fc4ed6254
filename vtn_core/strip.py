"""Reading an attention strip at any length (16 or 3,600 samples): peaks, their spans as video time, which
thumbnails fit the width, a zoom window, and clock-style time ticks. Plain arrays in, plain values out."""
from __future__ import annotations

import math

import numpy as np

THUMBNAIL_PX = 64  # on-screen width of one strip thumbnail
PEAK_OVER_MEDIAN = 1.5  # a peak stands out from the typical weight by at least this factor
NICE_STEPS_S = (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


def format_clock(seconds: float, decimals: int = 0) -> str:
    """Video time as a player shows it: "0:07", "1:12", "1:02:05" (``decimals`` adds tenths, …)."""
    seconds = max(0.0, float(seconds))
    scale = 10 ** decimals
    total = math.floor(seconds * scale + 1e-6) / scale
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{secs:0{3 + decimals if decimals else 2}.{decimals}f}"
    return f"{int(hours)}:{int(minutes):02d}:{text}" if hours else f"{int(minutes)}:{text}"


def format_span(start_s: float, end_s: float) -> str:
    """A time span as "1:12–1:15" (tenths when it is shorter than 2 s)."""
    decimals = 1 if end_s - start_s < 2 else 0
    return f"{format_clock(start_s, decimals)}–{format_clock(end_s, decimals)}"


def find_peaks(weights: np.ndarray, count: int, min_separation: int = 1) -> np.ndarray:
    """Indices of up to ``count`` attention peaks, highest first: samples at least ``min_separation`` apart
    whose weight exceeds ``PEAK_OVER_MEDIAN`` × the median (none when the weights are flat)."""
    weights = np.asarray(weights, dtype=float)
    if weights.size == 0 or count < 1:
        return np.zeros(0, dtype=np.int64)
    level = PEAK_OVER_MEDIAN * float(np.median(weights))
    chosen: list[int] = []
    for index in np.argsort(-weights, kind="stable"):  # the global maximum first
        if len(chosen) >= count or weights[index] <= level:
            break
        if all(abs(int(index) - c) >= max(1, min_separation) for c in chosen):
            chosen.append(int(index))
    return np.asarray(chosen, dtype=np.int64)


def peak_span(weights: np.ndarray, times: np.ndarray, peak: int | None = None, fraction: float = 0.5,
              sample_period_s: float | None = None) -> tuple[float, float]:
    """The time span around ``peak`` (default: the highest sample) over which the weight stays at least
    ``fraction`` of the peak's, widened by half a sample period on each side (the frames it stands for)."""
    weights, times = np.asarray(weights, dtype=float), np.asarray(times, dtype=float)
    if weights.size == 0:
        return (0.0, 0.0)
    peak = int(np.argmax(weights)) if peak is None else int(peak)
    level = weights[peak] * fraction
    lo = hi = peak
    while lo > 0 and weights[lo - 1] >= level:
        lo -= 1
    while hi < len(weights) - 1 and weights[hi + 1] >= level:
        hi += 1
    if sample_period_s is None:
        sample_period_s = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
    half = max(sample_period_s, 0.0) / 2
    return (max(0.0, float(times[lo]) - half), float(times[hi]) + half)


def thumbnails_for_width(width_px: int, count: int, thumbnail_px: int = THUMBNAIL_PX) -> int:
    """How many thumbnails fit side by side in ``width_px`` (at least 1, at most one per sample)."""
    return int(max(1, min(count, width_px // max(thumbnail_px, 1))))


def thin_thumbnails(weights: np.ndarray, times: np.ndarray, slots: int, peaks: int | None = None) -> np.ndarray:
    """Samples to show as thumbnails in ``slots`` equal slots over the time axis: in each slot the sample
    nearest its centre, except that the attention peaks win their slot (so thinning never hides them).

    ``peaks`` (default: a quarter of the slots, at least 3) are taken highest first, at least one slot
    apart; a slot holds one thumbnail, so a lower peak sharing a slot with a higher one gives way.
    Returns one sample index per slot, in time order.
    """
    weights, times = np.asarray(weights, dtype=float), np.asarray(times, dtype=float)
    count = len(times)
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    slots = int(max(1, min(slots, count)))
    if slots == count:
        return np.arange(count, dtype=np.int64)
    low, high = _extent(times)
    width = (high - low) / slots
    slot_of = np.clip(((times - low) // width).astype(np.int64), 0, slots - 1)
    centres = low + width * (np.arange(slots) + 0.5)
    shown = np.array([int(np.argmin(np.abs(times - c))) for c in centres], dtype=np.int64)
    separation = max(1, count // slots)
    taken: set[int] = set()
    for peak in find_peaks(weights, peaks if peaks is not None else max(3, slots // 4), separation):
        slot = int(slot_of[peak])
        if slot not in taken:
            shown[slot] = peak
            taken.add(slot)
    return shown


def _extent(times: np.ndarray) -> tuple[float, float]:
    """The strip's time extent: half a sample period beyond the first and last sample."""
    start, end = float(times[0]), float(times[-1])
    step = (end - start) / max(len(times) - 1, 1) if len(times) > 1 else 1.0
    return start - step / 2, end + step / 2


def zoom_window(times: np.ndarray, start_s: float, end_s: float) -> np.ndarray:
    """Indices of the samples whose time lies in [start_s, end_s] (at least the one nearest the window)."""
    times = np.asarray(times, dtype=float)
    inside = np.flatnonzero((times >= start_s) & (times <= end_s))
    if inside.size == 0 and times.size:
        inside = np.array([int(np.argmin(np.abs(times - (start_s + end_s) / 2)))])
    return inside


def clock_ticks(start_s: float, end_s: float, target: int = 8) -> tuple[list[float], list[str]]:
    """Tick positions and "m:ss" labels for a time axis from ``start_s`` to ``end_s`` (about ``target``)."""
    span = max(float(end_s) - float(start_s), 1e-6)
    step = next((s for s in NICE_STEPS_S if span / s <= target), NICE_STEPS_S[-1])
    first = math.ceil(max(start_s, 0.0) / step) * step
    values = [float(v) for v in np.arange(first, end_s + 1e-9, step)]
    return values, [format_clock(v, 1 if step < 1 else 0) for v in values]
