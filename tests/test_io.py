"""minigan.io: checkpoints without pickle, atomic writes, clear errors, image grids, plots."""
import os
import zipfile

import numpy as np
import pytest
import safetensors.numpy
from PIL import Image

import minigan as mg
from minigan import io


def _state():
    rng = np.random.default_rng(0)
    return {
        "G": {"0.weight": rng.normal(size=(4, 2)).astype(np.float32), "0.bias": mg.zeros(4),
              "1.running_var": np.ones(3, np.float64), "num_batches_tracked": np.array(7)},
        "opt": {"state": {0: {"step": 3, "exp_avg": np.zeros((4, 2))}, 1: {"step": 3}},
                "param_groups": [{"lr": 1e-3, "betas": (0.5, 0.999), "params": [0, 1]}]},
        "rng": mg.random.get_state(),        # 128-bit integers inside
        "history": [1.5, float("nan"), float("inf")],
        "name": "gan", "nothing": None, "flag": True, "np_scalar": np.float32(2.5),
        "tricky": {"a/b": np.arange(3), "a": {"b": np.arange(4)}, "__array__": "not a tag"},
        "empty": {}, "labels": np.arange(6, dtype=np.int64).reshape(2, 3),
    }


def _assert_same(a, b, where="root"):
    assert type(a) is type(b) or isinstance(a, mg.Tensor), f"{where}: {type(a)} vs {type(b)}"
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            _assert_same(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}/{i}")
    elif isinstance(a, (np.ndarray, mg.Tensor)):
        a = a.numpy() if isinstance(a, mg.Tensor) else a
        assert a.dtype == b.dtype and a.shape == b.shape, where
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), where
    else:
        assert a == b, where


def test_checkpoint_round_trip(tmp_path):
    state = _state()
    path = tmp_path / "sub" / "ck.npz"
    io.save_checkpoint(path, state)
    back = io.load_checkpoint(path)
    state["np_scalar"] = 2.5                  # NumPy scalars come back as Python numbers
    state["G"]["0.bias"] = np.zeros(4, np.float32)   # Tensors come back as arrays
    _assert_same(state, back)
    assert isinstance(back["opt"]["state"], dict) and 0 in back["opt"]["state"]   # int keys kept
    assert back["opt"]["param_groups"][0]["betas"] == (0.5, 0.999)               # tuples kept
    mg.random.set_state(back["rng"])          # the generator state is usable as is


def test_checkpoint_is_safetensors_with_readable_keys(tmp_path):
    path = tmp_path / "ck.safetensors"
    io.save_checkpoint(path, _state())
    arrays = safetensors.numpy.load_file(path)          # a plain safetensors file, no pickle
    assert "G/0.weight" in arrays and "opt/state/0/exp_avg" in arrays
    assert arrays["G/0.weight"].shape == (4, 2)


