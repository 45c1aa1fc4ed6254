"""The benchmark document as a plain-text table: figure, measured value, target (or paper), verdict."""
from __future__ import annotations

from typing import Any

Row = tuple[str, str, str, str]


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _spread(ratios: list[float]) -> str:
    """"LOW-HIGH over N repeats" of the paired ratios behind a median."""
    return f"{min(ratios):.2f}-{max(ratios):.2f} over {len(ratios)} repeats"


def _overhead_rows(over: dict[str, Any]) -> list[Row]:
    """decode_overhead of one video, per model input size."""
    rows = []
    video = over["video"]
    encoding = f", {video['encoding']}" if video.get("encoding") else ""
    for key, label in (("bundled", "bundled"), ("vit_b", "ViT-B")):
        r = over[key]
        rows.append((f"decode_overhead {label} {r['input_px']}px ({r['frames']} of {video['frames']} fr, 720p"
                     f"{encoding})",
                     f"{r['decode_overhead']:.2f}x ({r['ours_s']:.2f} s / {r['bare_s']:.2f} s bare)", "<= 1.5",
                     _verdict(r["decode_overhead"] <= 1.5)))
        rows.append(("  before (whole-frame RGB per frame)", f"{r['decode_overhead_legacy']:.2f}x "
                     f"({r['legacy_s']:.2f} s)", "", ""))
        if "bare_threaded_s" in r:
            rows.append((f"  bare: FFmpeg threads {r['bare_threaded_s']:.2f} s, one thread "
                         f"{r['bare_single_thread_s']:.2f} s", f"ratios {_spread(r['decode_overhead_ratios'])}", "", ""))
        if "decoder" in r:
            rows.append(("  decoder", r["decoder"], "", ""))
        if "decode_overhead_cpu_floor" in r:
            rows.append(("  cores busy: bare (frame threads) / ours", f"{r['cores_busy_bare_threaded']:.2f} / "
                         f"{r['cores_busy_ours']:.2f}; ours' CPU over every core: "
                         f"{r['decode_overhead_cpu_floor']:.2f}x bare", "", ""))
    return rows


def decoding_rows(doc: dict[str, Any]) -> list[Row]:
    rows = []
    # dense samples of a short clip (cheaply encoded, then as a camera would); spread over a longer video
    for part in ("overhead", "overhead_camera", "overhead_spread"):
        if part in doc:
            rows.extend(_overhead_rows(doc[part]))
    sc = doc["scaling"]
    rows.append((f"decode_scaling 2 workers / 1 ({sc['video']['seconds']:.0f} s 720p, key every "
                 f"{sc['video'].get('keyframe_interval', '?')}, {sc['samples']} samples)",
                 f"{sc['decode_scaling']:.2f}x ({sc['one_worker_s']:.1f} s / {sc['two_workers_s']:.1f} s), "
                 f"load {sc['load_avg_1m']}", f">= 1.6 on {sc['cores']} cores", _verdict(sc["decode_scaling"] >= 1.6)))
    rows.append(("  2 workers vs in-process reader (frame threads)", f"{sc['two_workers_vs_in_process']:.2f}x "
                 f"({sc['in_process_s']:.1f} s)", "", ""))
    for r in doc.get("nonref", {}).values():
        rows.append((f"unreferenced frames not decoded ({r['samples']} of {r['video']['frames']} fr, "
                     f"{r['video']['encoding']})", f"{r['nonref_speedup']:.2f}x ({r['every_frame_s']:.2f} s / "
                     f"{r['passing_over_s']:.2f} s; {r['decoded_passing_over']} of {r['decoded_every']} fr decoded)",
                     "", ""))
    return rows


def resize_rows(doc: dict[str, Any]) -> list[Row]:
    rows = []
    for key, label in (("bundled", "bundled"), ("official", "official layout")):
        if key not in doc:
            rows.append((f"decoder-side resize, {label}", doc.get("official_source", "not run"), "", ""))
            continue
        r = doc[key]
        rows.append((f"decoder-side resize (opt-in), {label} {r['input_px']}px: logits",
                     f"max |diff| {r['max_abs_logit_diff']:.4f} of range {r['logit_range']:.2f}, "
                     f"top-1 {'same' if r['same_top1'] else 'CHANGED'}", "", ""))
        rows.append(("  attention (heads averaged) / decode time",
                     f"max |diff| {r['max_abs_attention_diff']:.4f}, decode {r['decoder_decode_s']:.2f} s vs "
                     f"{r['exact_decode_s']:.2f} s exact", "", ""))
    return rows


