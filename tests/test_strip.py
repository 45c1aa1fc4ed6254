"""Reading the strip at any length: thinning keeps the attention peaks, spans as video time, ticks, zoom."""
import numpy as np
import pytest

from vtn_core import plots, strip


def _attention(count, peaks, rng):
    """Noise-level weights with sharp bumps at ``peaks`` (each a few samples wide), normalised."""
    weights = rng.uniform(0.5, 1.0, count)
    for position, height in peaks:
        lo, hi = max(0, position - 2), min(count, position + 3)
        weights[lo:hi] += height * np.hanning(hi - lo + 2)[1:-1]
    return weights / weights.sum()


@pytest.mark.parametrize("count", [16, 250, 3600])
@pytest.mark.parametrize("slots", [5, 12, 40])
def test_thinning_keeps_the_peaks(count, slots):
    rng = np.random.default_rng(count + slots)
    times = np.arange(count) * (3600 / 25 / count)  # 144 s of video, whatever the sample count
    positions = sorted(rng.choice(np.arange(3, count - 3), size=3, replace=False)) if count > 16 else [2, 8, 13]
    weights = _attention(count, [(int(p), h) for p, h in zip(positions, (60.0, 40.0, 25.0))], rng)
    shown = strip.thin_thumbnails(weights, times, slots)
    assert len(shown) == min(slots, count)
    assert np.all(np.diff(shown) > 0)  # one per slot, in time order
    assert int(np.argmax(weights)) in shown  # the global peak is always shown
    peaks = strip.find_peaks(weights, 3, min_separation=max(1, count // min(slots, count)))
    width = (times[-1] - times[0]) / min(slots, count)
    for peak in peaks:  # a peak only gives way to a higher one within one slot's width
        assert peak in shown or any(weights[s] > weights[peak] and abs(times[s] - times[peak]) < 2 * width
                                    for s in shown)


def test_thinning_without_peaks_is_even_and_shows_all_when_room():
    times = np.linspace(0, 100, 1000)
    shown = strip.thin_thumbnails(np.full(1000, 1e-3), times, 10)
    assert np.allclose(np.diff(times[shown]), 10, atol=0.2)
    assert list(strip.thin_thumbnails(np.ones(6), np.arange(6.0), 20)) == list(range(6))
    assert strip.thin_thumbnails(np.zeros(0), np.zeros(0), 5).size == 0


def test_peak_span_and_clock_text():
    times = np.arange(250) * 0.4  # 100 s sampled every 0.4 s
    weights = np.full(250, 0.001)
    weights[180:188] = [0.05, 0.1, 0.2, 0.3, 0.3, 0.2, 0.1, 0.01]  # 72.0–74.8 s
    start, end = strip.peak_span(weights, times)
    assert (start, end) == pytest.approx((72.6, 74.2))  # weight ≥ half the peak: samples 182–185, ± 0.2 s
    assert strip.format_span(start, end) == "1:12.6–1:14.2"  # under 2 s: tenths
    weights[178:192] = 0.3  # a longer plateau: 71.2–76.4 s
    assert strip.format_span(*strip.peak_span(weights, times)) == "1:11–1:16"
    assert strip.format_clock(3725.4) == "1:02:05" and strip.format_clock(7.25, 1) == "0:07.2"
    assert strip.format_span(1.0, 2.5) == "0:01.0–0:02.5"


def test_clock_ticks_fit_any_length():
    for end in (3.0, 75.0, 180.0, 3600.0):
        values, labels = strip.clock_ticks(0.0, end)
        assert 2 <= len(values) <= 9 and values[0] >= 0 and values[-1] <= end
        assert all(":" in label for label in labels)
    assert strip.clock_ticks(0, 180)[1][:3] == ["0:00", "0:30", "1:00"]


def test_zoom_window_and_width():
    times = np.arange(3600) / 25
    inside = strip.zoom_window(times, 60, 70)
    assert times[inside].min() >= 60 and times[inside].max() <= 70 and len(inside) == 251
    assert len(strip.zoom_window(times, 500, 600)) == 1  # past the end: the nearest sample
    assert strip.thumbnails_for_width(1100, 3600) == 17 and strip.thumbnails_for_width(1100, 6) == 6


@pytest.mark.parametrize("count", [16, 250, 3600])
def test_strip_figure_reads_at_any_length(count):
    rng = np.random.default_rng(count)
    times = np.arange(count) * (150 / count)
    weights = _attention(count, [(count // 2, 50.0)], rng)
    thumbs = rng.integers(0, 255, (count, 9, 16, 3), dtype=np.uint8)
    fig = plots.attention_strip(weights, times, np.arange(count) * 3, thumbs, event_times=(70.0, 76.0),
                                max_thumbnails=12)
    images = fig.layout.images
    assert len(images) == min(12, count)
    peak_time = times[int(np.argmax(weights))]
    assert any(abs(image.x - peak_time) < 150 / 12 for image in images)  # the peak's slot is there
    texts = [a.text for a in fig.layout.annotations]
    assert any(t.startswith("peak ") and "–" in t for t in texts)
    assert all(":" in t for t in fig.layout.xaxis.ticktext)
