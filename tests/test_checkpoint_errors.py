"""Every way a checkpoint can be wrong gives one CheckpointError naming the file, the expectation and the finding."""
import os
import pickle
import struct
import zipfile

import pytest
import torch
from safetensors.torch import save_file

import vtn_core
from tests.official_files import save_official, tiny_vit_config
from vtn_core.model import VTN


@pytest.fixture()
def official(tmp_path):
    torch.manual_seed(0)
    return save_official(VTN(tiny_vit_config()).eval(), tmp_path / "good.pyth")


@pytest.fixture()
def native(tmp_path):
    return vtn_core.save_checkpoint(VTN(tiny_vit_config()).eval(), tmp_path / "good.safetensors")


def load_error(path) -> str:
    with pytest.raises(vtn_core.CheckpointError) as info:
        vtn_core.load_checkpoint(path, device="cpu")
    message = str(info.value)
    assert os.path.basename(str(path)) in message  # always names the file
    return message


class RunsCode:
    def __reduce__(self):
        return (os.system, ("touch PWNED_MARKER",))


def test_pickle_that_runs_code_is_refused_and_runs_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pyth"
    torch.save({"model_state": {}, "cfg": "", "payload": RunsCode()}, path)
    assert not (tmp_path / "PWNED_MARKER").exists()
    assert "refused" in load_error(path)
    assert not (tmp_path / "PWNED_MARKER").exists()
    legacy = tmp_path / "evil_legacy.pth"
    legacy.write_bytes(pickle.dumps({"x": RunsCode()}, protocol=2))
    load_error(legacy)
    assert not (tmp_path / "PWNED_MARKER").exists()


def test_empty_random_and_text_files(tmp_path):
    (tmp_path / "empty.pyth").write_bytes(b"")
    assert "empty" in load_error(tmp_path / "empty.pyth")
    (tmp_path / "noise.pth").write_bytes(os.urandom(4096).replace(b"P", b"Q"))
    assert "not a checkpoint" in load_error(tmp_path / "noise.pth")
    (tmp_path / "notes.safetensors").write_text("hello world, not weights")
    load_error(tmp_path / "notes.safetensors")


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.97])
def test_truncated_torch_file(official, fraction):
    data = official.read_bytes()
    official.write_bytes(data[: int(len(data) * fraction)])
    assert "truncated or corrupt" in load_error(official)


def test_zip_that_is_not_a_torch_file(tmp_path):
    path = tmp_path / "archive.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "not a model")
    assert "not a readable PyTorch checkpoint" in load_error(path)


def test_unknown_layout_and_missing_or_extra_keys(tmp_path, official):
    torch.save({"model_state": {"fc.weight": torch.zeros(2, 2)}, "cfg": ""}, tmp_path / "resnet.pyth")
    assert "unknown layout" in load_error(tmp_path / "resnet.pyth")
    payload = torch.load(official, weights_only=True)
    del payload["model_state"]["mlp_head.1.bias"]
    torch.save(payload, tmp_path / "missing.pyth")
    assert "missing 1 keys (e.g. mlp_head.1.bias)" in load_error(tmp_path / "missing.pyth")
    payload = torch.load(official, weights_only=True)
    payload["model_state"]["extra.weight"] = torch.zeros(1)
    torch.save(payload, tmp_path / "extra.pyth")
    assert "unexpected 1 keys (e.g. extra.weight)" in load_error(tmp_path / "extra.pyth")
    torch.save({"weights": [1, 2, 3]}, tmp_path / "nodict.pyth")
    assert "model_state" in load_error(tmp_path / "nodict.pyth")


def test_shape_and_dtype_mismatch(tmp_path, official):
    payload = torch.load(official, weights_only=True)
    payload["model_state"]["temporal_encoder.encoder.layer.0.intermediate.dense.weight"] = torch.zeros(5, 5)
    torch.save(payload, tmp_path / "shape.pyth")
    message = load_error(tmp_path / "shape.pyth")
    assert "shape mismatch" in message and "[128, 64]" in message and "[5, 5]" in message
    payload = torch.load(official, weights_only=True)
    payload["model_state"]["mlp_head.1.weight"] = torch.zeros(32, 64, dtype=torch.int64)
    torch.save(payload, tmp_path / "dtype.pyth")
    assert "floating point" in load_error(tmp_path / "dtype.pyth")


def test_cfg_disagreeing_with_weights(tmp_path, official):
    payload = torch.load(official, weights_only=True)
    payload["cfg"] = payload["cfg"].replace("NUM_CLASSES: 5", "NUM_CLASSES: 9")
    torch.save(payload, tmp_path / "cfg.pyth")
    message = load_error(tmp_path / "cfg.pyth")
    assert "mlp_head.4.weight" in message and "[9, 32]" in message and "[5, 32]" in message
    payload["cfg"] = "MODEL: [unclosed"
    torch.save(payload, tmp_path / "yaml.pyth")
    assert "YAML" in load_error(tmp_path / "yaml.pyth")


def test_safetensors_bad_header(tmp_path, native):
    data = native.read_bytes()
    (tmp_path / "hdr.safetensors").write_bytes(struct.pack("<Q", 60) + b"{" + b"x" * 59 + data[68:])
    assert "safetensors" in load_error(tmp_path / "hdr.safetensors")
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    load_error(tmp_path / "cut.safetensors")


def test_foreign_safetensors_and_bad_class_list(tmp_path, native):
    save_file({"w": torch.zeros(2)}, tmp_path / "foreign.safetensors")
    assert "not a VTN Explorer checkpoint" in load_error(tmp_path / "foreign.safetensors")
    from safetensors import safe_open
    with safe_open(str(native), framework="pt") as handle:
        header = dict(handle.metadata())
        state = {k: handle.get_tensor(k) for k in handle.keys()}
    header["class_names"] = '["a", "b"]'
    save_file(state, tmp_path / "classes.safetensors", metadata=header)
    assert "class list has 2 names but the model has 5 classes" in load_error(tmp_path / "classes.safetensors")


def test_nan_weights_warn_but_load(tmp_path, official):
    payload = torch.load(official, weights_only=True)
    payload["model_state"]["mlp_head.4.bias"][0] = float("nan")
    torch.save(payload, tmp_path / "nan.pyth")
    with pytest.warns(RuntimeWarning, match="NaN or Inf"):
        model = vtn_core.load_checkpoint(tmp_path / "nan.pyth", device="cpu")
    assert "NaN" in model.metadata["warnings"][0]


def test_size_limit_and_missing_file(tmp_path, official):
    with pytest.raises(vtn_core.CheckpointError, match="over the 10 bytes checkpoint limit"):
        vtn_core.load_checkpoint(official, device="cpu", max_bytes=10)
    with pytest.raises(vtn_core.CheckpointError, match="no such checkpoint"):
        vtn_core.load_checkpoint(tmp_path / "absent.pyth")


def test_cuda_without_gpu_is_a_clear_error(official):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(vtn_core.VTNError, match="no CUDA GPU"):
        vtn_core.load_checkpoint(official, device="cuda")