def overhead_rows(doc: dict[str, Any]) -> list[Row]:
    rows = []
    for key, label in (("bundled", "bundled"), ("vit_b", "ViT-B"), ("bundled_camera", "bundled, camera encode")):
        r = doc.get(key)
        if r is None:  # a document written before the row existed
            continue
        rows.append((f"overhead_vs_floor {label} ({r['frames']} fr, 720p)", f"{r['overhead_vs_floor']:.2f}x "
                     f"({r['pipeline_s']:.2f} s / max({r['decode_preprocess_only_s']:.2f}, "
                     f"{r['backbone_only_s']:.2f}) s)",
                     "<= 1.15", _verdict(r["overhead_vs_floor"] <= 1.15)))
        rows.append((f"  pipeline / backbone alone ({r['frames']} fr, 720p)", f"{r['overhead_ratio']:.2f}x "
                     f"({r['pipeline_s']:.2f} s / {r['backbone_only_s']:.2f} s)", "(replaced by the row above)", ""))
        rows.append((f"  floor: decode+prep {r['ms_per_frame_decode_preprocess']:.1f} ms/fr vs backbone "
                     f"{r['ms_per_frame_backbone']:.1f}", f"{r['overhead_floor_perfect_overlap']:.2f}x overlap, "
                     f"{r['overhead_floor_no_spare_cores']:.2f}x serial", "", ""))
        if "overhead_vs_cpu_budget" in r:
            rows.append((f"  vs the CPU budget (decode + backbone CPU time / {r['cores']} cores)",
                         f"{r['overhead_vs_cpu_budget']:.2f}x; floor ratios {_spread(r['overhead_vs_floor_ratios'])}",
                         "", ""))
    return rows


def decode_rows(doc: dict[str, Any]) -> list[Row]:
    rows = []
    for label, r in doc.items():
        rows.append((f"decode {r['samples']} of {r['video_frames']} fr, key every {r['keyframe_interval']} "
                     f"({r['strategy']})", f"{r['decode_speedup']:.2f}x ({r['every_frame_s']:.1f} s / "
                     f"{r['ours_s']:.1f} s)", ">= 5x", _verdict(r["decode_speedup"] >= 5)))
    return rows


def multiview_rows(doc: dict[str, Any]) -> list[Row]:
    rows = []
    for key, label in (("bundled", "bundled"), ("vit_b", "ViT-B")):
        r = doc[key]
        note = " (scaled)" if r["multiview_scaled_from_subset"] or r["single_pass_reused_or_scaled"] else ""
        rows.append((f"30-view / single pass, {label}: wall{note}", f"{r['wall_speedup']:.2f}x "
                     f"({r['multiview_s']:.1f} s / {r['single_pass_s']:.1f} s)",
                     f"paper {r['paper_wall_speedup']}x", ""))
        rows.append((f"30-view / single pass, {label}: GFLOPs", f"{r['flop_ratio']:.2f}x "
                     f"({r['multiview_gflops']:.0f} / {r['single_pass_gflops']:.0f})",
                     f"paper {r['paper_flop_ratio']}x", ""))
    return rows


def long_rows(doc: dict[str, Any]) -> list[Row]:
    rows = []
    for run in doc["runs"]:
        rows.append((f"long video {run['minutes']:g} min, {run['samples']} samples (1/s)",
                     f"{run['wall_s']:.0f} s, peak RSS {run['peak_rss_mb']:.0f} MB", "< 2048 MB",
                     _verdict(run["peak_rss_mb"] < 2048)))
    if "before" in doc:
        b, last = doc["before"], doc["runs"][-1]
        rows.append((f"  before: {b['minutes']:g} min with the old decoding", f"{b['wall_s']:.0f} s, peak RSS "
                     f"{b['peak_rss_total_mb']:.0f} MB", "", ""))
        workers = len(last["decode_workers_peak_rss_mb"])
        rows.append((f"  after: {last['minutes']:g} min, incl. {workers} child processes (decode workers, "
                     "resource tracker)",
                     f"{last['wall_s']:.0f} s ({doc['wall_ratio_after_vs_before']:.2f}x), peak RSS "
                     f"{last['peak_rss_total_mb']:.0f} MB", "< 2048 MB", _verdict(last["peak_rss_total_mb"] < 2048)))
    rows.append(("  RSS growth longest - shortest, beyond Result", f"{doc['rss_growth_beyond_result_mb']:+.0f} MB "
                 f"(Result {doc['result_mb_difference']:+.0f} MB)", "~0", ""))
    return rows


