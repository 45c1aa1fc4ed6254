"""The CUDA graph logic of the backbone and the temporal encoder, on the CPU: a stand-in capture (the graph's run
called at each replay) checks padding, recapture when the parameters move, the fallback when capture fails,
and that nothing is graphed where there is no CUDA. The capture itself is checked on a GPU
(scripts/gpu_check.py)."""
import threading
import time

import pytest
import torch

from tests.official_files import tiny_vit_config
from tests.test_dense_longformer import assert_same_outputs
from vtn_core import cuda_graphs
from vtn_core.cuda_graphs import GraphedBackbone, GraphedTemporal, capture_cuda, parameters_fingerprint
from vtn_core.inference import _Encoder, _temporal
from vtn_core.model import VTN


class StandIn:
    """A capture that runs the captured function on its static input at every replay (as a graph would);
    ``pause``: seconds between the replay's start and its reading of the static input."""

    def __init__(self, fail: bool = False, pause: float = 0.0) -> None:
        self.captures, self.fail, self.pause = 0, fail, pause

    def __call__(self, run, static_inputs):
        self.captures += 1
        if self.fail:
            raise RuntimeError("operation not permitted when stream is capturing")

        def replay():
            time.sleep(self.pause)
            return run(*static_inputs)

        return replay


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: with two, the CPU's matrix products round differently for other batch sizes (up to
    8e-7 here), and a replay pads the last chunk to the captured batch."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture()
def model():
    return VTN(tiny_vit_config()).eval()


def _eager(model, pixels):
    with torch.inference_mode():
        return model.encode_frames(pixels).float()


def test_a_short_chunk_is_padded_and_gives_the_eager_features(model):
    graphs = GraphedBackbone(StandIn())
    capture = graphs.capture
    full, short = torch.randn(8, 3, 32, 32), torch.randn(5, 3, 32, 32)
    with torch.inference_mode():
        first = graphs.run(model, full, 8, None)
        second = graphs.run(model, short, 8, None)
    torch.testing.assert_close(first, _eager(model, full), rtol=0, atol=1e-6)
    torch.testing.assert_close(second, _eager(model, short), rtol=0, atol=1e-6)
    assert second.shape == (5, 64) and capture.captures == 1  # captured once, replayed for both
    assert graphs.run(model, torch.randn(9, 3, 32, 32), 8, None) is None  # larger than captured: eager


def test_moved_parameters_are_captured_again(model):
    graphs = GraphedBackbone(StandIn())
    pixels = torch.randn(4, 3, 32, 32)
    with torch.inference_mode():
        graphs.run(model, pixels, 4, None)
        graphs.run(model, pixels, 4, None)
    assert graphs.capture.captures == 1
    before = parameters_fingerprint(model.backbone)
    weight = next(model.backbone.parameters())
    weight.data = weight.data.clone()  # what moving to the CPU and back does: new storage
    assert parameters_fingerprint(model.backbone) != before
    with torch.inference_mode():
        features = graphs.run(model, pixels, 4, None)
    assert graphs.capture.captures == 2
    torch.testing.assert_close(features, _eager(model, pixels), rtol=0, atol=1e-6)


def test_a_backbone_that_cannot_be_captured_runs_eagerly_and_is_not_retried(model):
    graphs = GraphedBackbone(StandIn(fail=True))
    pixels = torch.randn(4, 3, 32, 32)
    with torch.inference_mode():
        assert graphs.run(model, pixels, 4, None) is None
        assert graphs.run(model, pixels, 4, None) is None
    assert graphs.capture.captures == 1


def test_no_graph_without_cuda_or_when_switched_off(model, monkeypatch):
    pixels = torch.randn(4, 3, 32, 32)
    real = GraphedBackbone(capture_cuda)
    with torch.inference_mode():
        assert real.run(model, pixels, 4, None) is None  # CPU tensors: never captured
        monkeypatch.setattr(cuda_graphs, "ENABLED", False)
        stand_in = GraphedBackbone(StandIn())
        assert stand_in.run(model, pixels, 4, None) is None and stand_in.capture.captures == 0


