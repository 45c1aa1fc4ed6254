"""``bench``: measure the pipeline's overhead, decoding, single pass vs multi-view, long videos, scaling, cache."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vtn_core.commands._common import emit_json
from vtn_core.errors import VTNError

HELP = "benchmark the pipeline (ratios measured side by side); --quick for a short run"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="small videos and sizes, few repeats (< 2 minutes)")
    parser.add_argument("--json", type=Path, help="also write the full results as JSON here ('-' for stdout)")
    parser.add_argument("--checkpoint", type=Path,
                        help="the model to benchmark as 'bundled' (default: assets/models/vtn_resnet_learned.safetensors)")
    parser.add_argument("--cache-dir", type=Path, help="where generated test videos are kept (default: "
                        "~/.cache/vtn-explorer/bench)")
    parser.add_argument("--only", help="comma-separated subset of: decoding, resize, overhead, decode, multiview, long_video, "
                        "temporal_scaling, cache, gpu, demo_first, batch")


def _selection(text: str | None) -> tuple[str, ...]:
    from vtn_core.bench import BENCHMARKS

    if not text:
        return ()
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown or not names:
        raise VTNError(f"--only: unknown benchmark {', '.join(unknown) or repr(text)}; "
                       f"choose from {', '.join(BENCHMARKS)}")
    return names


def _check_paths(args: argparse.Namespace) -> None:
    if args.checkpoint is not None and not args.checkpoint.is_file():
        raise VTNError(f"{args.checkpoint}: no such checkpoint file")
    if args.json is not None and str(args.json) != "-" and not args.json.parent.is_dir():
        raise VTNError(f"cannot write {args.json}: folder {args.json.parent} does not exist")
    if args.cache_dir is not None and args.cache_dir.exists() and not args.cache_dir.is_dir():
        raise VTNError(f"--cache-dir {args.cache_dir} is a file, not a folder")


def run(args: argparse.Namespace) -> int:
    from vtn_core.bench import BenchOptions, render, run_all

    only = _selection(args.only)
    _check_paths(args)

    def progress(message: str) -> None:
        sys.stderr.write(f"bench: {message}\n")
        sys.stderr.flush()

    options = BenchOptions(quick=args.quick, checkpoint=args.checkpoint, cache_dir=args.cache_dir, only=only,
                           progress=progress)
    document = run_all(options)
    if args.json is not None:
        emit_json(document, args.json)
    if args.json is None or str(args.json) != "-":
        sys.stdout.write(render(document))
    return 0