def scaling_rows(doc: dict[str, Any]) -> list[Row]:
    rows = [(f"temporal {r['tokens']} tokens", f"{r['seconds']:.2f} s, {r['ms_per_token']:.3f} ms/token, "
             f"+{r['peak_rss_growth_mb']:.0f} MB", "", "") for r in doc["sizes"]]
    rows.append(("  time/token, largest / smallest", f"{doc['time_per_token_ratio']:.2f}", "", ""))
    rows.append(("  time/token, largest / next largest", f"{doc['time_per_token_ratio_largest_two']:.2f}",
                 "~1 (linear)", _verdict(doc["time_per_token_ratio_largest_two"] < 1.5)))
    return rows


def cache_rows(doc: dict[str, Any]) -> list[Row]:
    return [("cache re-run (warm) vs cold", f"{doc['warm_s']:.3f} s vs {doc['cold_s']:.2f} s "
             f"({doc['cache_speedup']:.0f}x)", "< 1 s", _verdict(doc["warm_s"] < 1))]


def gpu_rows(doc: dict[str, Any]) -> list[Row]:
    if not doc.get("available"):
        return [("GPU rows", "no GPU", "", "")]
    rows = [("ViT-B backbone bf16, frames/s", f"{doc['vit_b_bf16']['frames_per_s']:.0f}", "", "")]
    for key, label in (("overhead_vit_b", "ViT-B"), ("overhead_bundled", "bundled"),
                       ("overhead_vit_b_spread", "ViT-B, spread"), ("overhead_bundled_spread", "bundled, spread")):
        r = doc.get(key)  # the backbone on the GPU: the floor is decoding, so the ratio to the floor is the figure
        if r is None:
            continue
        rows.append((f"GPU overhead_vs_floor {label} ({r['frames']} fr)",
                     f"{r['overhead_vs_floor']:.2f}x ({r['pipeline_s']:.2f} s / max({r['decode_preprocess_only_s']:.2f}, "
                     f"{r['backbone_only_s']:.3f}) s); pipeline / backbone {r['overhead_ratio']:.0f}x", "<= 1.15",
                     _verdict(r["overhead_vs_floor"] <= 1.15)))
    dec = doc.get("decoding")
    if dec:
        rows.append(("GPU decoding (NVDEC) vs CPU, same samples, prepared", f"{dec['speedup']:.2f}x "
                     f"({dec['cpu_s']:.2f} s / {dec['gpu_s']:.2f} s; decoded on {dec['device_used']})", "", ""))
    rows.append(("GPU max allocated", f"{doc['max_allocated_mb']:.0f} MB", "", ""))
    return rows


def demo_first_rows(doc: dict[str, Any]) -> list[Row]:
    if doc.get("skipped"):
        return [("cold first result, default demo clip", doc["skipped"], "", "")]
    return [(f"cold first result, demo clip {doc['video_s']:.0f} s, {doc['samples']} samples",
             f"{doc['first_result_s']:.1f} s (+ {doc['load_model_s']:.1f} s model load)", "<= 10 s",
             _verdict(doc["first_result_s"] <= 10))]


def batch_rows(doc: dict[str, Any]) -> list[Row]:
    one, two = doc["workers_1"], doc["workers_2"]
    return [(f"batch on Ray, {doc['videos']} videos: 2 vs 1 worker", f"{doc['speedup_2_vs_1']:.2f}x "
             f"({two['videos_per_s']:.2f} / {one['videos_per_s']:.2f} videos/s)", "> 1 (2 cores)",
             _verdict(doc["speedup_2_vs_1"] > 1)),
            ("  Ray overhead per video vs run_video loop", f"{doc['ray_overhead_per_video_s'] * 1000:.0f} ms "
             f"(loop {doc['loop_s'] / doc['videos'] * 1000:.0f} ms/video; Ray start {one['engine_startup_s']:.1f} s)",
             "", "")]


BUILDERS = {"decoding": decoding_rows, "resize": resize_rows, "overhead": overhead_rows, "decode": decode_rows,
            "multiview": multiview_rows, "long_video": long_rows,
            "temporal_scaling": scaling_rows, "cache": cache_rows, "gpu": gpu_rows, "demo_first": demo_first_rows,
            "batch": batch_rows}


def render(document: dict[str, Any]) -> str:
    """The table text (one line per figure) with a machine header."""
    m = document["machine"]
    header = (f"VTN benchmark{' (quick)' if document['quick'] else ''}: {m['cpu']}, {m['cores']} cores, "
              f"{m['ram_gb']} GB, torch {m['torch']}, load {m['load_avg_1m']} -> {m.get('load_avg_1m_at_end', '?')}, "
              f"{document['elapsed_s'].get('total', 0):.0f} s")
    rows: list[Row] = [("figure", "measured", "target", "")]
    for name, build in BUILDERS.items():
        if name in document:
            rows.extend(build(document[name]))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [header, ""] + ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    return "\n".join(lines) + "\n"
