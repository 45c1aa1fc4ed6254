"""Decoding exactly the requested frames (every container, both strategies), rotation, VFR times, chunks."""
import dataclasses
import threading
import time

import numpy as np
import pytest

from tests.videos import make_video, painted_frame, read_index, vfr_times
from vtn_core.config import Preprocessing
from vtn_core.errors import VideoError
from vtn_core.video import FrameReader, iter_chunks, probe_video, read_frames, sample_indices

SUFFIXES = [".mp4", ".mov", ".mkv", ".avi", ".webm", ".gif"]
STRATEGIES = ["seek", "sequential", "auto"]


def by_slot(reader, bits: int = 8) -> dict[int, int]:
    return {k: read_index(image, bits) for k, image, _ in reader}


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_each_container_each_strategy_gives_the_requested_frames(tmp_path, suffix):
    path = make_video(tmp_path / f"v{suffix}", 300, bits=16, gop=30)
    info = probe_video(path)
    for count in (7, 40):
        sample = sample_indices(info, num_frames=count)
        for strategy in STRATEGIES:
            reader = FrameReader(path, sample.indices, info, strategy)
            got = by_slot(reader, 16)
            assert [got[k] for k in range(count)] == list(sample.indices), (strategy, count)
            assert reader.skipped == 0 and reader.report.skipped == 0 and reader.report.errors == 0


def test_auto_seeks_for_sparse_samples_and_decodes_little(tmp_path):
    path = make_video(tmp_path / "long.mp4", 25 * 150, height=32, width=48, bits=16, gop=50)  # 2.5 minutes
    info = probe_video(path)
    sparse = sample_indices(info, num_frames=12).indices
    reader = FrameReader(path, sparse, info)
    assert reader.strategy == "seek"
    assert [read_index(im, 16) for _, im, _ in reader] == list(sparse)
    assert reader.decoded < 12 * 60  # about half a GOP per sample, not the 3750 frames
    dense = sample_indices(info, num_frames=1000).indices
    assert FrameReader(path, dense, info).strategy == "sequential"
    sequential = FrameReader(path, dense[:300], info, "sequential")
    assert [read_index(im, 16) for _, im, _ in sequential] == list(dense[:300])


def test_duplicates_and_unsorted_requests(tmp_path):
    path = make_video(tmp_path / "v.mkv", 30)
    info = probe_video(path)
    wanted = np.array([9, 2, 9, 0, 29, 2])
    for strategy in STRATEGIES:
        items = list(read_frames(path, wanted, info, strategy))
        assert [k for k, _, _ in items] == [3, 1, 5, 0, 2, 4]  # increasing frame index, stable for duplicates
        assert {k: read_index(image) for k, image, _ in items} == {k: int(i) for k, i in enumerate(wanted)}


def test_frames_past_the_end_get_the_last_frame_and_are_counted(tmp_path):
    path = make_video(tmp_path / "v.mp4", 20)
    info = dataclasses.replace(probe_video(path), num_frames=30)  # a header that overstates the length
    for strategy in ("seek", "sequential"):
        reader = FrameReader(path, np.array([5, 19, 25, 29]), info, strategy)
        assert [read_index(im) for _, im, _ in reader] == [5, 19, 19, 19]
        assert reader.skipped == 2


def test_empty_request_reads_nothing(tmp_path):
    path = make_video(tmp_path / "v.mp4", 5)
    assert list(read_frames(path, np.array([], dtype=np.int64))) == []


def test_variable_rate_frames_and_their_real_times(tmp_path):
    times = vfr_times(80, seed=2)
    path = make_video(tmp_path / "vfr.mp4", 80, timestamps_s=times, gop=10)
    info = probe_video(path)
    sample = sample_indices(info, num_frames=9)
    for strategy in STRATEGIES:
        items = list(FrameReader(path, sample.indices, info, strategy))
        assert [read_index(image) for _, image, _ in items] == list(sample.indices), strategy
        np.testing.assert_allclose([t for _, _, t in items], times[sample.indices] + info.start_time_s, atol=2e-3)


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotation_is_applied_to_pixels(tmp_path, rotation):
    path = make_video(tmp_path / "rot.mp4", 10, height=48, width=80, rotation=rotation, crf=0)
    info = probe_video(path)
    _, image, _ = next(iter(FrameReader(path, np.array([6]), info)))
    assert image.shape == (info.height, info.width, 3)
    # the painted frame turned by the same counter-clockwise rotation (np.rot90 turns counter-clockwise)
    expected = np.rot90(painted_frame(6, 48, 80), rotation // 90)
    assert np.abs(image.astype(int) - expected).mean() < 8
    corner = {90: (slice(-5, None), slice(0, 5)), 180: (slice(-5, None), slice(-5, None)),
              270: (slice(0, 5), slice(-5, None))}[rotation]
    assert image[corner][..., 0].mean() > 200 and image[corner][..., 1].mean() < 60  # the red mark moved there
    assert read_index(np.rot90(image, -(rotation // 90))) == 6


def test_single_frame_video_reads(tmp_path):
    path = make_video(tmp_path / "one.webm", 1)
    info = probe_video(path)
    for strategy in STRATEGIES:
        assert [read_index(im) for _, im, _ in FrameReader(path, np.array([0, 0, 0]), info, strategy)] == [0, 0, 0]


# ---- chunks -----------------------------------------------------------------------------------------------
PREP = Preprocessing(resize_short_side=32, crop_size=32)


def test_chunks_are_bounded_ordered_and_equal_with_or_without_prefetch(tmp_path):
    path = make_video(tmp_path / "v.mp4", 60, height=64, width=80)
    info = probe_video(path)
    sample = sample_indices(info, num_frames=25)
    runs = []
    for prefetch in (0, 1, 3):
        stream = iter_chunks(path, sample.indices, PREP, 8, info=info, prefetch=prefetch)
        chunks = list(stream)
        assert [c.start for c in chunks] == [0, 8, 16, 24]
        assert [c.pixels.shape for c in chunks][0] == (8, 3, 32, 32) and chunks[-1].pixels.shape[0] == 1
        assert all(c.thumbnails.shape[1:] == (96, 120, 3) for c in chunks)
        assert [read_index(t) for c in chunks for t in c.thumbnails] == list(sample.indices)
        np.testing.assert_allclose(np.concatenate([c.timestamps_s for c in chunks]), sample.timestamps_s, atol=1e-3)
        assert stream.skipped == 0 and stream.report.decoded >= 25
        runs.append(np.concatenate([c.pixels.numpy() for c in chunks]))
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[0], runs[2])


def _decode_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "vtn-decode"]


def test_an_error_in_the_decode_thread_reaches_the_consumer(tmp_path):
    path = make_video(tmp_path / "v.mp4", 20)
    info = probe_video(path)
    path.write_bytes(b"")  # the file is replaced after probing
    with pytest.raises(VideoError, match="v.mp4"):
        list(iter_chunks(path, np.arange(10), PREP, 4, info=info, prefetch=1))
    time.sleep(0.2)
    assert not _decode_threads()


def test_stopping_early_stops_the_decode_thread(tmp_path):
    path = make_video(tmp_path / "v.mp4", 200)
    info = probe_video(path)
    chunks = iter(iter_chunks(path, np.arange(200), PREP, 4, info=info, prefetch=2))
    first = next(chunks)
    assert first.pixels.shape[0] == 4 and _decode_threads()
    chunks.close()  # the consumer stops (generator close)
    deadline = time.time() + 5
    while _decode_threads() and time.time() < deadline:
        time.sleep(0.05)
    assert not _decode_threads()
