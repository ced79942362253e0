"""mg.save / mg.load (safetensors), the checkpoint reader's bounds, old .npz checkpoints, stale temps."""
import io as bytesio
import json
import os
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy

import minigan as mg
from minigan import io, nn
from minigan.serialization import CheckpointError, MAX_TREE_DEPTH

FIXTURE = Path(__file__).parent / "fixtures" / "checkpoint_v1.npz"   # written by minigan 0.1's io


def test_save_load_round_trip_gives_tensors(tmp_path):
    state = {"G": {"w": mg.randn(3, 2), "steps": np.array(4)}, "epoch": 3, "pair": (1.5, "x"),
             "ids": {0: [mg.zeros(2), None]}, "flag": False}
    mg.save(state, tmp_path / "s.safetensors")
    back = mg.load(tmp_path / "s.safetensors")
    assert isinstance(back["G"]["w"], mg.Tensor) and back["G"]["w"].dtype == np.float32
    np.testing.assert_array_equal(back["G"]["w"].numpy(), state["G"]["w"].numpy())
    assert back["G"]["steps"].shape == () and back["G"]["steps"].item() == 4
    assert back["epoch"] == 3 and back["pair"] == (1.5, "x") and back["flag"] is False
    assert list(back["ids"]) == [0] and back["ids"][0][1] is None


def test_save_load_file_objects_and_plain_tensor():
    buffer = bytesio.BytesIO()
    mg.save(mg.arange(6).reshape(2, 3) if hasattr(mg, "arange") else mg.ones(2, 3), buffer)
    buffer.seek(0)
    assert mg.load(buffer).shape == (2, 3)
    with pytest.raises(CheckpointError, match="file object"):
        mg.load(bytesio.BytesIO(b"not safetensors at all"))


