"""run_video on real files, and the disk cache: hit, miss, corruption, eviction, atomicity."""
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from tests.official_files import save_official, tiny_vit_config
from tests.videos import make_video
from vtn_core.cache import ResultCache
from vtn_core.inference import run_video
from vtn_core.model import VTN
from vtn_core.video import preprocess_frames, probe_video, read_frames, sample_indices


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return VTN(tiny_vit_config(num_classes=4, layers=2, window=4), class_names=list("abcd")).eval()


@pytest.fixture()
def clip(tmp_path):
    return make_video(tmp_path / "clip.mp4", 75, fps=25, height=48, width=64)


def test_result_matches_a_direct_forward(model, clip):
    result = run_video(model, clip, num_frames=20, chunk_size=6, cache=False)
    info = probe_video(clip)
    sample = sample_indices(info, num_frames=20)
    frames = np.stack([image for _, image, _ in read_frames(clip, sample.indices, info)])
    pixels = preprocess_frames(frames, model.config.preprocessing)
    with torch.inference_mode():
        direct = model(pixels.permute(1, 0, 2, 3)[None], torch.from_numpy(sample.indices)[None], output_attentions=True)
    np.testing.assert_allclose(result.logits, direct.logits[0].numpy(), atol=1e-5)
    np.testing.assert_allclose(result.cls_attention, direct.cls_attention[0].numpy(), atol=1e-6)
    assert result.thumbnails.shape == (20, 96, 128, 3)
    assert list(result.frame_indices) == list(sample.indices)
    assert set(result.timings_s) == {"probe", "decode", "backbone", "temporal", "total"}
    assert result.top_k(2)[0][1] >= result.top_k(2)[1][1]


def test_progress_reports_every_stage(model, clip):
    seen = []
    run_video(model, clip, num_frames=20, chunk_size=8, cache=False, progress=lambda s, d, t: seen.append((s, d, t)))
    stages = [s for s, _, _ in seen]
    assert stages[0] == "probe" and stages[-1] == "temporal"
    assert ("backbone", 20, 20) in seen and ("decode", 8, 20) in seen


def test_cache_hit_miss_and_restart(model, clip, tmp_path):
    cache = ResultCache(tmp_path / "cache")
    first = run_video(model, clip, num_frames=12, cache=cache)
    assert not first.from_cache and len(cache.entries()) == 1
    again = run_video(model, clip, num_frames=12, cache=ResultCache(tmp_path / "cache"))  # a "restarted" process
    assert again.from_cache
    np.testing.assert_array_equal(again.cls_attention, first.cls_attention)
    np.testing.assert_array_equal(again.thumbnails, first.thumbnails)
    assert again.top_k() == first.top_k()
    # every setting that changes the answer is a different key
    run_video(model, clip, num_frames=13, cache=cache)
    run_video(model, clip, num_frames=12, position_scheme="rescale", cache=cache)
    model.set_attention("uniform")
    try:
        uniform = run_video(model, clip, num_frames=12, cache=cache)
    finally:
        model.set_attention("learned")
    assert not uniform.from_cache and len(cache.entries()) == 4


def test_corrupt_entry_is_ignored_and_rebuilt(model, clip, tmp_path):
    cache = ResultCache(tmp_path / "cache")
    run_video(model, clip, num_frames=12, cache=cache)
    entry = cache.entries()[0]
    entry.write_bytes(entry.read_bytes()[:100])
    rebuilt = run_video(model, clip, num_frames=12, cache=cache)
    assert not rebuilt.from_cache
    assert run_video(model, clip, num_frames=12, cache=cache).from_cache


def test_lru_eviction_respects_the_cap(model, clip, tmp_path):
    cache = ResultCache(tmp_path / "cache")
    run_video(model, clip, num_frames=10, cache=cache)
    one = cache.size_bytes()
    cache.max_bytes = int(one * 2.5)
    run_video(model, clip, num_frames=11, cache=cache)
    run_video(model, clip, num_frames=10, cache=cache)  # touch the first: now most recently used
    run_video(model, clip, num_frames=12, cache=cache)  # evicts the least recently used (11)
    assert cache.size_bytes() <= cache.max_bytes and len(cache.entries()) == 2
    assert run_video(model, clip, num_frames=10, cache=cache).from_cache
    assert not run_video(model, clip, num_frames=11, cache=cache).from_cache