def test_the_encoder_replays_on_cuda_and_stays_eager_after_running_out_of_memory(model, monkeypatch):
    stand_in = GraphedBackbone(StandIn())
    monkeypatch.setattr("vtn_core.inference.GRAPHS", stand_in)
    monkeypatch.setattr(type(model), "device", property(lambda m: torch.device("cuda")))
    monkeypatch.setattr(torch.Tensor, "to", lambda self, *args, **kwargs: self)  # the "GPU" is the CPU here
    encoder = _Encoder(model, "fp32", graph_batch=4)
    pixels = torch.randn(10, 3, 32, 32)
    with torch.inference_mode():  # run_video's chunks are at most graph_batch frames
        features = torch.cat([encoder(chunk) for chunk in pixels.split(4)])
    torch.testing.assert_close(features, _eager(model, pixels), rtol=0, atol=1e-6)
    assert stand_in.capture.captures == 1  # chunks of 4, 4 and 2 frames: one capture, three replays

    replays = []

    def out_of_memory_once(*args):
        replays.append(args[2])
        if len(replays) == 1:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return None

    monkeypatch.setattr(stand_in, "run", out_of_memory_once)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    encoder = _Encoder(model, "fp32", graph_batch=4)
    with torch.inference_mode():
        features = encoder(pixels[:4])
    torch.testing.assert_close(features, _eager(model, pixels[:4]), rtol=0, atol=1e-6)
    assert replays == [4] and encoder.graph_batch == 0  # after running out of memory: eager, smaller chunks
    assert "chunks of 2 frames" in encoder.notices[-1]



