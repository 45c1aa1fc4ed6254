"""A seeded generator of hostile inputs (tests only): checkpoints, videos and command lines, one family per
class of defect (docs/SECURITY.md). ``families(seed, folder)`` writes the files and returns ``Case``s; the
same seed gives the same files. Each case says which exit status and which message are right.
"""
from __future__ import annotations

import io
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch
import yaml
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save_file

from tests.official_files import official_cfg, save_official, tiny_vit_config
from tests.videos import make_audio, make_video
from vtn_core import limits
from vtn_core.checkpoint import save_checkpoint
from vtn_core.model import VTN

ESCAPES = ["\x1b]0;pwned\x07", "\x1b[2J\x1b[H", "\x1b]8;;http://evil.example/\x1b\\link\x1b]8;;\x1b\\", "\u202eevil",
           "\r\x1b[1A", "\x9b31m", "\x07\x07"]


@dataclass
class Case:
    """One hostile command line: what it runs, and what a correct answer is."""

    family: str
    name: str
    argv: list[str]
    rc: int = 2
    message: str = ""  # a regex the single ``error:`` line (rc 2) or stdout (rc 0) must match
    inputs: list[Path] = field(default_factory=list)  # files that must be byte-identical afterwards
    stdout_forbidden: tuple[str, ...] = ()  # raw characters that must never reach the terminal


