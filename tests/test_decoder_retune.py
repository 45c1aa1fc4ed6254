"""Issue 15: a dense read begun on one decoder thread checks that choice on its first frames and, where decoding
costs far more than converting, starts over on FFmpeg's frame threads - handing out each frame once, in order."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import vtn_core.video.stream as stream_module
from tests.videos import make_video, read_index
from vtn_core.config import Preprocessing
from vtn_core.video import iter_chunks, paces, probe_video
from vtn_core.video.decode import RETUNE_FRAMES, RETUNE_FROM_FRAME, FrameReader
from vtn_core.video.overlap import RETHREAD_BELOW, threads_after_measuring

VIT = Preprocessing()  # 256 short side, 224 crop: a heavy conversion


def test_frame_threads_only_where_conversion_costs_a_small_share_of_decoding():
    # 2 ms a frame to decode, 1.2 frames a sample: converting at 0.5 ms is 0.21 of decoding -> frame threads
    assert threads_after_measuring(0.002, 0.0005, 1.2) is None
    # a cheap encode: decoding 0.7 ms, converting 0.6 -> 0.71: the single thread stays
    assert threads_after_measuring(0.0007, 0.0006, 1.2) == 1
    share = 0.001 * 1.0 * RETHREAD_BELOW
    assert threads_after_measuring(0.001, share * 1.01, 1.0) == 1
    assert threads_after_measuring(0.001, share * 0.99, 1.0) is None
    # nothing measured (a clock that did not move) or nonsense: keep what was chosen
    assert threads_after_measuring(0.0, 0.0005, 1.2) == 1 and threads_after_measuring(0.001, 0.0005, 0.0) == 1


def _read(path, indices, info, **kwargs):
    reader = FrameReader(path, indices, info, **kwargs)
    items = [(k, read_index(image), time_s) for k, image, time_s in reader]
    return items, reader


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])  # gif: no seeking, indices partly by counting
def test_a_read_that_starts_over_hands_out_every_frame_once_in_order(tmp_path, suffix):
    path = make_video(tmp_path / f"v{suffix}", 40, height=96, width=128)
    info = probe_video(path)
    indices = np.array([0, 1, 1, 2, 3, 5, 8, 9, 9, 12, 20, 21, 30, 39])  # some before the switch, duplicates
    expected, plain = _read(path, indices, info, threads=1)
    asked, opened = [], []

    def retune(frame, frames, seconds):
        asked.append((frame.width, frames, seconds))
        return None  # FFmpeg's frame threads from here on

    reader = FrameReader(path, indices, info, threads=1, retune=retune)
    original_open = reader._open
    reader._open = lambda: (opened.append(reader.threads), original_open())[1]
    items = [(k, read_index(image), time_s) for k, image, time_s in reader]
    assert items == expected and [i for _, i, _ in items] == list(indices)
    assert len(asked) == 1 and asked[0][0] == 128 and asked[0][1] == RETUNE_FRAMES and asked[0][2] >= 0
    assert opened == [1, None] and reader.threads is None  # opened again, with frame threads
    assert reader.report == plain.report  # the frames decoded before the switch are not counted twice


def test_a_read_kept_on_one_thread_is_not_opened_again(tmp_path):
    path = make_video(tmp_path / "v.mp4", 30)
    info = probe_video(path)
    indices = np.arange(0, 30, 2)
    expected, _ = _read(path, indices, info, threads=1)
    asked, opened = [], []
    reader = FrameReader(path, indices, info, threads=1, retune=lambda *a: asked.append(a) or 1)
    original_open = reader._open
    reader._open = lambda: (opened.append(reader.threads), original_open())[1]
    assert [(k, read_index(image), t) for k, image, t in reader] == expected
    assert len(asked) == 1 and opened == [1] and reader.threads == 1


def test_a_clip_too_short_to_measure_is_never_asked(tmp_path):
    frames = RETUNE_FROM_FRAME + RETUNE_FRAMES  # the frame to ask at never comes
    path = make_video(tmp_path / "v.mp4", frames)
    info = probe_video(path)
    asked = []
    reader = FrameReader(path, np.arange(frames), info, threads=1, retune=lambda *a: asked.append(a))
    assert [read_index(image) for _, image, _ in reader] == list(range(frames))
    assert asked == [] and reader.threads == 1


def _chunks(path, indices, info, **kwargs):
    stream = iter_chunks(path, indices, VIT, 8, info=info, prefetch=1, workers=1, decode_device="cpu", **kwargs)
    chunks = list(stream)
    return torch.cat([c.pixels for c in chunks]).numpy(), np.concatenate([c.thumbnails for c in chunks]), stream


@pytest.mark.parametrize("measured_threads", [None, 1])
def test_chunks_are_the_same_whichever_decoder_the_measurement_picks(tmp_path, monkeypatch, measured_threads):
    path = make_video(tmp_path / "v.mp4", 36, height=240, width=320)
    info = probe_video(path)
    indices = np.array([0, 1, 2, 2, 3, 4, 6, 7, 9, 10, 11, 13, 17, 22, 23, 30, 35])
    monkeypatch.setattr(stream_module, "one_thread_may_pay", lambda *a, **k: False)
    reference, reference_thumbs, unmeasured = _chunks(path, indices, info)
    assert unmeasured.reader.retune is None and unmeasured.decoder_measured is None  # frame threads: nothing to check

    seen = []

    def decide(decode_s, convert_s, frames_per_sample):
        seen.append((decode_s, convert_s, frames_per_sample))
        return measured_threads
    monkeypatch.setattr(stream_module, "one_thread_may_pay", lambda *a, **k: True)  # a dense read, 2 cores
    monkeypatch.setattr(stream_module, "threads_after_measuring", decide)
    pixels, thumbs, stream = _chunks(path, indices, info)
    np.testing.assert_array_equal(pixels, reference)
    np.testing.assert_array_equal(thumbs, reference_thumbs)
    assert [read_index(t) for t in thumbs] == list(indices)
    assert len(seen) == 1 and seen[0][0] > 0 and seen[0][1] > 0
    assert seen[0][2] == pytest.approx(36 / 16)  # frames per sample: 36 decoded for 16 distinct samples
    assert stream.reader.threads == measured_threads
    measured = stream.decoder_measured
    assert measured["decode_ms_per_frame"] > 0 and measured["convert_ms_per_sample"] > 0
    assert measured["threads"] == (0 if measured_threads is None else 1)
    assert stream.report.decoded == unmeasured.report.decoded == 36


def test_no_measurement_where_the_gpu_decodes_or_the_conversion_is_the_old_one(tmp_path, monkeypatch):
    path = make_video(tmp_path / "v.mp4", 12, height=96, width=128)
    monkeypatch.setattr(stream_module, "one_thread_may_pay", lambda *a, **k: True)
    legacy = iter_chunks(path, np.arange(12), VIT, 4, workers=1, decode_device="cpu", conversion="legacy")
    assert legacy.reader.retune is None
    chosen = iter_chunks(path, np.arange(12), VIT, 4, workers=1, decode_device="cpu")
    assert chosen.reader.retune is not None and chosen.reader.threads == 1  # CPU decoding on one thread: checked
    monkeypatch.setattr(stream_module, "one_thread_may_pay", lambda *a, **k: False)
    threaded = iter_chunks(path, np.arange(12), VIT, 4, workers=1, decode_device="cpu")
    assert threaded.reader.retune is None and threaded.reader.threads is None


def test_the_next_read_of_a_file_remembers_what_the_first_measured(tmp_path, monkeypatch):
    path = make_video(tmp_path / "v.mp4", 36, height=240, width=320)
    info = probe_video(path)
    indices = np.arange(0, 36, 2)
    monkeypatch.setattr(stream_module, "one_thread_may_pay", lambda *a, **k: True)  # a dense read, 2 cores
    paces.forget()
    first_pixels, first_thumbs, first = _chunks(path, indices, info)
    assert first.reader.retune is not None and first.decoder_measured["remembered"] is False
    decoding = paces.decoding(path)
    assert decoding == pytest.approx(first.decoder_measured["decode_ms_per_frame"] / 1000)

    again = iter_chunks(path, indices, VIT, 8, info=info, prefetch=1, workers=1, decode_device="cpu")
    assert again.reader.retune is None  # nothing to measure, nothing to start over
    assert again.decoder_measured["remembered"] is True
    assert again.reader.threads == (None if again.decoder_measured["threads"] == 0 else 1)
    assert again.decoder_measured["threads"] == first.decoder_measured["threads"]
    chunks = list(again)
    np.testing.assert_array_equal(torch.cat([c.pixels for c in chunks]).numpy(), first_pixels)
    np.testing.assert_array_equal(np.concatenate([c.thumbnails for c in chunks]), first_thumbs)

    other = iter_chunks(path, indices, Preprocessing(resize_short_side=320, crop_size=288), 8, info=info,
                        prefetch=0, workers=1, decode_device="cpu")
    assert other.reader.retune is not None  # another recipe: its conversion was never measured

    make_video(path, 40, height=240, width=320)  # the file written again: measured again
    assert paces.decoding(path) is None
    fresh = iter_chunks(path, indices, VIT, 8, prefetch=0, workers=1, decode_device="cpu")
    assert fresh.reader.retune is not None


def test_what_is_remembered_is_bounded_and_only_what_was_measured(tmp_path):
    paces.forget()
    paces.remember_decoding(tmp_path / "missing.mp4", 0.001)  # a file that cannot be read: nothing kept
    paces.remember_converting(("recipe",), 0.0)  # a clock that did not move: nothing kept
    assert paces.decoding(tmp_path / "missing.mp4") is None and paces.converting(("recipe",)) is None
    for i in range(paces.MAX_REMEMBERED + 5):
        paces.remember_converting(("recipe", i), 0.001 * (i + 1))
    assert paces.converting(("recipe", 0)) is None and paces.converting(("recipe", paces.MAX_REMEMBERED + 4)) > 0
    paces.forget()
