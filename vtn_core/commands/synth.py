"""``synth``: generate the long-video event dataset (videos + labels.csv)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vtn_core.commands._common import positive_int
from vtn_core.errors import DataError

HELP = "generate synthetic videos with one short class-defining event each (labels.csv, boxes.csv)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="output folder (videos/, labels.csv, boxes.csv)")
    parser.add_argument("--preset", choices=("short", "long"), default="short",
                        help="short: 64–128-frame square clips (default, quick tests); "
                             "long: 60–180 s 480×270 videos with a 2–5 s event")
    parser.add_argument("--videos", type=positive_int, required=True, help="number of videos")
    parser.add_argument("--seed", type=int, required=True, help="random seed (same seed, same data)")
    parser.add_argument("--frames", type=positive_int, help="fixed length in frames (short ≥ 64, long ≥ 1500); default varies")
    parser.add_argument("--size", type=positive_int, default=96, help="short preset: square frame size in pixels (even)")
    parser.add_argument("--workers", type=positive_int, help="processes (default: up to 2)")


def run(args: argparse.Namespace) -> int:
    from vtn_core.synthetic import MIN_FRAMES, generate_dataset
    from vtn_core.synthetic_long import FPS, MIN_SECONDS

    minimum = int(MIN_SECONDS * FPS) if args.preset == "long" else MIN_FRAMES
    if args.frames is not None and args.frames < minimum:
        raise DataError(f"--frames must be at least {minimum} for the {args.preset} preset, got {args.frames}")
    if args.size % 2 or args.size < 32:
        raise DataError(f"--size must be an even number of pixels ≥ 32, got {args.size}")
    if args.out.exists() and not args.out.is_dir():
        raise DataError(f"--out {args.out} exists and is not a folder")
    if args.out.is_dir() and any(args.out.iterdir()) and not (args.out / "labels.csv").exists():
        raise DataError(f"--out {args.out} is a non-empty folder that is not a dataset; choose an empty or new folder")

    def progress(done: int, total: int) -> None:
        if done == total or done % max(1, total // 20) == 0:
            sys.stderr.write(f"\rsynth: {done}/{total} videos")
            if done == total:
                sys.stderr.write("\n")

    labels = generate_dataset(args.out, args.videos, args.seed, frames=args.frames, size=args.size,
                              workers=args.workers, progress=progress, preset=args.preset)
    sys.stdout.write(f"wrote {args.videos} videos and {labels}\n")
    return 0