class Bases:
    """The valid files the hostile ones are derived from (written once per folder)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(0)
        self.model = VTN(tiny_vit_config(num_classes=3), class_names=["a", "b", "c"]).eval()
        self.native = save_checkpoint(self.model, folder / "base.safetensors", history=[{"epoch": 1, "val_acc": 0.5}])
        self.official = save_official(self.model, folder / "base.pyth")
        self.video = make_video(folder / "base.mp4", 12, height=48, width=64)
        with safe_open(str(self.native), framework="pt") as handle:
            self.header = dict(handle.metadata())
            self.state = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 - not a dict

    def native_with(self, name: str, config: dict | None = None, **header: str) -> Path:
        """The base native file with its config fields or header entries replaced."""
        merged = dict(self.header)
        if config is not None:
            merged["config"] = json.dumps({**json.loads(self.header["config"]), **config})
        merged.update(header)
        path = self.folder / f"{name}.safetensors"
        save_file(self.state, str(path), metadata=merged)
        return path

    def official_with(self, name: str, state: dict | None = None, cfg: object = "base") -> Path:
        """The base official file with tensors or its cfg replaced."""
        payload = {"epoch": 1, "model_state": dict(self.model.state_dict()), "optimizer_state": {},
                   "cfg": yaml.safe_dump(official_cfg(self.model.config))}
        payload["model_state"].update(state or {})
        if cfg != "base":
            payload["cfg"] = cfg
        path = self.folder / f"{name}.pyth"
        torch.save(payload, path)
        return path


def _inspect(path: Path) -> list[str]:
    return ["inspect", "--checkpoint", str(path), "--device", "cpu"]


# ---- families ------------------------------------------------------------------------------------------
def config_bombs(rng: random.Random, base: Bases) -> list[Case]:
    """Config fields that would allocate gigabytes (or break types) before any check."""
    fields = {"num_classes": limits.MAX_CLASSES, "max_position_embeddings": limits.MAX_POSITION_EMBEDDINGS,
              "mlp_dim": limits.MAX_MLP_DIM, "intermediate_size": limits.MAX_INTERMEDIATE_SIZE,
              "hidden_dim": limits.MAX_HIDDEN_DIM, "eval_num_frames": limits.MAX_SAMPLED_FRAMES}
    cases = []
    for name, limit in fields.items():
        value = rng.choice([limit + 1, limit * 10, 30_000_000, 10**9])
        path = base.native_with(f"cfg-{name}", {name: value})
        cases.append(Case("config", f"{name}={value}", _inspect(path), message=name, inputs=[path]))
    layers = rng.choice([limits.MAX_LAYERS + 1, 10_000])
    path = base.native_with("cfg-layers", {"num_hidden_layers": layers, "attention_window": [4] * layers})
    cases.append(Case("config", f"layers={layers}", _inspect(path), message="num_hidden_layers|attention_window",
                      inputs=[path]))
    crop = rng.choice([limits.MAX_CROP_SIZE + 8, 4000])
    path = base.native_with("cfg-crop", {"preprocessing": {"resize_short_side": crop, "crop_size": crop}})
    cases.append(Case("config", f"crop={crop}", _inspect(path), message="crop_size|resize_short_side", inputs=[path]))
    path = base.native_with("cfg-budget", {"hidden_dim": 4096, "intermediate_size": 16384, "num_hidden_layers": 48,
                                           "attention_window": [4] * 48, "num_attention_heads": 64})
    cases.append(Case("config", "parameter budget", _inspect(path), message="parameters", inputs=[path]))
    for name, value in [("eval_num_frames", 0), ("num_classes", "many"), ("hidden_dim", [1, 2]),
                        ("num_classes", True), ("mlp_dim", 1e300)]:
        path = base.native_with(f"cfg-type-{name}-{rng.randrange(10**6)}", {name: value})
        cases.append(Case("config", f"{name}={value!r}", _inspect(path), message=name, inputs=[path]))
    # the same bombs in an official file's YAML cfg
    cfg = official_cfg(base.model.config)
    key = rng.choice(["NUM_CLASSES", "MAX_POSITION_EMBEDDINGS", "HIDDEN_DIM"])
    section = "MODEL" if key == "NUM_CLASSES" else "VTN"
    cfg[section][key] = 30_000_000
    path = base.official_with(f"yaml-{key}", cfg=yaml.safe_dump(cfg))
    cases.append(Case("config", f"official {key}", _inspect(path), message="shape mismatch|num_classes|"
                      "max_position_embeddings|hidden_dim", inputs=[path]))
    return cases


def bad_cfg_yaml(rng: random.Random, base: Bases) -> list[Case]:
    """Ill-typed, non-finite, deeply nested or huge YAML in an official checkpoint."""
    depth = rng.randrange(50, 5000)
    texts = {
        "model-list": "MODEL: [1, 2]\n", "vtn-string": "VTN: hello\n", "inf": "VTN:\n  HIDDEN_DIM: .inf\n",
        "nan-classes": "MODEL:\n  NUM_CLASSES: .nan\n", "nested": "A: " + "[" * depth + "]" * depth + "\n",
        "nested-map": "".join("  " * k + f"k{k}:\n" for k in range(min(depth, 400))) + "  " * 400 + "v: 1\n",
        "huge": "# " + "x" * (limits.MAX_CFG_CHARS + 10) + "\n", "window-str": "VTN:\n  ATTENTION_WINDOW: abc\n",
        "aliases": "a: &a [1,1,1,1,1,1,1,1,1]\n" + "".join(
            f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n" for p, c in zip("abcdefgh", "bcdefghi")),
    }
    cases = []
    for name, text in texts.items():
        path = base.official_with(f"yaml-{name}", cfg=text)
        cases.append(Case("cfg", name, _inspect(path), message="cfg", inputs=[path]))
    return cases


def tensor_bombs(rng: random.Random, base: Bases) -> list[Case]:
    """Stride-0 and overlapping views: a few bytes on disk that expand to gigabytes when copied."""
    width = rng.choice([4096, 8192, 16384])
    cases = []
    layouts = {
        "cls-expand": {"backbone.cls_token": torch.zeros(1).expand(1, 1, width)},
        "pos-expand": {"backbone.pos_embed": torch.zeros(1).expand(1, 1 + (width // 16) ** 2, 64)},
        "overlap": {"backbone.blocks.0.mlp.fc1.weight": torch.zeros(width + 64).as_strided((width, 64), (1, 1))},
        "head-expand": {"mlp_head.4.weight": torch.zeros(1).expand(30_000_000, 32)},
    }
    for name, state in layouts.items():
        path = base.official_with(f"tensor-{name}", state=state)
        cases.append(Case("tensor", name, _inspect(path), message="overlap|memory bomb|elements", inputs=[path]))
    many = {f"extra.{k}": torch.zeros(1) for k in range(limits.MAX_TENSORS + rng.randrange(1, 100))}
    path = base.official_with("tensor-many", state=many)
    cases.append(Case("tensor", "too many tensors", _inspect(path), message="entries", inputs=[path]))
    return cases


def backbone_steering(rng: random.Random, base: Bases) -> list[Case]:
    """Checkpoints that try to make timm fetch from the hub or open files on the server."""
    names = ["hf-hub:evil/model", "hf_hub:evil/model", "timm/vit_base_patch16_224.augreg_in21k",
             "vit_base_patch16_224.augreg_in21k", "local-dir:/etc", "../../etc/passwd",
             rng.choice(["resnet50.a1_in1k", "convnext_tiny.fb_in22k", "http://evil.example/m"])]
    kwargs = [{"checkpoint_path": "/etc/passwd"}, {"pretrained_cfg_overlay": {"file": "/etc/passwd"}},
              {"pretrained": True}, {"in_chans": 1}, {"pretrained_cfg": {"hf_hub_id": "evil/x"}},
              {"global_pool": "/etc/passwd"}, {"depth": 10_000}, {"embed_dim": 10**6}]
    cases = []
    for number, name in enumerate(names):
        path = base.native_with(f"backbone-{number}", {"backbone": name})
        cases.append(Case("backbone", name, _inspect(path), message="not one of the supported local architectures",
                          inputs=[path]))
    for number, extra in enumerate(kwargs):
        kw = {**json.loads(base.header["config"])["backbone_kwargs"], **extra}
        path = base.native_with(f"kwargs-{number}", {"backbone_kwargs": kw})
        cases.append(Case("backbone", f"kwargs {min(extra)}", _inspect(path), message="backbone_kwargs",
                          inputs=[path]))
    return cases


def metadata_injection(rng: random.Random, base: Bases) -> list[Case]:
    """Class names and metadata that would drive a terminal, break JSON or swamp a page."""
    cases = []
    names = ["ok", rng.choice(ESCAPES) + "x", "y" + rng.choice(ESCAPES)]
    path = base.native_with("names-ansi", class_names=json.dumps(names))
    for command in (_inspect(path), ["predict", str(base.video), "--checkpoint", str(path), "--frames", "4",
                                     "--no-cache", "--device", "cpu"]):
        cases.append(Case("injection", f"ansi {command[0]}", command, rc=0, message=r"\\x1b|\\x07|\\u202e|\\x9b",
                          inputs=[path, base.video], stdout_forbidden=("\x1b", "\x07", "\u202e", "\x9b", "\r")))
    path = base.native_with("names-surrogate", class_names='["a", "\\udc80", "c"]')
    cases.append(Case("injection", "lone surrogate", _inspect(path), message="not valid Unicode", inputs=[path]))
    count = rng.choice([3, 400_000])
    long_names = [f"{'n' * 300}{k}" for k in range(3)] if count == 3 else [f"class{k:07d}" for k in range(count)]
    path = base.native_with("names-huge", class_names=json.dumps(long_names))
    cases.append(Case("injection", f"{count} huge names", _inspect(path),
                      message="characters|names|classes", inputs=[path]))
    for number, history in enumerate(["not a list", ["x", "y"], [{"val_acc": "high"}], [[1, 2]],
                                      [{"epoch": 1, "val_acc": float("nan")}]]):
        path = base.native_with(f"history-{number}", history=json.dumps(history))
        cases.append(Case("injection", f"history {history!r}"[:40], _inspect(path), rc=0, message="classes",
                          inputs=[path]))
    deep = "[" * 100_000 + "]" * 100_000
    path = base.native_with("meta-deep", recipe=deep)
    cases.append(Case("injection", "deep metadata", _inspect(path), message="nested", inputs=[path]))
    path = base.native_with("meta-warnings", warnings='{"not": "a list"}')
    cases.append(Case("injection", "warnings not a list", _inspect(path), rc=0, message="classes", inputs=[path]))
    return cases


def format_confusion(rng: random.Random, base: Bases) -> list[Case]:
    """Bytes that look like one format but are another, or nothing."""
    cases = []
    for number, head in enumerate([b"\x80\x02" + bytes(rng.randrange(256) for _ in range(64)),
                                   b"\x80\x05garbage", (10**9).to_bytes(8, "little") + b"{",
                                   (40).to_bytes(8, "little") + b'{"a": 1}', b"PK\x03\x04" + b"\x00" * 30]):
        path = base.folder / f"format-{number}.safetensors"
        path.write_bytes(head)
        cases.append(Case("format", f"head {head[:10].hex()}", _inspect(path), message="checkpoint|safetensors|"
                          "PyTorch|header", inputs=[path]))
    return cases


def outputs_over_inputs(rng: random.Random, base: Bases) -> list[Case]:
    """Output paths that are the inputs, folders, empty or unwritable."""
    video, ckpt = base.video, base.native
    data = base.folder / "data"
    data.mkdir(exist_ok=True)
    labels = data / "labels.csv"
    labels.write_text("file,label\n")
    predict = ["predict", str(video), "--checkpoint", str(ckpt), "--frames", "4", "--no-cache", "--device", "cpu"]
    link = base.folder / f"alias-{rng.randrange(10**6)}.json"
    if not link.exists():
        link.symlink_to(video)
    inside_file = base.folder / "base.mp4" / "x.json"
    return [
        Case("outputs", "--json video", predict + ["--json", str(video)], message="inputs", inputs=[video, ckpt]),
        Case("outputs", "--csv checkpoint", predict + ["--csv", str(ckpt)], message="inputs", inputs=[video, ckpt]),
        Case("outputs", "--json symlink to video", predict + ["--json", str(link)], message="inputs",
             inputs=[video, ckpt]),
        Case("outputs", "--json folder", predict + ["--json", str(base.folder / "data")], message="folder",
             inputs=[video, ckpt]),
        Case("outputs", "--json empty", predict + ["--json", ""], message="file name", inputs=[video, ckpt]),
        Case("outputs", "--json under a file", predict + ["--json", str(inside_file)], message="cannot write",
             inputs=[video, ckpt]),
        Case("outputs", "--json in /proc", predict + ["--json", "/proc/version"], message="cannot write",
             inputs=[video, ckpt]),
        Case("outputs", "evaluate --json labels", ["evaluate", "--checkpoint", str(ckpt), "--data", str(data),
                                                   "--json", str(labels), "--device", "cpu"],
             message="input folder", inputs=[labels, ckpt]),
        Case("outputs", "inspect checkpoint unchanged", _inspect(ckpt), rc=0, message="classes", inputs=[ckpt]),
    ]


def bad_numbers(rng: random.Random, base: Bases) -> list[Case]:
    """Numbers on the command line that are infinite, not a number, or far too large."""
    predict = ["predict", str(base.video), "--checkpoint", str(base.native), "--no-cache", "--device", "cpu"]
    frames = rng.choice([limits.MAX_SAMPLED_FRAMES + 1, 100_000, 1_000_000, 10**9])
    return [
        Case("numbers", f"--frames {frames}", predict + ["--frames", str(frames)], message="frames",
             inputs=[base.video]),
        Case("numbers", "--frames 10^12", predict + ["--frames", str(10**12)], message="frames", inputs=[base.video]),
        Case("numbers", "--fps inf", predict + ["--fps", "inf"], message="fps", inputs=[base.video]),
        Case("numbers", "--fps nan", predict + ["--fps", "nan"], message="fps", inputs=[base.video]),
        Case("numbers", "--fps 1e300", predict + ["--fps", "1e300"], message="samples", inputs=[base.video]),
        Case("numbers", "--max-checkpoint-mb nan", predict + ["--max-checkpoint-mb", "nan"], message="checkpoint-mb",
             inputs=[base.video]),
        Case("numbers", "--max-checkpoint-mb inf", predict + ["--max-checkpoint-mb", "inf"], message="checkpoint-mb",
             inputs=[base.video]),
        Case("numbers", "--chunk-size 0", predict + ["--chunk-size", "0"], message="chunk-size", inputs=[base.video]),
        Case("numbers", "--top-k ansi", predict + ["--top-k", "\x1b]0;x\x07"], message="top-k", inputs=[base.video]),
    ]


def _mux_jpegs(path: Path, sizes: list[tuple[int, int]], fps: int = 10) -> Path:
    """An mkv of independent JPEG frames, each at its own size (the stream declares the first)."""
    with av.open(str(path), "w", format="matroska") as container:
        stream = container.add_stream("mjpeg", rate=fps)
        stream.width, stream.height = sizes[0]
        stream.pix_fmt = "yuvj420p"
        stream.time_base = Fraction(1, fps)
        for k, (width, height) in enumerate(sizes):
            buffer = io.BytesIO()
            Image.fromarray(np.full((height, width, 3), (k * 37) % 256, np.uint8)).save(buffer, format="JPEG")
            packet = av.Packet(buffer.getvalue())
            packet.stream, packet.pts, packet.dts, packet.time_base = stream, k, k, Fraction(1, fps)
            packet.is_keyframe = True
            container.mux(packet)
    return path


def _mp3_with_cover(path: Path) -> Path:
    """An mp3 whose only picture is its cover art (an attached picture stream)."""
    with av.open(str(path), "w", format="mp3") as container:
        audio = container.add_stream("libmp3lame", rate=16000)
        audio.layout = "mono"
        cover = container.add_stream("mjpeg")
        cover.width, cover.height, cover.pix_fmt = 64, 64, "yuvj420p"
        cover.disposition = av.stream.Disposition.attached_pic
        buffer = io.BytesIO()
        Image.fromarray(np.full((64, 64, 3), 200, np.uint8)).save(buffer, format="JPEG")
        picture = av.Packet(buffer.getvalue())
        picture.stream, picture.pts, picture.dts = cover, 0, 0
        container.mux(picture)
        samples = np.zeros((1, 16000), np.float32)
        for start in range(0, samples.shape[1], 1152):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, start:start + 1152]), format="fltp",
                                               layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 16000, start, Fraction(1, 16000)
            for packet in audio.encode(frame):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)
    return path


def hostile_videos(rng: random.Random, base: Bases) -> list[Case]:
    """Videos whose geometry or streams would exhaust memory or mislead: elongated frames, a size change
    midway, audio whose only picture is its cover."""
    folder = base.folder
    ratio = rng.choice([100, 500, 4000])
    long_side = min(8000, 8 * ratio)
    elongated = make_video(folder / f"elongated-{ratio}.mkv", 4, height=8, width=long_side, codec="ffv1",
                           pixel_format="yuv444p")
    tall = make_video(folder / f"tall-{ratio}.mkv", 4, height=long_side, width=8, codec="ffv1", pixel_format="yuv444p")
    changing = _mux_jpegs(folder / "size-change.mkv", [(64, 48)] * 6 + [(rng.choice([96, 128, 640]), 72)] * 6)
    cover = _mp3_with_cover(folder / "cover.mp3")
    audio = make_audio(folder / "audio.wav")

    def predict(video: Path) -> list[str]:
        return ["predict", str(video), "--checkpoint", str(base.native), "--frames", "12", "--no-cache",
                "--device", "cpu"]

    return [
        Case("video", f"{long_side}x8", predict(elongated), message="elongated", inputs=[elongated]),
        Case("video", f"8x{long_side}", predict(tall), message="elongated", inputs=[tall]),
        Case("video", "size change midway", predict(changing), message="frame size changes", inputs=[changing]),
        Case("video", "mp3 with cover art", predict(cover), message="audio only", inputs=[cover]),
        Case("video", "audio only", predict(audio), message="audio only", inputs=[audio]),
    ]


FAMILIES: dict[str, Callable[[random.Random, Bases], list[Case]]] = {
    "config": config_bombs, "cfg": bad_cfg_yaml, "tensor": tensor_bombs, "backbone": backbone_steering,
    "injection": metadata_injection, "format": format_confusion, "outputs": outputs_over_inputs,
    "numbers": bad_numbers, "video": hostile_videos,
}


def generate(family: str, seed: int, folder: Path) -> list[Case]:
    """The cases of one family for ``seed`` (files written under ``folder``)."""
    return FAMILIES[family](random.Random(f"{family}-{seed}"), Bases(folder))
