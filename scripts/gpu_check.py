"""CUDA checks for a lent GPU machine (the `device` tool), run once per lease by scripts/gpu_check.sh.

1. the official fixture on CUDA against its expected logits and [CLS] attention (fp32 and bf16 autocast);
2. NVDEC against the CPU decoder on the same samples: the same model input and thumbnails, which device
   decoded, the notices, and the time of each;
3. ``run_video`` on CUDA against the CPU: the same prediction, logits and attention within float tolerance;
4. bare decoding of every frame (no conversion): NVDEC on all cores and pinned to 2, against the CPU decoder
   on all cores and pinned to 4 and 2, to choose what "auto" decodes on;
5. ``run_video`` as it runs on CUDA (the backbone as a CUDA graph, chunks in page-locked memory) against eager
   execution and plain memory, alternated, with where the time goes: decoding's last chunk, the backbone's tail,
   the temporal encoder;
6. the temporal encoder alone: transformers' Longformer against its dense form, eager and as a CUDA graph, in
   bf16 and fp32 (time to the logits on the host, differences), and the golden fixture through the graph;
7. ``run_video``'s temporal step on CUDA for each way it can go (a graph up to 512 frames, the dense form
   eagerly up to 2047, Longformer beyond), learned and uniform, in each precision, against the CPU's Longformer.

Prints one JSON document and writes it to ``--out``. The bench's GPU rows are run by the shell script.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import vtn_core
from vtn_core.inference import run_video
from vtn_core.bench.common import bundled_model, generated_video
from vtn_core.config import VTNConfig
from vtn_core.video import iter_chunks, probe_video, sample_indices

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"


def environment() -> dict[str, Any]:
    """The machine, torch, CUDA and FFmpeg's hardware devices."""
    import av
    from av.codec.hwaccel import hwdevices_available

    return {"gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "torch": torch.__version__, "cuda": torch.version.cuda, "av": av.__version__,
            "ffmpeg_hw_devices": list(hwdevices_available()), "cpu_count": os.cpu_count(),
            "tf32_matmul": torch.backends.cuda.matmul.allow_tf32, "tf32_cudnn": torch.backends.cudnn.allow_tf32}


def golden_on_cuda() -> dict[str, Any]:
    """Largest differences from the fixture's expected outputs, on CUDA, in fp32 and in bf16 autocast."""
    model = vtn_core.load_checkpoint(FIXTURES / "vtn_official_tiny.pyth", device="cuda")
    expected = np.load(FIXTURES / "vtn_official_tiny_expected.npz")
    prep = model.config.preprocessing
    rows: dict[str, Any] = {}
    for case in ("case0", "case1"):
        x = torch.from_numpy(expected[f"{case}_frames_uint8"]).float().div(255)
        x = ((x - torch.tensor(prep.mean)) / torch.tensor(prep.std)).permute(3, 0, 1, 2)[None].cuda()
        positions = torch.from_numpy(expected[f"{case}_positions"])[None].cuda()
        for label, autocast in (("fp32", False), ("bf16", True)):
            with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
                out = model(x, positions, output_attentions=True)
            attention = torch.cat([out.cls_self_attention[..., None], out.cls_attention], dim=-1)[0]
            rows[f"{case}_{label}"] = {
                "logits_max_abs": float(np.abs(out.logits[0].float().cpu().numpy() - expected[f"{case}_logits"]).max()),
                "attention_max_abs": float(np.abs(attention.float().cpu().numpy()
                                                  - expected[f"{case}_cls_attention"]).max()),
                "argmax_equal": int(out.logits[0].argmax()) == int(np.argmax(expected[f"{case}_logits"]))}
    return rows


def _read(video: Path, indices: np.ndarray, prep, device: str) -> tuple[torch.Tensor, np.ndarray, str, list[str], float]:
    started = time.perf_counter()
    stream = iter_chunks(video, indices, prep, 32, prefetch=0, workers=1, decode_device=device)
    chunks = list(stream)
    seconds = time.perf_counter() - started
    return (torch.cat([c.pixels for c in chunks]), np.concatenate([c.thumbnails for c in chunks]),
            stream.reader.device, list(stream.notices), seconds)


