"""One loaded model, many callers: explanations never write to the shared model.

The app shares one model object between all sessions (``ui.state.load_model``). Grad-CAM's backward pass used
to accumulate gradients into the shared temporal encoder and clear them again (``zero_grad``) while other
sessions' backward passes accumulated into the same tensors: four sessions explaining at once crashed the
server (SIGSEGV / abort in ``malloc``; CI's four-session browser test hung on a dead server). Explanations now
work on a ``vtn_core.twin.private_twin``.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import vtn_core
from tests.app_assets import build_models
from tests.videos import make_video
from vtn_core.explain import explain_video
from vtn_core.faithfulness import gradient_attribution
from vtn_core.features import extract_features
from vtn_core.saliency import available_methods
from vtn_core.twin import private_twin

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def shared(tmp_path):
    """(tiny ViT VTN, a generated clip)."""
    learned, _ = build_models(tmp_path / "models")
    clip = make_video(tmp_path / "clip.mp4", 36, fps=12.0, height=64, width=96)
    return vtn_core.load_checkpoint(learned, device="cpu"), clip


def _hooks(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
               + len(getattr(m, "_forward_hooks_with_kwargs", {})) for m in model.modules())


def test_private_twin_shares_memory_but_not_state(shared):
    model, _ = shared
    twin = private_twin(model)
    pairs = list(zip(model.parameters(), twin.parameters()))
    assert len(pairs) == len(list(model.parameters())) > 0
    assert all(a is not b and a.data_ptr() == b.data_ptr() and a.requires_grad == b.requires_grad for a, b in pairs)
    assert all(a.data_ptr() == b.data_ptr() for a, b in zip(model.buffers(), twin.buffers()))
    assert twin.backbone is not model.backbone and twin.temporal_encoder is not model.temporal_encoder

    seen = []
    twin.backbone.register_forward_hook(lambda *args: seen.append(1))
    frames = torch.randn(2, 3, model.config.preprocessing.crop_size, model.config.preprocessing.crop_size)
    twin.encode_frames(frames).sum().backward()
    assert seen and _hooks(model) == 0  # the hook is the twin's alone
    assert any(b.grad is not None for _, b in pairs) and all(a.grad is None for a, _ in pairs)
    twin.to(torch.float64)  # a conversion (like a move to the CPU) changes the twin only
    assert all(a.dtype == torch.float32 for a, _ in pairs) and all(b.dtype == torch.float64 for b in twin.parameters())
    with torch.no_grad():  # and the twin computes what the model computes
        torch.testing.assert_close(private_twin(model).encode_frames(frames), model.encode_frames(frames))


def test_explanations_never_write_to_the_shared_model(shared):
    model, clip = shared
    accumulated: list[str] = []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            parameter.register_post_accumulate_grad_hook(lambda p, name=name: accumulated.append(name))
    hooks_before = _hooks(model)
    features = extract_features(model, clip, num_frames=12)
    methods = list(available_methods(model))
    assert "rollout" in methods and "gradcam++" in methods  # every method, the ViT-only one included
    explained = explain_video(model, clip, num_frames=12, picked=[2, 7], methods=methods, faithfulness=True,
                              features=features, seeds=2)
    gradient_attribution(model, features.features, features.positions, explained.target)
    assert all(np.isfinite(s.crop_map).all() for maps in explained.saliency.values() for s in maps)
    assert not accumulated, accumulated[:5]  # not one gradient landed on the shared parameters
    assert all(p.grad is None for p in model.parameters())
    assert _hooks(model) == hooks_before


STRESS = textwrap.dedent("""
    import sys, threading
    import numpy as np
    import vtn_core
    from vtn_core.explain import explain_video
    from vtn_core.features import extract_features

    model = vtn_core.load_checkpoint(sys.argv[1], device="cpu")
    video = sys.argv[2]
    features = extract_features(model, video, num_frames=12)
    picks = [[k % 12, (k + 5) % 12] for k in range(4)]
    def maps(k):
        explained = explain_video(model, video, num_frames=12, picked=picks[k], methods=["gradcam++"],
                                  faithfulness=k % 2 == 0, features=features, seeds=2)
        return np.stack([s.crop_map for s in explained.saliency["gradcam++"]])
    expected = [maps(k) for k in range(4)]
    results, errors = {}, []
    def work(k):
        try:
            for _ in range(int(sys.argv[3])):
                results.setdefault(k, []).append(maps(k))
        except BaseException as exc:
            errors.append(repr(exc))
    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors, errors
    worst = max(float(np.abs(m - expected[k]).max()) for k, runs in results.items() for m in runs)
    print("rounds", sum(len(r) for r in results.values()), "worst", worst)
""")


def test_four_threads_explaining_one_model_neither_crash_nor_mix(shared, tmp_path):
    """Four threads, one model, saliency and faithfulness at once, in a child process: the old code died in it
    (SIGSEGV or abort) every time; each thread's maps must equal a sequential run's."""
    model, clip = shared
    checkpoint = Path(model.metadata["path"])
    script = tmp_path / "stress.py"
    script.write_text(STRESS)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONFAULTHANDLER": "1"}
    done = subprocess.run([sys.executable, str(script), str(checkpoint), str(clip), "5"], capture_output=True,
                          text=True, env=env, timeout=600, cwd=ROOT)
    assert done.returncode == 0, (done.returncode, done.stderr[:3000])
    rounds, worst = done.stdout.split()[1], float(done.stdout.split()[3])
    assert rounds == "20" and worst <= 1e-5, done.stdout


def test_saliency_out_of_gpu_memory_continues_on_a_cpu_twin(shared, monkeypatch):
    """The CUDA fallback of the saliency pass (simulated on the CPU): whole batch, then one frame at a time, then a
    CPU twin; the shared model itself is never moved, and the maps are the ones computed directly."""
    from vtn_core import saliency
    from vtn_core.model import VTN

    model, clip = shared
    features = extract_features(model, clip, num_frames=12)
    pixels = torch.randn(2, 3, model.config.preprocessing.crop_size, model.config.preprocessing.crop_size)
    expected = saliency.grad_cam_maps(model, features.features, features.positions, [3, 8], pixels, 1)
    real = saliency._grad_cam
    calls: list[str] = []

    def flaky(m, *args, **kwargs):
        calls.append(m.device.type)
        if m.device.type == "cuda":
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return real(m, *args, **kwargs)

    monkeypatch.setattr(VTN, "device", property(lambda m: torch.device("cuda") if m is model else m.cls_token.device))
    monkeypatch.setattr(saliency, "_grad_cam", flaky)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    notes: list[str] = []
    maps = saliency.grad_cam_maps(model, features.features, features.positions, [3, 8], pixels, 1, notes)
    assert calls == ["cuda", "cuda", "cpu"]  # the batch, the first single frame, then the CPU twin
    assert "one frame at a time" in notes[0] and "continues on the CPU" in notes[1]
    assert model.device.type == "cuda"  # the shared model was not moved
    np.testing.assert_allclose(maps, expected, atol=1e-5)
