"""``evaluate``: accuracy and attention localization of a checkpoint on a labelled folder."""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from vtn_core.commands._common import add_checkpoint_arguments, emit_json, load_model_from_args, positive_int

HELP = "accuracy, event fraction and [CLS]-attention localization on a labels.csv folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_checkpoint_arguments(parser)
    parser.add_argument("--data", type=Path, required=True, help="folder with labels.csv and the videos")
    parser.add_argument("--frames", type=positive_int, help="frames per video (default: the checkpoint's)")
    parser.add_argument("--attention", choices=("learned", "uniform"), help="override the attention mode")
    parser.add_argument("--json", type=Path, help="write the summary JSON here ('-' for stdout)")
    parser.add_argument("--no-explanations", action="store_true",
                        help="skip the pointing game and deletion/insertion AUCs even when boxes.csv exists")
    parser.add_argument("--card", type=Path, help="also write a Markdown model card with these held-out numbers")


def run(args: argparse.Namespace) -> int:
    from vtn_core.evaluate import evaluate

    model = load_model_from_args(args)
    if args.attention:
        model.set_attention(args.attention)

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"\revaluate: {done}/{total}" + ("\n" if done == total else ""))

    summary = evaluate(model, args.data, num_frames=args.frames, progress=progress,
                       explanations=False if args.no_explanations else None)
    if args.json:
        emit_json(summary, args.json)
    if args.card:
        from vtn_core.commands._common import write_text_atomic
        from vtn_core.model_card import render_model_card

        command = "python -m vtn_core " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        write_text_atomic(args.card, render_model_card(model, summary, heldout_command=command))
    if not args.json or str(args.json) != "-":
        line = f"accuracy {summary['accuracy']:.3f} on {summary['num_videos']} videos ({summary['attention']} attention)"
        if "localization" in summary:
            line += (f"; localization {summary['localization']:.3f} vs event fraction {summary['event_fraction']:.3f}"
                     f" ({summary['localization_ratio']:.1f}x); by layer "
                     + ", ".join(f"{v:.3f}" for v in summary["localization_by_layer"]))
        sys.stdout.write(line + "\n")
        if "pointing_game" in summary:
            sys.stdout.write(f"pointing game {summary['pointing_game']:.3f} ({summary['pointing_method']}, "
                             f"{summary['pointing_frames']} event frames, margin {summary['pointing_margin_px']:.1f} px); "
                             + ", ".join(f"{m} {v:.3f}" for m, v in summary["pointing_game_by_method"].items()
                                         if v is not None) + "\n")
        if "deletion_auc" in summary:
            sys.stdout.write("deletion AUC " + ", ".join(f"{k} {v:.3f}" for k, v in summary["deletion_auc"].items())
                             + f" (attention / random {summary['deletion_ratio_attention_vs_random']:.2f}); insertion AUC "
                             + ", ".join(f"{k} {v:.3f}" for k, v in summary["insertion_auc"].items()) + "\n")
    return 0
