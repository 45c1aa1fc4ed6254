"""Issue 15: frames no sample asks for and no other frame refers to (the B-frames of most camera and ``ffmpeg``
encodes) are not decoded, and every sample comes out exactly as when every frame is decoded."""
from __future__ import annotations

from types import SimpleNamespace

import av
import numpy as np
import pytest

from tests.videos import make_video, painted_frame, read_index
from vtn_core.config import Preprocessing
from vtn_core.video import iter_chunks, probe_video
from vtn_core.video.decode import NONREF_CODECS, FrameReader, _Unwanted, passes_over_unreferenced


def _read(path, indices, info, **kwargs):
    reader = FrameReader(path, indices, info, **kwargs)
    return list(reader), reader


def _same(items, expected):
    return len(items) == len(expected) and all(
        k == k0 and t == t0 and np.array_equal(image, image0) for (k, image, t), (k0, image0, t0) in zip(items, expected))


@pytest.mark.parametrize("codec", ["libx264", "libx265"])
@pytest.mark.parametrize("threads", [1, None])
def test_unreferenced_frames_are_passed_over_and_every_sample_is_unchanged(tmp_path, codec, threads):
    path = make_video(tmp_path / "b.mp4", 120, height=96, width=128, codec=codec)  # veryfast: B-frames
    info = probe_video(path)
    indices = np.array([0, 5, 10, 10, 15, 31, 47, 48, 64, 80, 96, 111, 119])  # sparse, a duplicate, the last
    everything, full = _read(path, indices, info, threads=threads, skip_nonref=False)
    items, reader = _read(path, indices, info, threads=threads)
    assert _same(items, everything)
    assert [read_index(image) for _, image, _ in items] == list(indices)
    assert full.decoded == 120 and reader.decoded < full.decoded  # some frames were never decoded
    assert reader.skipped == full.skipped == 0 and reader.errors == 0


def test_seeking_reads_pass_over_unreferenced_frames_too(tmp_path):
    path = make_video(tmp_path / "long.mp4", 400, height=96, width=128, gop=50, bits=9)
    info = probe_video(path)
    indices = np.array([7, 180, 181, 260, 399])  # far apart: the reader seeks
    everything, full = _read(path, indices, info, strategy="seek", skip_nonref=False)
    items, reader = _read(path, indices, info, strategy="seek")
    assert reader.strategy == "seek" and _same(items, everything)
    assert [read_index(image, bits=9) for _, image, _ in items] == list(indices)
    assert reader.decoded < full.decoded


def test_a_variable_rate_video_gives_the_same_samples(tmp_path):
    times = np.cumsum(np.r_[0.0, np.where(np.arange(89) % 7 == 3, 0.09, 0.03)])  # uneven gaps
    path = make_video(tmp_path / "vfr.mp4", 90, height=96, width=128, timestamps_s=times)
    info = probe_video(path)
    indices = np.arange(0, 90, 6)
    everything, full = _read(path, indices, info, skip_nonref=False)
    items, reader = _read(path, indices, info)
    assert _same(items, everything) and reader.skipped == full.skipped


def test_chunks_are_the_same_bits_with_fewer_frames_decoded(tmp_path):
    path = make_video(tmp_path / "b.mp4", 90, height=96, width=128)
    indices = np.arange(0, 90, 4)
    prep = Preprocessing(resize_short_side=64, crop_size=48)

    def chunks(skip: bool):
        stream = iter_chunks(path, indices, prep, 8, prefetch=0, workers=1)
        stream.reader.skip_nonref = skip
        return list(stream), stream.report

    plain, plain_report = chunks(False)
    passed, passed_report = chunks(True)
    assert len(plain) == len(passed)
    for a, b in zip(plain, passed):
        assert a.start == b.start and np.array_equal(a.timestamps_s, b.timestamps_s)
        assert a.pixels.numpy().tobytes() == b.pixels.numpy().tobytes()
        assert np.array_equal(a.thumbnails, b.thumbnails)
    assert passed_report.decoded < plain_report.decoded and passed_report.skipped == plain_report.skipped == 0