def test_lru_order_survives_a_clock_stepped_back(model, clip, tmp_path):
    """An entry stamped before the wall clock went back (NTP, a restored VM) must not outrank one used after."""
    cache = ResultCache(tmp_path / "cache")
    run_video(model, clip, num_frames=10, cache=cache)
    one = cache.size_bytes()
    run_video(model, clip, num_frames=11, cache=cache)
    eleven = cache.entries()[-1]
    ahead = time.time_ns() + 3600 * 10**9  # written an hour "later", then the clock stepped back
    os.utime(eleven, ns=(ahead, ahead))
    assert run_video(model, clip, num_frames=10, cache=cache).from_cache  # used after: now the newest
    assert cache.entries()[0] == eleven
    cache.max_bytes = int(one * 2.5)
    run_video(model, clip, num_frames=12, cache=cache)  # evicts 11, the least recently used
    assert eleven not in cache.entries() and len(cache.entries()) == 2
    assert run_video(model, clip, num_frames=10, cache=cache).from_cache


def test_lru_order_holds_where_the_file_system_keeps_whole_seconds(model, clip, tmp_path, monkeypatch):
    """On a file system that truncates times to seconds (ext3, FAT), one nanosecond past the newest entry is
    the same second: the entry just used must still come out newest."""
    real_utime = os.utime

    def whole_seconds(path, *args, ns=None, **kwargs):
        if ns is not None:
            ns = tuple(value // 10**9 * 10**9 for value in ns)
        return real_utime(path, *args, ns=ns, **kwargs)

    monkeypatch.setattr("vtn_core.cache.os.utime", whole_seconds)
    monkeypatch.setattr("vtn_core.cache.time_ns", lambda: 1_700_000_000 * 10**9)  # one instant for all
    cache = ResultCache(tmp_path / "cache")
    run_video(model, clip, num_frames=10, cache=cache)
    run_video(model, clip, num_frames=11, cache=cache)
    ten, eleven = sorted(cache.entries(), key=lambda path: path.stat().st_size)
    assert cache.entries() == [ten, eleven]
    assert run_video(model, clip, num_frames=10, cache=cache).from_cache
    assert cache.entries() == [eleven, ten]
    assert run_video(model, clip, num_frames=11, cache=cache).from_cache
    assert cache.entries() == [ten, eleven]
    assert all(path.stat().st_mtime_ns % 10**9 == 0 for path in cache.entries())


def test_predict_cli_json_and_csv(tmp_path, clip):
    checkpoint = save_official(VTN(tiny_vit_config(num_classes=3)).eval(), tmp_path / "m.pyth")
    proc = subprocess.run([sys.executable, "-m", "vtn_core", "predict", str(clip), "--checkpoint", str(checkpoint),
                           "--frames", "16", "--json", str(tmp_path / "r.json"), "--csv", str(tmp_path / "r.csv"),
                           "--no-cache"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["video"]["num_frames"] == 75 and doc["video"]["fps"] == 25
    assert doc["checkpoint"]["format"] == "official" and doc["checkpoint"]["attention"] == "learned"
    assert len(doc["frames"]) == 16 and doc["frames"][1] == {"index": 4, "time_s": 0.16}
    assert np.array(doc["cls_attention"]).shape == (2, 2, 16)
    assert abs(sum(p["prob"] for p in doc["top_k"]) - 1) < 1e-5 and doc["device"] == "cpu"
    assert set(doc["timings_s"]) >= {"decode", "backbone", "temporal", "total"}
    import pandas as pd
    table = pd.read_csv(tmp_path / "r.csv")
    assert len(table) == 16 and list(table.columns[:5]) == ["sample", "frame_index", "time_s", "layer0_mean", "layer1_mean"]
    assert "layer1_head1" in table.columns


def test_predict_cli_bad_arguments(tmp_path, clip):
    for args in (["--frames", "0"], ["--device", "tpu"], []):
        proc = subprocess.run([sys.executable, "-m", "vtn_core", "predict", str(clip), *args,
                               "--checkpoint", str(tmp_path / "missing.pyth")], capture_output=True, text=True)
        assert proc.returncode == 2 and proc.stderr.startswith("error:") and "Traceback" not in proc.stderr


def test_real_world_encoder_output(tmp_path, model):
    """An mp4 made by the ffmpeg command-line tool (imageio-ffmpeg's binary), not by our writer."""
    import imageio_ffmpeg
    path = tmp_path / "ffmpeg.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=320x240:rate=30:duration=3", "-f", "lavfi", "-i", "sine=frequency=440:duration=3",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)], check=True)
    result = run_video(model, path, num_frames=30, cache=False)
    assert result.video["num_frames"] == 90 and abs(result.video["duration_s"] - 3) < 0.1
    assert result.num_frames == 30 and np.isfinite(result.cls_attention).all()
    assert abs(result.probabilities.sum() - 1) < 1e-5
