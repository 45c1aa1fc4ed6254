"""Decode: our FrameReader (strategy "auto") vs decoding every frame to RGB, for the same samples."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import numpy as np

from vtn_core.bench.common import median, timed
from vtn_core.video import FrameReader, probe_video, sample_indices


def ours(video: Path, indices: np.ndarray, info) -> dict[str, Any]:
    """Read the samples with FrameReader(strategy="auto"): frames decoded, converted and the strategy taken."""
    reader = FrameReader(video, indices, info, strategy="auto")
    returned = sum(1 for _ in reader)
    return {"strategy": reader.strategy, "frames_decoded": reader.decoded, "frames_returned": returned}


def every_frame(video: Path, indices: np.ndarray) -> dict[str, Any]:
    """The naive reader (PySlowFast's PyAV path): decode every frame, convert each to RGB, keep the samples."""
    wanted = set(int(i) for i in indices)
    kept = decoded = 0
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for index, frame in enumerate(container.decode(stream)):
            image = frame.to_ndarray(format="rgb24")
            decoded += 1
            kept += index in wanted and image.size > 0
    return {"frames_decoded": decoded, "frames_returned": kept}


def bench_decode(video: Path, num_samples: int, repeats: int = 1) -> dict[str, Any]:
    """Seconds for our strategy and for decoding every frame; the speed-up is their ratio."""
    info = probe_video(video)
    indices = sample_indices(info, num_frames=num_samples).indices
    our_s, naive_s, detail = [], [], {}
    for _ in range(repeats):
        detail, seconds = timed(lambda: ours(video, indices, info))
        our_s.append(seconds)
        naive, seconds = timed(lambda: every_frame(video, indices))
        naive_s.append(seconds)
    ours_median, naive_median = median(our_s), median(naive_s)
    return {
        "video_s": info.duration_s, "video_frames": info.num_frames, "keyframe_interval": info.keyframe_interval,
        "samples": int(len(indices)), "strategy": detail["strategy"], "frames_decoded_ours": detail["frames_decoded"],
        "frames_decoded_every_frame": naive["frames_decoded"], "ours_s": ours_median, "every_frame_s": naive_median,
        "decode_speedup": naive_median / ours_median,
    }
