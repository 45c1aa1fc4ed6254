"""``batch``: a checkpoint over a whole corpus on Ray → ``RUN_DIR/results.parquet`` and ``RUN_DIR/run.json``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vtn_core.checkpoint import DEFAULT_MAX_CHECKPOINT_BYTES
from vtn_core.commands._common import positive_float, positive_int

HELP = "run a checkpoint over a folder or video list on Ray (local or a cluster) into a resumable Parquet run"


def _non_negative_float(text: str) -> float:
    if text.strip() in ("0", "0.0"):
        return 0.0
    return positive_float(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", type=Path, required=True,
                        help="a .pyth/.pth (official) or .safetensors checkpoint (on shared storage for a cluster)")
    parser.add_argument("--data", type=Path, required=True,
                        help="a folder with labels.csv, a plain folder of videos, or a PySlowFast CSV "
                             "(path label_index per line)")
    parser.add_argument("--out", type=Path, required=True,
                        help="run folder (created; a rerun with the same checkpoint and settings resumes)")
    parser.add_argument("--frames", type=positive_int, help="frames sampled per video (default: the checkpoint's)")
    parser.add_argument("--workers", type=positive_int,
                        help="model actors (default: one per CPU, or one per GPU when CUDA is present)")
    parser.add_argument("--gpus-per-worker", type=_non_negative_float,
                        help="GPUs per actor, fractions allowed (default: 1 when the cluster has GPUs, else 0)")
    parser.add_argument("--address", help="a running Ray cluster (e.g. ray://head:10001 or head:6379); "
                                          "default: a local Ray started in this process")
    parser.add_argument("--retry-errors", action="store_true", help="on resume, run again the videos that failed")
    parser.add_argument("--max-checkpoint-mb", type=float, default=DEFAULT_MAX_CHECKPOINT_BYTES / 1024**2,
                        help="refuse checkpoints larger than this (default %(default).0f MB)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from vtn_core.batch import EngineOptions, run_batch
    from vtn_core.batch.progress import summary_line

    options = EngineOptions(workers=args.workers, gpus_per_worker=args.gpus_per_worker, address=args.address,
                            max_checkpoint_bytes=int(args.max_checkpoint_mb * 1024**2))
    summary = run_batch(args.checkpoint, args.data, args.out, num_frames=args.frames, options=options,
                        retry_errors=args.retry_errors, show_progress=not args.quiet)
    sys.stdout.write(summary_line(summary) + f" → {args.out / 'results.parquet'}\n")
    return 0