def nvdec_against_cpu(video: Path, frames: int) -> dict[str, Any]:
    """The same samples decoded by NVDEC and by the CPU, for the bundled and the ViT-B recipes."""
    indices = sample_indices(probe_video(video), num_frames=frames).indices
    rows = {}
    for label, prep in (("bundled", bundled_model()[0].config.preprocessing), ("vit_b", VTNConfig().preprocessing)):
        _read(video, indices, prep, "cuda")  # warm-up: the CUDA context and NVDEC session
        gpu = _read(video, indices, prep, "cuda")
        cpu = _read(video, indices, prep, "cpu")
        rows[label] = {"frames": int(len(indices)), "decoded_on": gpu[2], "notices": gpu[3],
                       "pixels_max_abs": float((gpu[0] - cpu[0]).abs().max()),
                       "thumbnails_equal": bool(np.array_equal(gpu[1], cpu[1])),
                       "gpu_s": gpu[4], "cpu_s": cpu[4], "cpu_over_gpu": cpu[4] / gpu[4]}
    return rows


def run_video_cuda_against_cpu(video: Path, frames: int) -> dict[str, Any]:
    """``run_video`` with the bundled model on CUDA (NVDEC, bf16 autocast) and on the CPU."""
    model, _ = bundled_model()
    cpu = run_video(model, video, num_frames=frames, cache=False)
    model = model.to("cuda")
    run_video(model, video, num_frames=frames, cache=False)  # warm-up
    gpu = run_video(model, video, num_frames=frames, cache=False)
    fp32 = run_video(model, video, num_frames=frames, cache=False, precision="fp32")
    row = {"device": gpu.device, "notices": gpu.notices, "settings_precision": gpu.settings.get("precision"),
           "same_prediction": int(np.argmax(gpu.logits)) == int(np.argmax(cpu.logits)),
           "timings_gpu_s": gpu.timings_s, "timings_cpu_s": cpu.timings_s}
    for label, result in (("auto", gpu), ("fp32", fp32)):
        row[f"{label}_logits_max_abs"] = float(np.abs(result.logits - cpu.logits).max())
        row[f"{label}_attention_max_abs"] = float(np.abs(result.cls_attention - cpu.cls_attention).max())
        row[f"{label}_thumbnails_equal"] = bool(np.array_equal(result.thumbnails, cpu.thumbnails))
    return row


