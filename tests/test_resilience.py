"""Resources and integrity: CUDA out-of-memory falls back (smaller chunks, then CPU); a killed cache writer
leaves nothing that loads."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

from tests.official_files import tiny_vit_config
from tests.videos import make_video
from vtn_core.cache import ResultCache
from vtn_core.inference import _Encoder, run_video
from vtn_core.model import VTN


class FlakyGPU:
    """Simulates a CUDA model whose backbone runs out of memory on chunks above ``limit`` frames."""

    def __init__(self, model: VTN, limit: int) -> None:
        self.model, self.limit, self.calls, self.on_cpu = model, limit, [], False

    def install(self, monkeypatch) -> None:
        flaky = self
        real_encode = _Encoder._encode

        def encode(encoder, pixels):
            flaky.calls.append(pixels.shape[0])
            if not flaky.on_cpu and pixels.shape[0] > flaky.limit:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
            if flaky.on_cpu:
                return real_encode(encoder, pixels)
            return VTN.encode_frames(flaky.model, pixels)  # the "GPU" computes on the CPU here

        def to(device):
            flaky.on_cpu = str(device) == "cpu"
            return flaky.model

        monkeypatch.setattr(_Encoder, "_encode", encode)
        monkeypatch.setattr(self.model, "to", to)
        monkeypatch.setattr(type(self.model), "device", property(
            lambda m: torch.device("cpu") if flaky.on_cpu else torch.device("cuda")))
        monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)


def test_oom_retries_with_smaller_chunks(monkeypatch):
    model = VTN(tiny_vit_config()).eval()
    flaky = FlakyGPU(model, limit=5)
    flaky.install(monkeypatch)
    encoder = _Encoder(model, "fp32")
    pixels = torch.randn(16, 3, 32, 32)
    with torch.inference_mode():
        features = encoder(pixels)
    assert features.shape == (16, 64)
    assert flaky.calls[0] == 16 and max(flaky.calls[-4:]) <= 5  # 16 → 8 → 4
    assert any("chunks of 4" in notice for notice in encoder.notices)
    with torch.inference_mode():
        expected = VTN.encode_frames(model, pixels)
    torch.testing.assert_close(features, expected, atol=1e-5, rtol=0)


def test_oom_even_one_frame_at_a_time_moves_to_cpu(monkeypatch):
    model = VTN(tiny_vit_config()).eval()
    flaky = FlakyGPU(model, limit=0)
    flaky.install(monkeypatch)
    encoder = _Encoder(model, "bf16")
    with torch.inference_mode():
        features = encoder(torch.randn(4, 3, 32, 32))
    assert features.shape == (4, 64) and flaky.on_cpu
    assert encoder.precision == "fp32" and "continuing on the CPU" in encoder.notices[-1]


def test_other_errors_are_not_swallowed(monkeypatch):
    model = VTN(tiny_vit_config()).eval()

    def broken(frames, chunk_size=None):
        raise RuntimeError("something else")

    monkeypatch.setattr(model, "encode_frames", broken)
    with pytest.raises(RuntimeError, match="something else"):
        _Encoder(model, "fp32")(torch.randn(2, 3, 32, 32))


WRITER = textwrap.dedent("""
    import sys, time, numpy as np
    from vtn_core.cache import ResultCache
    from vtn_core.inference import run_video
    from vtn_core.model import VTN
    from tests.official_files import tiny_vit_config
    import vtn_core.cache as cache_module

    real_savez = np.savez
    def slow_savez(buffer, **arrays):
        real_savez(buffer, **arrays)
        print("writing", flush=True)
        time.sleep(30)  # killed here, mid-write
    cache_module.np.savez = slow_savez

    model = VTN(tiny_vit_config()).eval()
    run_video(model, sys.argv[1], num_frames=8, cache=ResultCache(sys.argv[2]))
""")


def test_process_killed_mid_write_leaves_no_loadable_entry(tmp_path):
    clip = make_video(tmp_path / "clip.mp4", 30)
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    proc = subprocess.Popen([sys.executable, str(script), str(clip), str(tmp_path / "cache")], stdout=subprocess.PIPE,
                            text=True, env=env)
    try:
        deadline = time.time() + 120
        line = ""
        while time.time() < deadline and "writing" not in line:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
        assert "writing" in line, "the writer never reached the write"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    cache = ResultCache(tmp_path / "cache")
    assert cache.entries() == []  # nothing under a final name: the write never completed
    model = VTN(tiny_vit_config()).eval()
    fresh = run_video(model, clip, num_frames=8, cache=cache)
    assert not fresh.from_cache and len(cache.entries()) == 1
    assert run_video(model, clip, num_frames=8, cache=cache).from_cache


def test_truncated_entry_written_by_hand_does_not_load(tmp_path):
    clip = make_video(tmp_path / "clip.mp4", 30)
    model = VTN(tiny_vit_config()).eval()
    cache = ResultCache(tmp_path / "cache")
    run_video(model, clip, num_frames=8, cache=cache)
    entry = cache.entries()[0]
    for cut in (0, 10, entry.stat().st_size // 2):
        data = entry.read_bytes()
        entry.write_bytes(data[:cut])
        assert cache.get(entry.name.split("-", 1)[1].removesuffix(".npz")) is None
        assert not entry.exists()  # the corrupt entry was discarded
        run_video(model, clip, num_frames=8, cache=cache)  # rebuilt
        entry = cache.entries()[0]
    assert np.isfinite(run_video(model, clip, num_frames=8, cache=cache).cls_attention).all()
