"""Shared pieces of the benchmark: settings, generated test videos, models, timing, machine facts, subprocesses."""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from vtn_core.bench.testsrc import encode_testsrc, loop_copy
from vtn_core.errors import VTNError
from vtn_core.hashing import default_cache_dir
from vtn_core.paths import bundled_assets_dir

REPO_ROOT = Path(__file__).resolve().parents[2]
BUNDLED_CHECKPOINT = bundled_assets_dir() / "models" / "vtn_resnet_learned.safetensors"
Progress = Callable[[str], None]


@dataclass
class BenchOptions:
    """What to run and how big: ``quick`` shrinks every video, size and repeat count."""

    quick: bool = False
    checkpoint: Path | None = None  # default: the bundled model (or its training recipe, untrained)
    cache_dir: Path | None = None  # generated videos live here; default ~/.cache/vtn-explorer/bench
    only: tuple[str, ...] = ()  # benchmark names to run; empty = all
    progress: Progress = field(default=lambda message: None)

    @property
    def video_dir(self) -> Path:
        return Path(self.cache_dir) if self.cache_dir else default_cache_dir() / "bench"


# ---- timing ----------------------------------------------------------------------------------------------

def synchronize() -> None:
    """Wait for queued GPU work (no-op on CPU-only machines)."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """(fn(), wall seconds), GPU work included."""
    synchronize()
    started = time.perf_counter()
    value = fn()
    synchronize()
    return value, time.perf_counter() - started


def wall_and_cpu(fn: Callable[[], Any]) -> tuple[float, float]:
    """(wall, CPU of this process) seconds of ``fn()``, GPU work included in the wall time."""
    started_cpu = time.process_time()
    wall = timed(fn)[1]
    return wall, time.process_time() - started_cpu


def median(values: list[float]) -> float:
    """Median of a non-empty list."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])


# ---- generated videos ------------------------------------------------------------------------------------

def generated_video(directory: Path, seconds: int, fps: int = 25, gop: int = 250, size: str = "1280x720",
                    segment_s: int = 60, encoding: str = "cheap") -> tuple[Path, float]:
    """A testsrc2 H.264 video (keyframe every ``gop`` frames, ``testsrc.ENCODINGS[encoding]``: "cheap" =
    ultrafast crf 30, "camera" = x264's defaults on a noisy picture), cached; (path, seconds to make).

    Long videos are one ``segment_s`` segment encoded once and stream-copied end to end (no re-encode), so a
    one-hour 720p file takes seconds. A cached file costs 0 s.
    """
    directory.mkdir(parents=True, exist_ok=True)
    suffix = "" if encoding == "cheap" else f"_{encoding}"  # the cheap videos keep the names they always had
    path = directory / f"testsrc2_{size}_{fps}fps_g{gop}_{seconds}s{suffix}.mp4"
    if path.is_file() and path.stat().st_size > 0:
        return path, 0.0
    started = time.perf_counter()
    tmp = path.with_suffix(".tmp.mp4")
    if seconds <= segment_s or seconds % segment_s:
        encode_testsrc(tmp, seconds, fps, gop, size, encoding)
    else:
        segment, _ = generated_video(directory, segment_s, fps, gop, size, segment_s, encoding)
        loop_copy(segment, seconds // segment_s, tmp)
    os.replace(tmp, path)
    return path, time.perf_counter() - started


# ---- models ---------------------------------------------------------------------------------------------

def bundled_model(checkpoint: Path | None = None):
    """(the bundled VTN, how it was obtained); its training recipe with random weights when the file is missing."""
    from vtn_core.checkpoint import load_checkpoint

    path = Path(checkpoint) if checkpoint else BUNDLED_CHECKPOINT
    if path.is_file():
        return load_checkpoint(path, device="cpu"), f"checkpoint {path.name}"
    if checkpoint:
        raise VTNError(f"{path}: no such checkpoint file")
    return recipe_model(), "training recipe, random weights (bundled checkpoint not found)"


def recipe_model():
    """The bundled model's architecture (vtn_core.train recipe) with seeded random weights."""
    from vtn_core.train import TrainRecipe, build_model

    torch.manual_seed(0)
    return build_model(TrainRecipe(), [f"class {i}" for i in range(8)]).eval()


def vit_b_model():
    """A ViT-B VTN (the paper's configuration) with seeded random weights."""
    from vtn_core.config import VTNConfig
    from vtn_core.model import VTN

    torch.manual_seed(0)
    return VTN(VTNConfig()).eval()


def describe(model) -> dict[str, Any]:
    """Backbone, input size and parameter count of a model."""
    prep = model.config.preprocessing
    return {"backbone": model.config.backbone, "input_px": prep.crop_size,
            "parameters_m": round(model.num_parameters() / 1e6, 2), "hidden_dim": model.config.hidden_dim}


# ---- the machine ----------------------------------------------------------------------------------------

def machine_info() -> dict[str, Any]:
    """Cores, memory, CPU model, torch version, GPU and the load other jobs put on the machine."""
    import psutil

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gb": round(psutil.virtual_memory().total / 1024**3, 1),
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "load_avg_1m": round(load[0], 2), "load_avg_5m": round(load[1], 2),
            "other_busy_processes": busy_processes()}


def busy_processes(threshold: float = 20.0) -> list[str]:
    """Other processes using more than ``threshold``% of a core right now (the machine's background load)."""
    import psutil

    me = os.getpid()
    procs = [p for p in psutil.process_iter(["pid", "name", "cmdline"]) if p.info["pid"] != me]
    for proc in procs:
        try:
            proc.cpu_percent(None)
        except psutil.Error:
            pass
    time.sleep(0.5)
    busy = []
    for proc in procs:
        try:
            share = proc.cpu_percent(None)
        except psutil.Error:
            continue
        if share >= threshold:
            command = " ".join(proc.info["cmdline"] or [proc.info["name"] or "?"])
            busy.append(f"{share:.0f}% {command[:90]}")
    return busy


# ---- subprocess workers ------------------------------------------------------------------------------------

def run_worker(*args: str, timeout_s: float = 1500.0) -> dict[str, Any]:
    """Run ``python -m vtn_core.bench.worker ARGS`` in a fresh process; its last stdout line is JSON."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, "-m", "vtn_core.bench.worker", *args], capture_output=True, text=True,
                          timeout=timeout_s, env=env, cwd=str(REPO_ROOT))
    if done.returncode != 0:
        raise RuntimeError(f"benchmark worker {args[0]} failed: {done.stderr.strip()[-800:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
