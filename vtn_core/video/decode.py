"""Decode only the frames asked for: seek to the keyframe before sparse targets, stream straight through dense ones.

Frame index of a decoded frame: from its timestamp, ``round((t - start) * fps)`` for constant-rate videos
(robust to frames that fail to decode), the rank of its pts among all packets' pts for variable-rate ones
(``probe.frame_times``), and by counting only when the container carries no timestamps.

A target whose own frame does not decode gets the next frame that does (the last one at the end of the
stream) and is counted in ``skipped``; packets the decoder rejects are counted in ``errors``. Only the
frames yielded are converted to RGB; one frame is held at a time.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import av
import numpy as np

from vtn_core.errors import VideoError
from vtn_core.video.hwdecode import GpuDecodeFailed, choose_decode_device, open_for_decoding, planar_frame
from vtn_core.video.probe import VideoInfo, frame_times, open_container, probe_video

STRATEGIES = ("auto", "seek", "sequential")
# "auto" seeks when consecutive targets are more than this many keyframe intervals apart: a seek costs
# decoding on average half a GOP plus the reopening of the decoder (measured: docs/VIDEO.md)
SEEK_GAP_IN_GOPS = 1.5
_DEFAULT_GOP = 250
_MAX_SEEK_RETRIES = 3
MAX_DECODER_THREADS = 16  # FFmpeg's own cap on automatic frame threads
# a sequential read offered to ``retune`` times the CPU of frames RETUNE_FROM_FRAME .. + RETUNE_FRAMES, then asks it
# once. A process's first read pays for its first frames twice over (decoder buffers, caches, the converter
# starting): from frame 1 the cheap 720p clip measured 1.3-1.6 ms a frame there against 0.7-0.8 in later reads,
# from frame 8 0.77 against 0.71-0.74 (docs/VIDEO.md, "Decoder threads, measured")
RETUNE_FROM_FRAME = 8
RETUNE_FRAMES = 4
# decoders checked to pass over, when asked (FFmpeg's skip_frame = NONREF), the frames no other frame refers to
# and to give every other frame unchanged, on one thread and on frame threads (tests/test_video_nonref.py;
# docs/VIDEO.md, "Frames nobody refers to"); others decode every frame. HEVC only with one temporal sub-layer
# (``single_temporal_layer``)
NONREF_CODECS = frozenset({"h264", "hevc", "mpeg4", "mpeg2video", "vp8", "vp9", "libdav1d"})


# what decoding or converting a damaged file raises: the file's fault, reported by ``decode_failed``
DECODE_ERRORS = (av.FFmpegError, ValueError, OverflowError, IndexError, MemoryError)


def decode_failed(path: Path, exc: BaseException) -> VideoError:
    """The one message for a file whose frames cannot be decoded or converted (names the error type only)."""
    return VideoError(f"{path.name}: decoding failed ({type(exc).__name__}); the file may be corrupt; "
                      "try re-encoding it (e.g. to mp4/h264)")


@dataclass(frozen=True)
class DecodeReport:
    """After a read: samples given a substitute frame, frames decoded, packets the decoder rejected."""

    skipped: int
    decoded: int
    errors: int


def choose_strategy(info: VideoInfo, indices: np.ndarray) -> str:
    """"seek" when targets are sparse relative to the keyframe interval, else "sequential"."""
    if info.container == "gif":
        return "sequential"  # gif cannot seek to a keyframe
    unique = np.unique(np.asarray(indices, dtype=np.int64))
    if len(unique) < 2:
        return "seek" if len(unique) and unique[0] > 0 else "sequential"
    gap = float(np.median(np.diff(unique)))
    gop = info.keyframe_interval or _DEFAULT_GOP
    return "seek" if gap > SEEK_GAP_IN_GOPS * gop else "sequential"


def automatic_decoder_threads(cpus: int | None = None) -> int:
    """FFmpeg's frame threads, one per core (at most ``MAX_DECODER_THREADS``). FFmpeg's own automatic count
    is one more than the cores; on 2 cores that third thread made decoding 15% slower (docs/VIDEO.md)."""
    return max(1, min(MAX_DECODER_THREADS, cpus or os.cpu_count() or 1))


def single_temporal_layer(extradata: bytes | None) -> bool:
    """Whether an HEVC stream's configuration record (hvcC, as mp4 and mkv carry it) declares one temporal
    sub-layer. HEVC's non-reference pictures are *sub-layer* non-reference pictures, which pictures of a higher
    sub-layer may still refer to, so FFmpeg's ``NONREF`` is safe only where there is one (numTemporalLayers 1;
    0 is "unknown", and a stream without the record tells nothing)."""
    return bool(extradata) and len(extradata) > 22 and extradata[0] == 1 and (extradata[21] >> 3) & 7 == 1


def passes_over_unreferenced(codec: str, extradata: bytes | None) -> bool:
    """Whether this decoder may be asked to pass over frames nothing refers to (``NONREF_CODECS``)."""
    return codec in NONREF_CODECS and (codec != "hevc" or single_temporal_layer(extradata))


class _Unwanted:
    """The packets of a read that no sample asks for and that no sample can fall back on: the decoder may pass
    them over where no other frame refers to them (B-frames of most camera, phone and ``ffmpeg`` encodes).

    A packet (by the index of its frame) may be passed over when no sample asks for it and every sample before
    it has its own packet in hand or its frame already: a sample whose own frame is missing takes the next one
    that decodes (``FrameReader``), which must not be one passed over."""

    def __init__(self, indices: np.ndarray) -> None:
        self._wanted = np.unique(np.asarray(indices, dtype=np.int64))
        self._members = set(self._wanted.tolist())
        self._seen: set[int] = set()
        self._open = 0  # the first sample neither seen as a packet nor handed out

    def may_skip(self, index: int, handed_out_through: int) -> bool:
        """Whether the packet of frame ``index`` may be passed over, samples up to frame ``handed_out_through``
        already handed out."""
        if index in self._members:
            self._seen.add(index)
            return False
        wanted = self._wanted
        while self._open < len(wanted) and (wanted[self._open] <= handed_out_through
                                            or int(wanted[self._open]) in self._seen):
            self._open += 1
        return self._open == len(wanted) or bool(wanted[self._open] > index)


class FrameReader:
    """Iterates ``(k, RGB uint8 frame [H, W, 3], time_s)`` for ``indices`` in increasing index order.

    ``k`` is the position in the requested list; duplicates yield the same frame again. Rotation metadata
    is applied. ``skipped``, ``decoded``, ``errors`` (and ``report``) are final once iteration ends.

    ``convert`` replaces the RGB conversion (it gets the decoded ``av.VideoFrame``; ``video.convert`` gives
    only the pixels the model reads). ``threads``: decoder threads (``None``: FFmpeg's frame + slice threads).
    ``device``: "cpu", "cuda" (NVDEC through FFmpeg) or "auto" (the faster one, measured: ``hwdecode``); a GPU
    decoder that cannot open or fails before the first frame falls back to the CPU (``notices`` says so).

    ``retune(frame, frames, seconds)``: asked once, in a sequential read, when ``RETUNE_FRAMES`` frames past
    frame ``RETUNE_FROM_FRAME`` took ``seconds`` of this thread's CPU to come, with the frame in hand; it
    returns the decoder threads for the rest of the read. Where that differs from ``threads`` the decoder is
    opened again with it and the read starts over from the first frame; frames already handed out are not
    handed out again (nor counted twice in ``decoded``).

    ``skip_nonref``: on the CPU, for the decoders of ``passes_over_unreferenced``, frames that no sample asks
    for and no other frame refers to are passed over, not decoded (``_Unwanted``; the same frames come out);
    ``decoded`` counts the frames that were decoded.
    """

    def __init__(self, path: str | Path, indices: np.ndarray, info: VideoInfo | None = None,
                 strategy: str = "auto", *, convert: Callable[[av.VideoFrame], Any] | None = None,
                 threads: int | None = None, device: str = "cpu",
                 retune: Callable[[av.VideoFrame, int, float], int | None] | None = None,
                 skip_nonref: bool = True) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
        self.path = Path(path)
        self.info = info or probe_video(self.path)
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        self.strategy = choose_strategy(self.info, self.indices) if strategy == "auto" else strategy
        self.skipped = 0
        self.decoded = 0
        self.errors = 0
        self._times: np.ndarray | None = None  # pts table of a variable-rate video
        self._convert = convert or self._rgb
        self.threads = threads
        self.retune = retune
        self.skip_nonref = skip_nonref
        self._handed_out_through = -1  # the frame index of the latest frame handed out
        self._unwanted: _Unwanted | None = None  # per read (``_read``)
        self.device, notice = choose_decode_device(device)
        self.notices: list[str] = [notice] if notice else []

    @property
    def report(self) -> DecodeReport:
        """Counts so far (final after iteration)."""
        return DecodeReport(skipped=self.skipped, decoded=self.decoded, errors=self.errors)

    def __iter__(self) -> Iterator[tuple[int, np.ndarray, float]]:
        if len(self.indices) == 0:
            return
        order = np.argsort(self.indices, kind="stable")
        if self.info.variable_fps:
            self._times = frame_times(self.path)
        try:
            yield from self._read(order)
        except GpuDecodeFailed as failure:  # before any frame came out: the same read on the CPU
            self.notices.append(f"GPU decoding failed ({failure}); decoded on the CPU instead")
            self.device = "cpu"
            self.skipped = self.decoded = self.errors = 0
            yield from self._read(order)

    def _read(self, order: np.ndarray) -> Iterator[tuple[int, Any, float]]:
        self._handed_out_through = -1
        self._unwanted = _Unwanted(self.indices) if self.skip_nonref else None
        try:
            done = 0
            if self.strategy == "seek":
                for done_now, item in self._seeking(order):
                    done = done_now
                    yield item
            if done < len(order):
                yield from self._sequential(order, done)
        except VideoError:
            raise
        except DECODE_ERRORS as exc:
            raise decode_failed(self.path, exc) from None

    # ---- frames and their indices ----------------------------------------------------------------------
    def _open(self) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
        if self.device == "cpu":
            container = open_container(self.path)
        else:
            container, notice = open_for_decoding(self.path, self.device, fallback=lambda: open_container(self.path))
            if notice:
                self.notices.append(notice)
                self.device = "cpu"
        stream = container.streams.video[0]
        if self.threads is None:  # frame + slice threads, one per core: ~1.5x on 2 cores (docs/VIDEO.md)
            stream.codec_context.thread_count = automatic_decoder_threads()
            stream.thread_type = "AUTO"
        else:
            stream.codec_context.thread_count = max(1, int(self.threads))
            stream.thread_type = "AUTO" if self.threads > 1 else "SLICE"
        return container, stream

    def _index_of(self, frame: av.VideoFrame, counter: int) -> int | None:
        """Source index of ``frame``; ``None`` when only counting can tell (no timestamps)."""
        return None if frame.time is None else self._index_at(float(frame.time))

    def _index_at(self, time_s: float) -> int:
        """Source index of the frame shown at ``time_s`` (its timestamp)."""
        if self._times is not None and len(self._times):
            position = int(np.searchsorted(self._times, time_s - 1e-6))
            return min(position, len(self._times) - 1)
        return int(round((time_s - self.info.start_time_s) * self.info.fps))

    def _passes_over(self, packet: av.Packet, decoder_may: bool, time_base: tuple[int, int]) -> bool:
        """Whether the decoder may pass over ``packet`` if no other frame refers to it (``_Unwanted``): on the CPU,
        where ``decoder_may`` (``passes_over_unreferenced``), with timestamps, and not after a packet was
        rejected (a sample's own frame may then be missing for a reason no timestamp tells). ``time_base``: the
        stream's (numerator, denominator), the packet's time computed as PyAV computes a frame's."""
        if (self._unwanted is None or self.device != "cpu" or not decoder_may or packet.pts is None
                or self.errors or not time_base[0]):
            return False
        time_s = float(packet.pts) * time_base[0] / time_base[1]
        return self._unwanted.may_skip(self._index_at(time_s), self._handed_out_through)

    def _time_of(self, frame: av.VideoFrame, index: int) -> float:
        if frame.time is not None:
            return float(frame.time)
        return self.info.start_time_s + index / self.info.fps

    def _frames(self, container, stream) -> Iterator[av.VideoFrame]:
        """Decode packet by packet; a packet the decoder rejects is counted and passed over. Frames no sample
        needs and no frame refers to are not decoded (``_passes_over``)."""
        demux = container.demux(stream)
        context, discarding = stream.codec_context, None
        decoder_may = passes_over_unreferenced(context.name, context.extradata)
        time_base = (stream.time_base.numerator, stream.time_base.denominator) if stream.time_base else (0, 1)
        while True:
            try:
                packet = next(demux)
            except StopIteration:
                break
            except av.FFmpegError:  # a damaged container: what follows cannot be found
                self.errors += 1
                break
            discard = self._passes_over(packet, decoder_may, time_base)
            if discard is not discarding:  # read by the decoder for each packet it is handed (frame threads too)
                context.skip_frame = "NONREF" if discard else "DEFAULT"
                discarding = discard
            try:
                frames = packet.decode()
            except (av.FFmpegError, ValueError) as exc:
                if self.device != "cpu" and self.decoded == 0:
                    raise GpuDecodeFailed(type(exc).__name__) from None
                self.errors += 1
                continue
            for frame in frames:
                self.decoded += 1
                yield self._as_cpu_would(frame)

    def _as_cpu_would(self, frame: av.VideoFrame) -> av.VideoFrame:
        """A GPU decoder's NV12 frame as the CPU decoder's planar one (``hwdecode.planar_frame``); others as they are."""
        if self.device != "cpu" and frame.format.name == "nv12":
            return planar_frame(frame)
        return frame

    def _rgb(self, frame: av.VideoFrame) -> np.ndarray:
        image = frame.to_ndarray(format="rgb24")
        turns = (self.info.rotation // 90) % 4
        return np.ascontiguousarray(np.rot90(image, turns)) if turns else image

    def _emit(self, order, targets, pointer, index, image, time_s) -> list[tuple[int, np.ndarray, float]]:
        """Items for every pending target up to ``index`` (those before it never came out: skipped)."""
        items = []
        while pointer < len(targets) and targets[pointer] <= index:
            if targets[pointer] < index:
                self.skipped += 1
            items.append((int(order[pointer]), image, time_s))
            pointer += 1
        if items:
            self._handed_out_through = max(self._handed_out_through, int(index))
        return items

    # ---- strategies ------------------------------------------------------------------------------------
    def _sequential(self, order: np.ndarray, pointer: int):
        """Decode from the start, converting only target frames."""
        targets = self.indices[order]
        last = None
        frames = self._counted_frames()
        try:
            for counter, frame in frames:
                if pointer >= len(targets):
                    break
                index = self._index_of(frame, counter)
                index = counter if index is None else index
                if index < targets[pointer]:
                    continue
                image, time_s = self._convert(frame), self._time_of(frame, index)
                last = (image, time_s)
                for item in self._emit(order, targets, pointer, index, image, time_s):
                    pointer += 1
                    yield item
        finally:
            frames.close()
        for item in self._fill_tail(order, pointer, last):
            yield item

    def _counted_frames(self) -> Iterator[tuple[int, av.VideoFrame]]:
        """(frame counter, frame) from the first frame of the stream, on a decoder opened here. Offered to
        ``retune`` once; where it asks for other threads, opened again with them and counted from 0 again (the
        caller passes over frames it has handed out already: their indices lie before its next target)."""
        counts = (self.decoded, self.errors)
        container, stream = self._open()
        try:
            frames, counter, ask, started = self._frames(container, stream), 0, self.retune is not None, 0.0
            while True:
                frame = next(frames, None)
                if frame is None:
                    return
                if ask and counter == RETUNE_FROM_FRAME:
                    started = time.thread_time()
                elif ask and counter == RETUNE_FROM_FRAME + RETUNE_FRAMES:
                    ask = False
                    threads = self.retune(frame, RETUNE_FRAMES, time.thread_time() - started)
                    if threads != self.threads:
                        container.close()
                        self.threads, (self.decoded, self.errors) = threads, counts
                        container, stream = self._open()
                        frames, counter = self._frames(container, stream), 0
                        continue
                yield counter, frame
                counter += 1
        finally:
            container.close()

    def _seeking(self, order: np.ndarray):
        """Seek to the keyframe before each far target, decode forward; yields (targets done, item).

        Stops early (the caller finishes sequentially) when the file cannot seek or has no timestamps.
        """
        targets = self.indices[order]
        gop = self.info.keyframe_interval or _DEFAULT_GOP
        pointer, last = 0, None
        container, stream = self._open()
        try:
            time_base = float(stream.time_base or 0)
            while pointer < len(targets) and time_base > 0:
                target = int(targets[pointer])
                first = self._seek_before(container, stream, target, time_base)
                if first is None:
                    return  # cannot seek or no timestamps: sequential from here
                frame, index, frames = first
                while frame is not None:
                    if index >= target:
                        image, time_s = self._convert(frame), self._time_of(frame, index)
                        last = (image, time_s)
                        for item in self._emit(order, targets, pointer, index, image, time_s):
                            pointer += 1
                            yield pointer, item
                        # keep decoding forward while the next target is near; seek again when it is far
                        if pointer >= len(targets) or targets[pointer] - index > gop:
                            break
                        target = int(targets[pointer])
                    frame = next(frames, None)
                    index = self._index_of(frame, 0) if frame is not None else None
                    if frame is not None and index is None:
                        return
                if frame is None:
                    break  # end of stream: the remaining targets lie past the last frame
        finally:
            container.close()
        if last is not None:
            for item in self._fill_tail(order, pointer, last):
                pointer += 1
                yield pointer, item

    def _seek_before(self, container, stream, target: int, time_base: float):
        """Seek so that decoding starts at or before ``target``; (first frame, its index, frame iterator)."""
        margin = 0
        for _ in range(_MAX_SEEK_RETRIES):
            seconds = self._target_time(max(target - margin, 0))
            try:
                container.seek(max(int(seconds / time_base), 0), stream=stream, backward=True, any_frame=False)
            except (av.FFmpegError, OverflowError, ValueError):
                return None
            frames = self._frames(container, stream)
            frame = next(frames, None)
            if frame is None:
                return None
            index = self._index_of(frame, 0)
            if index is None:
                return None
            if index <= target or target - margin <= 0:
                return frame, index, frames
            margin = max(2 * margin, self.info.keyframe_interval or _DEFAULT_GOP)  # landed late: back off
        return None

    def _target_time(self, index: int) -> float:
        if self._times is not None and len(self._times):
            return float(self._times[min(index, len(self._times) - 1)])
        return self.info.start_time_s + index / self.info.fps

    def _fill_tail(self, order, pointer, last):
        """Targets past the last decodable frame get the last frame (counted as skipped)."""
        if pointer >= len(order):
            return
        if last is None:
            raise VideoError(f"{self.path.name}: none of the requested frames could be decoded; the file is "
                             "corrupt or truncated; try re-encoding it (e.g. to mp4/h264)")
        for k in order[pointer:]:
            self.skipped += 1
            yield int(k), last[0], last[1]


def read_frames(path: str | Path, indices: np.ndarray, info: VideoInfo | None = None,
                strategy: str = "auto") -> Iterator[tuple[int, np.ndarray, float]]:
    """Decode the frames at ``indices``; yields (k, RGB frame, time_s) in increasing index order (k = request slot)."""
    return iter(FrameReader(path, indices, info, strategy))