def test_decoders_not_checked_decode_every_frame(tmp_path):
    path = make_video(tmp_path / "v.webm", 40, height=96, width=128)  # vp9 here: checked, but nothing to pass
    gif = make_video(tmp_path / "v.gif", 40)  # gif: not among the checked decoders
    assert "gif" not in NONREF_CODECS
    for video in (path, gif):
        info = probe_video(video)
        items, reader = _read(video, np.arange(0, 40, 5), info)
        everything, full = _read(video, np.arange(0, 40, 5), info, skip_nonref=False)
        assert _same(items, everything) and reader.decoded == full.decoded


def test_a_sample_still_waiting_for_its_packet_keeps_the_frames_after_it():
    unwanted = _Unwanted(np.array([3, 6, 6, 9]))
    assert not unwanted.may_skip(3, -1)  # asked for
    assert unwanted.may_skip(4, -1)  # 3 is in hand, 6 not reached
    assert not unwanted.may_skip(7, -1)  # 6 has no packet yet: 7 may have to stand in for it
    assert unwanted.may_skip(7, 6)  # ... until 6 has been handed out
    assert not unwanted.may_skip(9, 6)
    assert unwanted.may_skip(10, 6) and unwanted.may_skip(5, 6)


def test_no_frame_is_passed_over_after_a_rejected_packet_or_without_a_timestamp(tmp_path):
    path = make_video(tmp_path / "b.mp4", 30, height=96, width=128)
    reader = FrameReader(path, np.array([0, 20]), probe_video(path))
    reader._unwanted = _Unwanted(reader.indices)
    packet = SimpleNamespace(pts=10 * 512)  # frame 10 at 25 fps in a 1/12800 time base
    assert not reader._passes_over(packet, True, (1, 12800))  # frame 0, asked for, has not come yet
    assert not reader._passes_over(SimpleNamespace(pts=0), True, (1, 12800))
    assert reader._passes_over(packet, True, (1, 12800)) is True
    assert not reader._passes_over(packet, False, (1, 12800))
    assert not reader._passes_over(SimpleNamespace(pts=None), True, (1, 12800))
    reader.device = "cuda"
    assert not reader._passes_over(packet, True, (1, 12800))  # GPU decoders: not checked
    reader.device, reader.errors = "cpu", 1
    assert not reader._passes_over(packet, True, (1, 12800))


def _hevc(path, temporal_layers: int):
    """An HEVC mp4 of painted frames with ``temporal_layers`` temporal sub-layers (x265; 0: one)."""
    container = av.open(str(path), "w")
    stream = container.add_stream("libx265", rate=25)
    stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv420p"
    stream.options = {"x265-params": f"log-level=none:temporal-layers={temporal_layers}", "preset": "veryfast"}
    for i in range(60):
        for packet in stream.encode(av.VideoFrame.from_ndarray(painted_frame(i, 96, 128), format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def test_hevc_with_temporal_sub_layers_decodes_every_frame(tmp_path):
    # its non-reference pictures are sub-layer non-reference ones: a picture of a higher sub-layer may refer to them
    indices = np.arange(0, 60, 5)
    for layers, passes in ((0, True), (3, False)):
        path = _hevc(tmp_path / f"layers{layers}.mp4", layers)
        with av.open(str(path)) as container:
            context = container.streams.video[0].codec_context
            assert passes_over_unreferenced(context.name, context.extradata) is passes
        info = probe_video(path)
        items, reader = _read(path, indices, info)
        everything, full = _read(path, indices, info, skip_nonref=False)
        assert _same(items, everything) and [read_index(image) for _, image, _ in items] == list(indices)
        assert (reader.decoded < full.decoded) is passes
    assert not passes_over_unreferenced("hevc", None)  # no configuration record (Annex B): nothing is known
    assert not passes_over_unreferenced("hevc", bytes(30))  # numTemporalLayers 0: unknown