def test_sessions_sharing_a_model_each_get_their_own_features(model):
    graphs = GraphedBackbone(StandIn(pause=0.02))  # a slow replay: another session's input could land meanwhile
    inputs = [torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(seed)) for seed in range(4)]
    results: dict[int, torch.Tensor] = {}

    def session(index: int) -> None:
        with torch.inference_mode():
            for _ in range(3):
                results[index] = graphs.run(model, inputs[index], 4, None)

    with torch.inference_mode():
        graphs.run(model, inputs[0], 4, None)  # captured before the sessions start
    threads = [threading.Thread(target=session, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index, pixels in enumerate(inputs):
        torch.testing.assert_close(results[index], _eager(model, pixels), rtol=0, atol=1e-6)


# ---- the temporal encoder ----------------------------------------------------------------------------------------

def _longformer(model, features, positions):
    with torch.inference_mode():
        return model.forward_features(features, positions, output_attentions=True)


def _assert_matches(graphed, eager) -> None:
    assert_same_outputs(eager, graphed, atol=1e-5)


def _sequence(frames: int, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(1, frames, 64, generator=generator), torch.arange(frames)[None] * 3


def test_one_temporal_graph_serves_every_length_of_its_bucket(model):
    graphs = GraphedTemporal(StandIn())
    for frames in (100, 5, cuda_graphs.TEMPORAL_BUCKET):  # all in the first bucket: padded with left-out frames
        features, positions = _sequence(frames, seed=frames)
        with torch.inference_mode():
            graphed = graphs.run(model, features, positions, None)
        _assert_matches(graphed, _longformer(model, features, positions))
    assert graphs.capture.captures == 1
    features, positions = _sequence(cuda_graphs.TEMPORAL_BUCKET + 1)
    with torch.inference_mode():
        _assert_matches(graphs.run(model, features, positions, None), _longformer(model, features, positions))
    assert graphs.capture.captures == 2  # the next bucket
    too_long = _sequence(cuda_graphs.TEMPORAL_MAX_FRAMES + 1)
    with torch.inference_mode():
        assert graphs.run(model, *too_long, None) is None and graphs.run(model, *_sequence(0), None) is None


def test_a_temporal_graph_per_attention_mode_and_again_when_parameters_move(model):
    graphs = GraphedTemporal(StandIn())
    features, positions = _sequence(20)
    with torch.inference_mode():
        learned = graphs.run(model, features, positions, None)
        model.set_attention("uniform")
        uniform = graphs.run(model, features, positions, None)
        _assert_matches(uniform, _longformer(model, features, positions))
        model.set_attention("learned")
        assert graphs.capture.captures == 2
        _assert_matches(graphs.run(model, features, positions, None), learned)
        assert graphs.capture.captures == 2  # the learned graph again
        weight = model.mlp_head[1].weight
        weight.data = weight.data.clone() * 2  # new storage (a move to the CPU and back), new numbers
        moved = graphs.run(model, features, positions, None)
    assert graphs.capture.captures == 3
    _assert_matches(moved, _longformer(model, features, positions))
    assert not torch.allclose(moved.logits, learned.logits)


def test_a_temporal_graph_that_cannot_be_captured_is_not_retried_and_none_in_training(model):
    failing = GraphedTemporal(StandIn(fail=True))
    features, positions = _sequence(20)
    with torch.inference_mode():
        assert failing.run(model, features, positions, None) is None
        assert failing.run(model, features, positions, None) is None
    assert failing.capture.captures == 1
    graphs = GraphedTemporal(StandIn())
    model.train()
    try:
        assert graphs.run(model, features, positions, None) is None and graphs.capture.captures == 0
    finally:
        model.eval()
    assert GraphedTemporal(capture_cuda).run(model, features, positions, None) is None  # CPU: never captured


def test_run_video_temporal_step_on_cuda_replays_and_stays_eager_after_running_out_of_memory(model, monkeypatch):
    stand_in = GraphedTemporal(StandIn())
    monkeypatch.setattr("vtn_core.inference.TEMPORAL_GRAPHS", stand_in)
    features, positions = _sequence(37)
    expected = _longformer(model, features, positions)
    dense_calls = []
    forward_features = VTN.forward_features

    def recording(self, *args, **kwargs):
        dense_calls.append(kwargs.get("dense_attention", False))
        return forward_features(self, *args, **kwargs)

    monkeypatch.setattr(VTN, "forward_features", recording)
    with torch.inference_mode():
        on_cpu = _temporal(_Encoder(model, "fp32", graph_batch=4), features, positions)
    assert dense_calls == [False] and stand_in.capture.captures == 0  # the CPU keeps Longformer's numbers
    _assert_matches(on_cpu, expected)

    monkeypatch.setattr(type(model), "device", property(lambda m: torch.device("cuda")))
    dense_calls.clear()
    with torch.inference_mode():
        graphed = _temporal(_Encoder(model, "fp32", graph_batch=4), features, positions)
        after_oom = _temporal(_Encoder(model, "fp32", graph_batch=0), features, positions)
    assert stand_in.capture.captures == 1 and dense_calls == [True, True]  # the capture's run, then eager dense
    _assert_matches(graphed, expected)
    _assert_matches(after_oom, expected)


def test_sessions_sharing_a_temporal_graph_each_get_their_own_output(model):
    graphs = GraphedTemporal(StandIn(pause=0.02))  # a slow replay: another session's input could land meanwhile
    sequences = [_sequence(frames, seed=frames) for frames in (30, 64, 90, 120)]  # one bucket, four lengths
    results: dict[int, object] = {}

    def session(index: int) -> None:
        with torch.inference_mode():
            for _ in range(3):
                results[index] = graphs.run(model, *sequences[index], None)

    with torch.inference_mode():
        graphs.run(model, *sequences[0], None)  # captured before the sessions start
    threads = [threading.Thread(target=session, args=(index,)) for index in range(len(sequences))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index, (features, positions) in enumerate(sequences):
        _assert_matches(results[index], _longformer(model, features, positions))
    assert graphs.capture.captures == 1
