"""``explain``: saliency maps of the most attended frames and the faithfulness of the [CLS] attention."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vtn_core.commands._common import (
    add_checkpoint_arguments,
    emit_json,
    load_model_from_args,
    positive_int,
    stderr_progress,
)
from vtn_core.errors import VTNError

HELP = "which part of which frame drove the prediction (Grad-CAM, rollout) and deletion/insertion curves"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", type=Path, help="a video file (mp4, mov, avi, mkv, webm, gif, ...)")
    add_checkpoint_arguments(parser)
    parser.add_argument("--frames", type=positive_int, help="frames to sample uniformly (default: the checkpoint's)")
    parser.add_argument("--top", type=positive_int, default=3, help="explain the K most attended frames (default 3)")
    parser.add_argument("--frame", type=int, action="append", metavar="SAMPLE",
                        help="explain this sample (0-based, repeatable) instead of the top-K")
    parser.add_argument("--class", dest="class_name", help="explain this class (default: the predicted one)")
    parser.add_argument("--seeds", type=positive_int, default=5, help="random orderings averaged (default 5)")
    parser.add_argument("--json", type=Path, required=True, help="write the explanation JSON here ('-' for stdout)")
    parser.add_argument("--out-dir", type=Path, help="write one PNG overlay per explained frame (and method) here")
    parser.add_argument("--opacity", type=float, default=0.5, help="heat-map opacity in the PNGs (0..1)")


def _check_outputs(args: argparse.Namespace) -> None:
    video = args.video.resolve()
    if args.json and str(args.json) != "-" and args.json.resolve() in (video, args.checkpoint.resolve()):
        raise VTNError(f"--json {args.json} would overwrite an input file")
    if args.out_dir is not None:
        if args.out_dir.exists() and not args.out_dir.is_dir():
            raise VTNError(f"--out-dir {args.out_dir} exists and is not a folder")
        if not args.out_dir.parent.exists():
            raise VTNError(f"cannot create {args.out_dir}: folder {args.out_dir.parent} does not exist")
    if not 0.0 <= args.opacity <= 1.0:
        raise VTNError(f"--opacity must be between 0 and 1, got {args.opacity}")


def write_overlays(explanation, out_dir: Path, opacity: float) -> list[Path]:
    """One PNG per explained frame and method: ``frame<INDEX>_<method>.png``; never replaces an input."""
    from vtn_core.overlay import overlay_image, png_bytes

    out_dir.mkdir(exist_ok=True)
    written = []
    feats = explanation.features
    for method, maps in explanation.saliency.items():
        for k, saliency in enumerate(maps):
            image = overlay_image(explanation.frames[k], saliency.source_map, opacity, saliency.peak)
            stem = f"sample{saliency.slot:04d}_frame{int(feats.frame_indices[saliency.slot]):06d}"
            path = out_dir / f"{stem}_{method.replace('+', 'p')}.png"
            if path.resolve() == feats.path.resolve():
                raise VTNError(f"{path} would overwrite the input video")
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_bytes(png_bytes(image))
            tmp.replace(path)
            written.append(path)
    return written


def run(args: argparse.Namespace) -> int:
    from vtn_core.explain import explain_video

    if not args.video.is_file():
        raise VTNError(f"{args.video}: no such video file")
    _check_outputs(args)
    model = load_model_from_args(args)
    explanation = explain_video(model, args.video, num_frames=args.frames, top=args.top, picked=args.frame,
                                class_name=args.class_name, seeds=args.seeds, progress=stderr_progress())
    emit_json(explanation.to_json_dict(), args.json)
    written = write_overlays(explanation, args.out_dir, args.opacity) if args.out_dir else []
    if str(args.json) != "-":
        document = explanation.to_json_dict()
        target = document["target"]
        sys.stdout.write(f"{target['label']} ({target['prob']:.1%}); explained {len(document['frames'])} frames:\n")
        for frame in document["frames"]:
            peak = frame["saliency_peak"]
            sys.stdout.write(f"  frame {frame['index']} at {frame['time_s']:.2f} s, attention {frame['attention']:.3f},"
                             f" saliency peak {'flat map' if peak is None else f'({peak[0]}, {peak[1]})'}\n")
        faith = document["faithfulness"]
        sys.stdout.write("deletion AUC " + ", ".join(f"{k} {v:.3f}" for k, v in faith["deletion_auc"].items())
                         + "; insertion AUC " + ", ".join(f"{k} {v:.3f}" for k, v in faith["insertion_auc"].items())
                         + "\n" + explanation.faithfulness.reading() + "\n")
        if written:
            sys.stdout.write(f"{len(written)} overlays in {args.out_dir}\n")
    return 0