def test_refuses_what_needs_pickle(tmp_path):
    with pytest.raises(TypeError, match="opt/fn.*function"):
        io.save_checkpoint(tmp_path / "a.npz", {"opt": {"fn": lambda: 0}})
    with pytest.raises(TypeError, match="object array"):
        io.save_checkpoint(tmp_path / "b.npz", {"x": np.array([{}, 1], dtype=object)})
    assert not os.listdir(tmp_path)           # nothing written


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "ck.safetensors"
    io.save_checkpoint(path, {"step": 1, "w": np.ones(3)})
    before = path.read_bytes()

    def full_disk(fd):                        # the file is written, then the disk "fills up"
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(io.os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        io.save_checkpoint(path, {"step": 2, "w": np.zeros(3)})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ck.safetensors"]  # the temporary file is gone
    assert io.load_checkpoint(path)["step"] == 1


def test_interrupted_write_is_atomic_too(tmp_path, monkeypatch):
    """Even a KeyboardInterrupt in the middle of a write leaves the target untouched."""
    path = tmp_path / "ck.safetensors"
    io.save_checkpoint(path, {"step": 1})

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(io.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint(path, {"step": 2})
    monkeypatch.undo()
    assert io.load_checkpoint(path)["step"] == 1
    assert os.listdir(tmp_path) == ["ck.safetensors"]


def test_missing_file_error_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        io.load_checkpoint(tmp_path / "nope.npz")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty", "flip"])
def test_corrupt_file_error_names_it(tmp_path, damage):
    path = tmp_path / "ck.safetensors"
    io.save_checkpoint(path, {"w": np.arange(1000.0), "step": 3})
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"this is not a checkpoint" * 10)
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # corrupt the weight array: the CRC-32 in the metadata catches it
        mid = len(data) - 3000
        path.write_bytes(data[:mid] + bytes([data[mid] ^ 0xFF]) + data[mid + 1:])
    with pytest.raises(io.CheckpointError, match="ck.safetensors"):
        io.load_checkpoint(path)


def test_npz_that_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, x=np.ones(2))
    with pytest.raises(io.CheckpointError, match="other.npz.*not a minigan checkpoint"):
        io.load_checkpoint(path)
    with zipfile.ZipFile(path, "a") as z:     # a header that is not JSON
        z.writestr("__meta__.npy", b"junk")
    with pytest.raises(io.CheckpointError, match="other.npz"):
        io.load_checkpoint(path)


def test_image_grid(tmp_path):
    # 5 images, 3 channels, 4x6: value -1 (black) everywhere except image i's top-left pixel = 1
    images = -np.ones((5, 3, 4, 6), np.float32)
    images[:, :, 0, 0] = 1.0
    path = tmp_path / "grid.png"
    io.save_image_grid(path, mg.tensor(images), nrow=3, padding=2)
    grid = np.asarray(Image.open(path))
    assert grid.shape == (2 * (4 + 2) + 2, 3 * (6 + 2) + 2, 3)     # 2 rows of 3 tiles
    assert grid[2, 2].tolist() == [255, 255, 255]                  # image 0's bright pixel
    assert grid[2 + 6, 2 + 8].tolist() == [255, 255, 255]          # image 4: row 1, column 1
    assert grid[3, 3].tolist() == [0, 0, 0]
    assert (grid == 255).all(axis=2).sum() == 5


def test_image_grid_grayscale_and_errors(tmp_path):
    io.save_image_grid(tmp_path / "g.png", np.zeros((3, 1, 5, 5)), nrow=8)
    image = Image.open(tmp_path / "g.png")
    assert image.mode == "L" and image.size == (3 * 7 + 2, 7 + 2)
    assert np.asarray(image)[3, 3] == 128                          # 0 in [-1, 1] -> mid grey
    with pytest.raises(ValueError, match=r"\(B, C, H, W\).*got \(2, 3, 1, 5, 5\)"):
        io.save_image_grid(tmp_path / "bad.png", np.zeros((2, 3, 1, 5, 5)))
    with pytest.raises(ValueError, match="nrow"):
        io.save_image_grid(tmp_path / "bad.png", np.zeros((3, 1, 5, 5)), nrow=0)


def test_plots_write_pngs(tmp_path):
    rng = np.random.default_rng(0)
    io.plot_points(tmp_path / "ring.png", rng.normal(size=(100, 2)), mg.randn(50, 2), title="t",
                   limit=3)
    io.plot_losses(tmp_path / "losses.png", {"d_loss": rng.random(500), "g_loss": rng.random(500)})
    for name in ("ring.png", "losses.png"):
        with Image.open(tmp_path / name) as image:
            assert image.format == "PNG" and image.size[0] > 100
    assert sorted(os.listdir(tmp_path)) == ["losses.png", "ring.png"]
    with pytest.raises(ValueError, match="fake must have shape"):
        io.plot_points(tmp_path / "x.png", np.zeros((3, 2)), np.zeros((3, 3)))


def test_save_json(tmp_path):
    io.save_json(tmp_path / "m.json", {"modes_covered": 8, "high_quality_fraction": 0.9})
    assert '"modes_covered": 8' in (tmp_path / "m.json").read_text()
