"""``train``: a VTN on a labels.csv folder (learned or uniform attention), saved as a native checkpoint."""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import fields
from pathlib import Path

from vtn_core.commands._common import positive_float, positive_int
from vtn_core.errors import VTNError

HELP = "train a VTN on a folder of labelled videos (labels.csv) and save a .safetensors checkpoint"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vtn_core.train import TrainRecipe

    d = TrainRecipe()
    parser.add_argument("--data", type=Path, required=True, help="folder with labels.csv (path,label[,event_start,event_end])")
    parser.add_argument("--out", type=Path, required=True, help="checkpoint to write (.safetensors)")
    parser.add_argument("--backbone", default=d.backbone, help="any timm model name (built with pretrained=False)")
    parser.add_argument("--backbone-kwargs", default=json.dumps(d.backbone_kwargs), help="JSON of timm kwargs")
    parser.add_argument("--init-weights", help="local backbone weights file (.safetensors/.pth); never downloaded")
    parser.add_argument("--init-scope", choices=("backbone", "all"), default=d.init_scope,
                        help="what --init-weights initialises: the backbone, or every matching tensor of the VTN")
    parser.add_argument("--attention", choices=("learned", "uniform"), default=d.attention)
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--epochs", type=positive_int, default=d.epochs)
    parser.add_argument("--lr", type=positive_float, default=d.lr)
    parser.add_argument("--batch-size", type=positive_int, default=d.batch_size)
    parser.add_argument("--frames", type=positive_int, default=d.frames, help="frames per video")
    parser.add_argument("--eval-frames", type=int, default=d.eval_frames,
                        help="long videos: frames per validation pass and the model's eval_num_frames (e.g. 250); "
                             "training steps then sample --frames of them; 0: same as --frames")
    parser.add_argument("--resolution", type=positive_int, default=d.resolution, help="square input size in pixels")
    parser.add_argument("--layers", type=positive_int, default=d.layers, help="temporal encoder layers")
    parser.add_argument("--heads", type=positive_int, default=d.heads, help="temporal attention heads")
    parser.add_argument("--window", type=positive_int, default=d.window, help="Longformer attention window (even)")
    parser.add_argument("--dropout", type=float, default=d.dropout)
    parser.add_argument("--val-fraction", type=float, default=d.val_fraction)
    parser.add_argument("--freeze-backbone", action="store_true",
                        help="fast path: frozen backbone, cached per-frame features, train the temporal encoder and head")


def run(args: argparse.Namespace) -> int:
    from vtn_core.train import TrainRecipe, train

    try:
        backbone_kwargs = json.loads(args.backbone_kwargs)
        assert isinstance(backbone_kwargs, dict)
    except (ValueError, AssertionError):
        raise VTNError(f"--backbone-kwargs must be a JSON object, got {args.backbone_kwargs!r}") from None
    if args.window % 2:
        raise VTNError(f"--window must be even, got {args.window}")
    if not 0 <= args.val_fraction < 1:
        raise VTNError(f"--val-fraction must be in [0, 1), got {args.val_fraction}")
    if args.eval_frames < 0:
        raise VTNError(f"--eval-frames must be 0 or positive, got {args.eval_frames}")
    if args.out.suffix != ".safetensors":
        raise VTNError(f"--out must end in .safetensors, got {args.out.name}")
    names = {f.name for f in fields(TrainRecipe)}
    values = {k: v for k, v in vars(args).items() if k in names}
    recipe = TrainRecipe(**values | {"backbone_kwargs": backbone_kwargs, "init_weights": args.init_weights})
    command = "python -m vtn_core " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    train(args.data, args.out, recipe, command=command)
    return 0