def graph_and_pinned(video: Path, frames: int, repeats: int = 5, device: str = "cuda") -> dict[str, Any]:
    """A ViT-B VTN and the bundled model on CUDA: ``run_video`` as it runs (backbone as a CUDA graph, chunks in
    page-locked memory) against eager execution with pinned chunks and against eager with plain chunks, in
    alternation (medians); the logits of each against the first; for the default runs when the last chunk
    arrived, when the backbone was done and the temporal encoder's time."""
    import vtn_core.cuda_graphs as cuda_graphs
    import vtn_core.inference as inference
    from vtn_core.bench.common import vit_b_model

    plain_chunks = inference.iter_chunks
    variants = {"graph_pinned": (True, True), "eager_pinned": (False, True), "eager_plain": (False, False)}

    def run(model, graphs: bool, pinned: bool):
        marks: dict[str, float] = {}
        started = time.perf_counter()

        def progress(stage: str, done: int, total: int) -> None:
            marks[f"{stage}_{'end' if done == total else 'start'}"] = time.perf_counter() - started

        cuda_graphs.ENABLED = graphs
        inference.iter_chunks = plain_chunks if pinned else (
            lambda *args, **kwargs: plain_chunks(*args, **{**kwargs, "pin_memory": False}))
        try:
            result = run_video(model, video, num_frames=frames, cache=False, progress=progress)
        finally:
            inference.iter_chunks, cuda_graphs.ENABLED = plain_chunks, True
        if device == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        return seconds, {**marks, **{f"timing_{k}": v for k, v in result.timings_s.items()}}, result.logits

    rows = {}
    for label, model in (("vit_b", vit_b_model().to(device)), ("bundled", bundled_model()[0].to(device))):
        for switches in variants.values():
            run(model, *switches)  # warm-up: kernels, the graph's capture, pinned allocator, compiled loops
        times: dict[str, list[float]] = {name: [] for name in variants}
        logits, marks = {}, {}
        for _ in range(repeats):
            for name, switches in variants.items():
                seconds, marks[name], logits[name] = run(model, *switches)
                times[name].append(seconds)
        rows[label] = {**{f"{name}_s": sorted(t)[repeats // 2] for name, t in times.items()}, "runs_s": times,
                       "logits_max_abs_vs_graph": {name: float(np.abs(value - logits["graph_pinned"]).max())
                                                   for name, value in logits.items()},
                       "last_run_marks_s": marks}
    return rows


def temporal_encoder(frames: int = 250, repeats: int = 15) -> dict[str, Any]:
    """The temporal encoder and head on 250 frames' features on CUDA, three ways in alternation: transformers'
    Longformer, the dense form eagerly and the dense form as a CUDA graph; medians of the time until the logits
    are on the host, and each one's largest differences from Longformer's outputs."""
    from vtn_core.bench.common import vit_b_model
    from vtn_core.cuda_graphs import TEMPORAL_GRAPHS

    rows: dict[str, Any] = {"golden_through_graph_fp32": _golden_through_graph()}
    for label, model in (("vit_b", vit_b_model().cuda()), ("bundled", bundled_model()[0].cuda())):
        generator = torch.Generator(device="cuda").manual_seed(0)
        features = torch.randn(1, frames, model.config.hidden_dim, device="cuda", generator=generator)
        positions = torch.arange(frames, device="cuda")[None] * 4
        for precision, dtype in (("bf16", torch.bfloat16), ("fp32", None)):
            def eager(dense: bool, dtype=dtype):
                with torch.autocast("cuda", dtype=dtype, enabled=dtype is not None):
                    return model.forward_features(features, positions, output_attentions=True, dense_attention=dense)
            variants = {"longformer": lambda: eager(False), "dense_eager": lambda: eager(True),
                        "dense_graph": lambda dtype=dtype: TEMPORAL_GRAPHS.run(model, features, positions, dtype)}
            with torch.inference_mode():
                outputs = {name: run() for name, run in variants.items()}  # warm-up, and the graph's capture
                times: dict[str, list[float]] = {name: [] for name in variants}
                for _ in range(repeats):
                    for name, run in variants.items():
                        torch.cuda.synchronize()
                        started = time.perf_counter()
                        run().logits.float().cpu()
                        times[name].append(time.perf_counter() - started)
            reference = outputs["longformer"]
            rows[f"{label}_{precision}"] = {
                **{f"{name}_ms": 1000 * sorted(t)[repeats // 2] for name, t in times.items()},
                "graph_captured": outputs["dense_graph"] is not None,
                **{f"{name}_{field}_max_abs": float((getattr(out, field).float()
                                                     - getattr(reference, field).float()).abs().max())
                   for name, out in outputs.items() if name != "longformer" and out is not None
                   for field in ("logits", "cls_attention")},
                "same_top1": all(int(out.logits.argmax()) == int(reference.logits.argmax())
                                 for out in outputs.values() if out is not None)}
    return rows


def temporal_paths() -> dict[str, Any]:
    """The bundled model's temporal step as ``run_video`` takes it on CUDA (``inference._temporal``) for 250, 600
    and 2100 frames, learned and uniform, fp32, bf16 and fp16: which way it went (graph, dense, Longformer),
    and its largest differences from the CPU's Longformer in fp32."""
    import vtn_core.inference as inference
    from vtn_core import dense_longformer
    from vtn_core.cuda_graphs import TEMPORAL_GRAPHS

    ways: list[str] = []
    graph_run, dense_encode = TEMPORAL_GRAPHS.run, dense_longformer.encode

    def graph_recorded(*args, **kwargs):
        out = graph_run(*args, **kwargs)
        if out is not None:
            ways.append("graph")
        return out

    def dense_recorded(*args, **kwargs):
        ways.append("dense")
        return dense_encode(*args, **kwargs)

    cpu_model = bundled_model()[0]
    gpu_model = bundled_model()[0].cuda()
    rows: dict[str, Any] = {}
    TEMPORAL_GRAPHS.run, dense_longformer.encode = graph_recorded, dense_recorded
    try:
        for frames in (250, 600, 2100):
            generator = torch.Generator().manual_seed(frames)
            features = torch.randn(1, frames, cpu_model.config.hidden_dim, generator=generator)
            positions = torch.arange(frames)[None] * 2
            for mode in ("learned", "uniform"):
                cpu_model.set_attention(mode)
                gpu_model.set_attention(mode)
                with torch.inference_mode():
                    reference = cpu_model.forward_features(features, positions, output_attentions=True)
                for precision in ("fp32", "bf16", "fp16"):
                    ways.clear()
                    with torch.inference_mode():
                        out = inference._temporal(inference._Encoder(gpu_model, precision, graph_batch=32),
                                                  features.cuda(), positions.cuda())
                    rows[f"{frames}_{mode}_{precision}"] = {
                        "way": "graph" if "graph" in ways else "dense" if ways else "longformer",
                        "logits_max_abs": float((out.logits.float().cpu() - reference.logits).abs().max()),
                        "attention_max_abs": float((out.cls_attention.float().cpu()
                                                    - reference.cls_attention).abs().max()),
                        "same_top1": int(out.logits.argmax()) == int(reference.logits.argmax()),
                        "finite": bool(torch.isfinite(out.logits).all() and torch.isfinite(out.cls_attention).all())}
    finally:
        del TEMPORAL_GRAPHS.run
        dense_longformer.encode = dense_encode
    return rows


def _golden_through_graph() -> dict[str, Any]:
    """The official fixture's logits and [CLS] attention from the temporal graph in fp32 (backbone eager)."""
    from vtn_core.cuda_graphs import TEMPORAL_GRAPHS

    model = vtn_core.load_checkpoint(FIXTURES / "vtn_official_tiny.pyth", device="cuda")
    expected = np.load(FIXTURES / "vtn_official_tiny_expected.npz")
    prep = model.config.preprocessing
    rows = {}
    for case in ("case0", "case1"):
        x = torch.from_numpy(expected[f"{case}_frames_uint8"]).float().div(255)
        x = ((x - torch.tensor(prep.mean)) / torch.tensor(prep.std)).permute(0, 3, 1, 2).cuda()
        positions = torch.from_numpy(expected[f"{case}_positions"])[None].cuda()
        with torch.inference_mode():
            out = TEMPORAL_GRAPHS.run(model, model.encode_frames(x)[None], positions, None)
        if out is None:
            rows[case] = "not captured"
            continue
        attention = torch.cat([out.cls_self_attention[..., None], out.cls_attention], dim=-1)[0]
        rows[case] = {"logits_max_abs": float(np.abs(out.logits[0].cpu().numpy() - expected[f"{case}_logits"]).max()),
                      "attention_max_abs": float(np.abs(attention.cpu().numpy()
                                                        - expected[f"{case}_cls_attention"]).max())}
    return rows


def _decode_all(open_video, cores: int | None = None) -> dict[str, Any]:
    """Every frame of a video, nothing converted: time to the first frame, frames a second after it."""
    allowed = os.sched_getaffinity(0)
    if cores:  # decoder threads inherit this thread's CPU set
        os.sched_setaffinity(0, set(sorted(allowed)[:cores]))
    try:
        started = time.perf_counter()
        container = open_video()
        stream = container.streams.video[0]
        stream.codec_context.thread_count = cores or 0
        stream.thread_type = "AUTO"
        first, frames, pixel_format = None, 0, None
        for frame in container.decode(stream):
            if first is None:
                first, pixel_format = time.perf_counter() - started, frame.format.name
            frames += 1
        total = time.perf_counter() - started
        container.close()
    finally:
        os.sched_setaffinity(0, allowed)
    return {"frames": frames, "first_frame_s": first, "total_s": total, "format": pixel_format,
            "frames_per_s_after_first": (frames - 1) / max(total - first, 1e-9)}


def nvdec_throughput(videos: list[Path]) -> dict[str, Any]:
    """Bare decoding by NVDEC (all cores, 2) and by the CPU (all cores, 4, 2), per video."""
    import av
    from av.codec.hwaccel import HWAccel

    def nvdec():
        return av.open(str(video), hwaccel=HWAccel("cuda", allow_software_fallback=True))
    rows: dict[str, Any] = {}
    torch.zeros(1, device="cuda")  # torch holds its CUDA context, as in the app
    for video in videos:
        row = {}
        _decode_all(nvdec)  # warm-up
        for cores in (None, 2):
            row[f"nvdec_{cores or 'all'}_cores"] = _decode_all(nvdec, cores)
        for cores in (None, 4, 2):
            row[f"cpu_{cores or 'all'}_cores"] = _decode_all(lambda: av.open(str(video)), cores)
        rows[video.name] = row
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="where the JSON document is written")
    parser.add_argument("--videos", type=Path, default=Path("/tmp/vtn-bench"), help="generated videos")
    parser.add_argument("--only", default="", help="comma-separated checks to run (default: all)")
    args = parser.parse_args()
    chosen = {name for name in args.only.split(",") if name}
    document: dict[str, Any] = {"environment": environment()}
    clip, _ = generated_video(args.videos, 10, fps=30)
    minute, _ = generated_video(args.videos, 60)
    for name, check in (("golden_on_cuda", golden_on_cuda),
                        ("nvdec_against_cpu", lambda: nvdec_against_cpu(clip, 250)),
                        ("run_video_cuda_against_cpu", lambda: run_video_cuda_against_cpu(clip, 250)),
                        ("temporal_encoder", temporal_encoder),
                        ("temporal_paths", temporal_paths),
                        ("graph_and_pinned", lambda: graph_and_pinned(clip, 250)),
                        ("nvdec_throughput", lambda: nvdec_throughput([clip, minute]))):
        if chosen and name not in chosen:
            continue
        try:
            document[name] = check()
        except Exception as exc:  # noqa: BLE001 - one failed check must not hide the others' results
            document[name] = {"failed": f"{type(exc).__name__}: {exc}"}
        args.out.write_text(json.dumps(document, indent=1, default=str))
    print(json.dumps(document, indent=1, default=str))


if __name__ == "__main__":
    main()
