"""``predict``: one video through one checkpoint → top-k, [CLS] attention, timings (JSON/CSV)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vtn_core.commands._common import (add_checkpoint_arguments, emit_json, load_model_from_args, positive_float,
                                       positive_int, stderr_progress, write_text_atomic)
from vtn_core import safe_text
from vtn_core.errors import VTNError

HELP = "classify a video and report the [CLS] attention over its frames"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", type=Path, help="a video file (mp4, mov, avi, mkv, webm, gif, ...)")
    add_checkpoint_arguments(parser)
    sampling = parser.add_mutually_exclusive_group()
    sampling.add_argument("--frames", type=positive_int, help="frames to sample uniformly (default: the checkpoint's)")
    sampling.add_argument("--fps", type=positive_float, help="sample this many frames per second instead")
    parser.add_argument("--positions", choices=("wrap", "rescale"), help="position scheme (default: the checkpoint's)")
    parser.add_argument("--attention", choices=("learned", "uniform"), help="override the attention mode (what-if)")
    parser.add_argument("--chunk-size", type=positive_int, default=32, help="frames per backbone chunk")
    parser.add_argument("--json", type=Path, help="write the full result as JSON here ('-' for stdout)")
    parser.add_argument("--csv", type=Path, help="write per-frame attention as CSV here")
    parser.add_argument("--top-k", type=positive_int, default=5)
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the result cache")
    parser.add_argument("--cache-dir", type=Path, help="result cache folder (default: ~/.cache/vtn-explorer)")


def run(args: argparse.Namespace) -> int:
    from vtn_core.cache import ResultCache
    from vtn_core.inference import run_video

    if not args.video.is_file():
        raise VTNError(f"{args.video}: no such video file")
    for option, path in (("--json", args.json), ("--csv", args.csv)):
        if path is not None and str(path) != "-" and path.is_dir():
            raise VTNError(f"{option} {path} is a folder; give a file name")
    model = load_model_from_args(args)
    if args.attention:
        model.set_attention(args.attention)
    cache = False if args.no_cache else ResultCache(args.cache_dir / "results" if args.cache_dir else None)
    result = run_video(model, args.video, num_frames=args.frames, fps=args.fps, position_scheme=args.positions,
                       chunk_size=args.chunk_size, progress=stderr_progress(), cache=cache)
    if args.json:
        emit_json(result.to_json_dict(args.top_k), args.json)
    if args.csv:
        write_text_atomic(args.csv, result.attention_table().to_csv(index=False))
    if not args.json or str(args.json) != "-":
        for label, prob in result.top_k(args.top_k):
            sys.stdout.write(f"{prob:7.2%}  {safe_text.terminal(label)}\n")
        stats = result.statistics(layer=0)
        top = stats["top_frames"][0]
        sys.stdout.write(f"{result.num_frames} frames on {result.device}; strongest [CLS] attention (layer 0) at "
                         f"frame {top['frame']} ({top['time_s']:.2f} s); {result.timings_s['total']:.2f} s"
                         f"{' (cached)' if result.from_cache else ''}\n")
        for notice in result.notices:
            sys.stdout.write(f"note: {safe_text.terminal(notice, 300)}\n")
    return 0
