"""The video pipeline: probe → sample → decode only what is needed → pre-process → chunks and thumbnails."""
from vtn_core.video.decode import DecodeReport, FrameReader, choose_strategy, read_frames
from vtn_core.video.preprocess import make_thumbnails, preprocess_frames, scaled_size
from vtn_core.video.probe import MAX_PIXELS, VideoInfo, frame_times, probe_video
from vtn_core.video.sampling import FrameSample, frame_positions, sample_indices
from vtn_core.video.stream import Chunk, ChunkStream, iter_chunks

__all__ = ["VideoInfo", "probe_video", "frame_times", "FrameSample", "sample_indices", "frame_positions",
           "FrameReader", "DecodeReport", "read_frames", "choose_strategy", "preprocess_frames", "make_thumbnails",
           "scaled_size", "Chunk", "ChunkStream", "iter_chunks", "MAX_PIXELS"]