def test_flat_state_dict_keys_are_kept_as_is(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    mg.save(model.state_dict(), tmp_path / "m.safetensors")
    arrays = safetensors.numpy.load_file(tmp_path / "m.safetensors")
    assert sorted(arrays) == sorted(model.state_dict())
    other = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    other.load_state_dict(mg.load(tmp_path / "m.safetensors"))
    np.testing.assert_array_equal(other[0].weight.numpy(), model[0].weight.numpy())


def test_foreign_safetensors_load_as_a_flat_dict(tmp_path):
    safetensors.numpy.save_file({"a.weight": np.ones((2, 2), np.float32)}, tmp_path / "f.st",
                                metadata={"author": "someone"})
    back = mg.load(tmp_path / "f.st")
    assert list(back) == ["a.weight"] and isinstance(back["a.weight"], mg.Tensor)


def test_refusals_are_one_clear_line(tmp_path):
    with pytest.raises(TypeError, match="save: cannot store the object of type Sequential.*"
                                        "state_dict"):
        mg.save(nn.Sequential(nn.Linear(1, 1)), tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="z is of dtype complex64"):
        mg.save({"z": np.zeros(2, np.complex64)}, tmp_path / "x.safetensors")
    with pytest.raises(ValueError, match="weights_only=False"):
        mg.load(tmp_path / "x.safetensors", weights_only=False)
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        mg.load(tmp_path / "nope.safetensors")
    assert not os.listdir(tmp_path)


def test_a_torch_pickle_is_refused_with_the_convert_hint(tmp_path):
    path = tmp_path / "G.pth"
    with zipfile.ZipFile(path, "w") as z:      # the layout torch.save writes
        z.writestr("G/data.pkl", b"\x80\x02}q\x00.")
    with pytest.raises(CheckpointError, match="PyTorch pickle.*python -m minigan.convert"):
        mg.load(path)


# ---------------------------------------------------------------- old checkpoints
def test_reads_a_checkpoint_written_by_minigan_0_1():
    state = io.load_checkpoint(FIXTURE)
    model = state["model"]
    assert sorted(model) == ["0.bias", "0.weight", "1.bias", "1.num_batches_tracked",
                             "1.running_mean", "1.running_var", "1.weight", "2.bias", "2.weight"]
    np.testing.assert_array_equal(model["0.weight"][0], np.float32([-0.478451132774353,
                                                                    -0.30390504002571106,
                                                                    0.3478817939758301]))
    assert model["1.num_batches_tracked"].shape == () and model["1.num_batches_tracked"] == 1
    assert sorted(state["opt"]["state"]) == [0, 1, 2, 3, 4, 5]          # int keys kept
    assert state["opt"]["param_groups"][0]["betas"] == (0.5, 0.999)    # tuples kept
    assert state["loop"] == {"step": 7, "history": [1.5, 0.25],
                             "config": {"lr": 0.001, "name": "legacy"}}
    assert state["pair"] == (1, "two") and state["nothing"] is None
    assert state["rng"]["state"]["state"] == 148494860218278067607018057003861334617


def test_an_old_checkpoint_resumes_into_the_new_format(tmp_path):
    """Load the 0.1 file, restore a model and an optimizer from it, save: same numbers."""
    old = io.load_checkpoint(FIXTURE)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    model.load_state_dict(old["model"])
    io.save_checkpoint(tmp_path / "checkpoint.safetensors", {"model": model.state_dict(),
                                                              "opt": old["opt"]})
    new = io.load_checkpoint(tmp_path / "checkpoint.safetensors")
    for key, value in old["model"].items():
        np.testing.assert_array_equal(new["model"][key], value)
    np.testing.assert_array_equal(new["opt"]["state"][2]["exp_avg_sq"],
                                  old["opt"]["state"][2]["exp_avg_sq"])


def test_checkpoint_path_prefers_the_new_name_and_finds_an_old_one(tmp_path):
    assert io.checkpoint_path(tmp_path) == str(tmp_path / "checkpoint.safetensors")
    (tmp_path / "checkpoint.npz").write_bytes(FIXTURE.read_bytes())
    assert io.checkpoint_path(tmp_path) == str(tmp_path / "checkpoint.npz")
    io.save_checkpoint(tmp_path / "checkpoint.safetensors", {"step": 1})
    assert io.checkpoint_path(tmp_path) == str(tmp_path / "checkpoint.safetensors")


# ---------------------------------------------------------------- hostile files (issue 11)
def _npz(path, entries):
    """An uncompressed zip of raw .npy members, as np.savez writes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in entries.items():
            z.writestr(name + ".npy", data)


def _npy(array):
    buffer = bytesio.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _npy_header_only(shape, dtype="<f8", payload=b""):
    header = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + payload


def _meta(tree_json):
    return _npy(np.frombuffer(tree_json.encode(), np.uint8))


def test_old_npz_with_a_deeply_nested_header_is_a_checkpoint_error(tmp_path):
    path = tmp_path / "deep.npz"
    tree = '{"format": "minigan-checkpoint", "version": 1, "tree": ' + "[" * 100000 \
        + "]" * 100000 + "}"
    _npz(path, {"__meta__": _meta(tree)})
    with pytest.raises(CheckpointError, match="deep.npz.*nests"):
        io.load_checkpoint(path)


def test_old_npz_declaring_a_huge_array_is_a_checkpoint_error(tmp_path):
    path = tmp_path / "huge.npz"
    tree = '{"format": "minigan-checkpoint", "version": 1, "tree": {"w": {"__array__": "w"}}}'
    _npz(path, {"__meta__": _meta(tree), "w": _npy_header_only((2**40,), payload=b"\0" * 64)})
    with pytest.raises(CheckpointError, match="huge.npz.*declares"):
        io.load_checkpoint(path)


def _safetensors_with(tmp_path, metadata, tensors=None):
    path = tmp_path / "ck.safetensors"
    safetensors.numpy.save_file(tensors or {"w": np.ones(3, np.float32)}, path,
                                metadata=metadata)
    return path


def test_a_deeply_nested_tree_is_a_checkpoint_error(tmp_path):
    deep = "[" * (MAX_TREE_DEPTH + 1) + "]" * (MAX_TREE_DEPTH + 1)
    path = _safetensors_with(tmp_path, {"format": "minigan", "version": "2", "tree": deep})
    with pytest.raises(CheckpointError, match="nests 101 levels"):
        io.load_checkpoint(path)
    brackets_in_strings = json.dumps({"s": "[" * 5000})                 # not nesting: fine
    path = _safetensors_with(tmp_path, {"format": "minigan", "version": "2",
                                        "tree": brackets_in_strings})
    assert io.load_checkpoint(path) == {"s": "[" * 5000}


def test_a_huge_declared_tensor_or_header_is_a_checkpoint_error(tmp_path):
    path = tmp_path / "huge.safetensors"
    header = json.dumps({"w": {"dtype": "F32", "shape": [100000, 100000],
                               "data_offsets": [0, 40000000000]}}).encode()
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 64)
    with pytest.raises(CheckpointError, match="huge.safetensors"):
        io.load_checkpoint(path)
    path.write_bytes(struct.pack("<Q", 10**12) + b"{}")
    with pytest.raises(CheckpointError, match="huge.safetensors.*header too large"):
        io.load_checkpoint(path)


def test_a_tree_naming_a_missing_tensor_is_a_checkpoint_error(tmp_path):
    path = _safetensors_with(tmp_path, {"format": "minigan", "version": "2",
                                        "tree": '{"x": {"__array__": "missing"}}'})
    with pytest.raises(CheckpointError, match="ck.safetensors.*KeyError"):
        io.load_checkpoint(path)


def test_a_stale_temp_file_is_removed_at_the_next_save(tmp_path):
    """A kill during a save leaves ``.ck.safetensors.XXXX.tmp``; the next save clears it."""
    stale = tmp_path / ".checkpoint.safetensors.k1ll3d.tmp"
    stale.write_bytes(b"\0" * 100_000)
    other = tmp_path / ".metrics.json.abcd.tmp"          # another target's temp: left alone
    other.write_bytes(b"{")
    io.save_checkpoint(tmp_path / "checkpoint.safetensors", {"step": 2})
    assert sorted(os.listdir(tmp_path)) == [".metrics.json.abcd.tmp", "checkpoint.safetensors"]


def test_file_objects_get_the_same_bounds():
    deep = b"{" + b'"a":{' * 5000 + b"}" * 5001
    with pytest.raises(CheckpointError, match="nests 5001 levels"):
        mg.load(bytesio.BytesIO(struct.pack("<Q", len(deep)) + deep))
    with pytest.raises(CheckpointError, match="declares 1000000000000000 bytes"):
        mg.load(bytesio.BytesIO(struct.pack("<Q", 10**15) + b"{}"))


def test_old_npz_with_a_foreign_header_is_a_checkpoint_error(tmp_path):
    path = tmp_path / "list.npz"
    _npz(path, {"__meta__": _meta("[1, 2, 3]")})
    with pytest.raises(CheckpointError, match="list.npz.*not a minigan 0.1 checkpoint"):
        io.load_checkpoint(path)
