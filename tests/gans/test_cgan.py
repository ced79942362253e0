"""The conditional GAN trainer: label checks, eval-mode sampling, options, exact resume, a short
run whose samples come to match their labels, and examples/cgan.py end to end."""
import functools
import json
import struct

import numpy as np
import pytest

import minigan as mg
from minigan import io, optim
from minigan.data import DataLoader, Subset, SyntheticDigits
from minigan.gans import TrainingLoop, evaluation
from minigan.gans.cgan import CGAN, class_rows
from minigan.models.cgan import CGANDiscriminator, CGANGenerator

from example_scripts import load_example as load_script



def small_cgan(n_classes=10, size=16, lr=2e-4, hidden=(32, 64, 128), **kwargs):
    """A cGAN on (1, size, size) images small enough for tests (seeded by the caller)."""
    G = CGANGenerator(16, n_classes, (1, size, size), hidden=hidden)
    D = CGANDiscriminator(n_classes, (1, size, size), hidden=hidden[-1])
    return CGAN(G, D, optim.Adam(G.parameters(), lr, betas=(0.5, 0.999)),
                optim.Adam(D.parameters(), lr, betas=(0.5, 0.999)), latent_dim=16,
                n_classes=n_classes, **kwargs)


def digit_loader(n=256, batch=32, seed=0, classes=10):
    """Synthetic 16x16 digits of the first ``classes`` classes (label = digit)."""
    digits = SyntheticDigits(n, size=16, seed=seed)
    subset = Subset(digits, [i for i in range(n) if i % 10 < classes])
    return DataLoader(subset, batch_size=batch, shuffle=True, drop_last=True, seed=seed)


def params(gan):
    return {f"{name}/{k}": v.numpy().copy() for name, m in (("G", gan.G), ("D", gan.D))
            for k, v in m.state_dict().items()}


def test_class_rows():
    assert class_rows(3, 2).tolist() == [0, 0, 1, 1, 2, 2]


@pytest.mark.parametrize("options", [dict(), dict(loss="non_saturating", d_steps=2),
                                     dict(loss="vanilla", real_label=0.9, instance_noise=0.1),
                                     dict(matching_aware=True)])
def test_train_step_updates_both_networks(options):
    mg.manual_seed(0)
    cgan = small_cgan(**options)
    before = params(cgan)
    images, labels = next(iter(digit_loader()))
    losses = cgan.train_step(images, labels)
    assert set(losses) == {"d_loss", "g_loss"} and all(np.isfinite(list(losses.values())))
    after = params(cgan)
    for key in ("G/label_emb.weight", "G/model.0.weight", "D/label_emb.weight", "D/model.0.weight"):
        assert not np.allclose(before[key], after[key]), key


def test_bad_labels_and_options():
    mg.manual_seed(0)
    cgan = small_cgan()
    images, labels = next(iter(digit_loader()))
    with pytest.raises(ValueError, match=r"labels must be an int Tensor of shape \(32,\)"):
        cgan.train_step(images, labels[:5])
    with pytest.raises(ValueError, match=r"CGAN: labels must lie in \[0, 10\), got values in \[-1, 9\]"):
        cgan.train_step(images, mg.tensor(np.r_[-1, np.arange(31) % 10]))
    with pytest.raises(ValueError, match=r"labels must be a 1-D sequence of ints"):
        cgan.sample(np.array([0.5, 1.5]))
    with pytest.raises(ValueError, match=r"z must have shape \(2, 16\)"):
        cgan.sample([0, 1], z=np.zeros((3, 16), np.float32))
    with pytest.raises(ValueError, match="n_classes must be an int >= 2"):
        small_cgan(n_classes=1)


def test_sampling_uses_eval_mode_batchnorm():
    """A batch of one class sampled in eval mode is the same images as in a mixed batch; BN's
    running statistics and G's mode are left as they were."""
    mg.manual_seed(0)
    cgan = small_cgan()
    loader = digit_loader()
    for images, labels in loader:
        cgan.train_step(images, labels)
    z = np.random.default_rng(0).standard_normal((20, 16)).astype(np.float32)
    mixed = cgan.sample(class_rows(10, 2), z=z).numpy()
    stats = cgan.G.model[3].running_mean.numpy().copy()
    single = cgan.sample(np.full(2, 3), z=z[6:8]).numpy()          # the two samples of class 3
    np.testing.assert_allclose(single, mixed[6:8], rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(cgan.G.model[3].running_mean.numpy(), stats)
    assert cgan.G.training


def test_resume_gives_identical_parameters(tmp_path):
    mg.manual_seed(0)
    straight = small_cgan(matching_aware=True)
    TrainingLoop(straight, digit_loader(), tmp_path / "a", steps=12, progress=False).run()

    mg.manual_seed(0)
    first = small_cgan(matching_aware=True)
    TrainingLoop(first, digit_loader(), tmp_path / "b", steps=6, progress=False).run()
    mg.manual_seed(99)
    second = small_cgan(matching_aware=True)
    TrainingLoop(second, digit_loader(), tmp_path / "b", steps=12, progress=False).run(resume=True)
    expected, got = params(straight), params(second)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


def linear_judge(images, labels):
    """A fixed two-class judge: ridge regression from pixels to +-1, fitted on real images."""
    x = np.c_[images.reshape(len(images), -1), np.ones(len(images))]    # (N, pixels + 1)
    target = np.where(labels == 1, 1.0, -1.0)
    weights = np.linalg.solve(x.T @ x + 10.0 * np.eye(x.shape[1]), x.T @ target)

    def accuracy(samples, requested):
        flat = np.c_[samples.reshape(len(samples), -1), np.ones(len(samples))]
        return float(np.mean((flat @ weights > 0) == (requested == 1)))
    return accuracy


def test_short_run_makes_samples_match_their_labels(tmp_path):
    """Zeros and ones at 16x16, 320 steps with the matching-aware D: a fixed linear judge reads
    the requested digit in nearly every sample (about half at the start)."""
    loader = digit_loader(n=2560, classes=2)
    real, labels = evaluation.dataset_arrays(loader.dataset)
    judge = linear_judge(real, labels)
    held_out, held_out_labels = evaluation.dataset_arrays(
        Subset(SyntheticDigits(2000, size=16, seed=3), [i for i in range(2000) if i % 10 < 2]))
    assert judge(held_out, held_out_labels) > 0.95                      # the judge itself works
    mg.manual_seed(0)
    cgan = small_cgan(n_classes=2, lr=1e-3, matching_aware=True)
    requested = class_rows(2, 100)
    z = np.random.default_rng(1).standard_normal((200, 16)).astype(np.float32)
    start = judge(cgan.sample(requested, z=z).numpy(), requested)
    TrainingLoop(cgan, loader, tmp_path, steps=320, checkpoint_every=0, progress=False).run()
    end = judge(cgan.sample(requested, z=z).numpy(), requested)
    assert end > 0.85 and end > start + 0.3, (start, end)


# ---------------------------------------------------------------- the example
def load_example():
    return load_script("cgan")


example = load_example()


@pytest.fixture
def tiny_judge(monkeypatch, tmp_path):
    small = functools.partial(evaluation.digit_classifier, n_train=256, n_test=64, epochs=1,
                              cache=str(tmp_path / "cache"))
    monkeypatch.setattr(evaluation, "digit_classifier", small)


def run_example(out, *extra):
    argv = ["--out", str(out), "--n-train", "128", "--batch-size", "32", "--image-size", "16",
            "--eval-per-class", "5", "--no-progress", *extra]
    return example.main(argv)


def test_example_writes_its_outputs_and_resumes_exactly(tmp_path, tiny_judge):
    straight = run_example(tmp_path / "a", "--epochs", "2")
    out = tmp_path / "a"
    for name in ("samples_epoch001.png", "samples_epoch002.png", "losses.png", "metrics.json",
                 "checkpoint.safetensors", "classifier.safetensors"):
        assert (out / name).is_file(), name
    saved = json.loads((out / "metrics.json").read_text())
    assert [r["step"] for r in saved["history"]] == [0, 4, 8]
    assert len(saved["accuracy_per_class"]) == 10
    assert saved["accuracy"] == pytest.approx(np.mean(saved["accuracy_per_class"]))
    from PIL import Image
    width, height = Image.open(out / "samples_epoch002.png").size
    assert (width, height) == (10 * 18 + 2, 10 * 18 + 2)           # 10 rows (classes) of 10

    run_example(tmp_path / "b", "--epochs", "1")
    resumed = run_example(tmp_path / "b", "--epochs", "2", "--resume")
    assert resumed["history"] == straight["history"]
    a = io.load_checkpoint(tmp_path / "a" / "checkpoint.safetensors")["trainer"]
    b = io.load_checkpoint(tmp_path / "b" / "checkpoint.safetensors")["trainer"]
    for net in ("G", "D"):
        for key in a[net]:
            np.testing.assert_array_equal(a[net][key], b[net][key], err_msg=f"{net}/{key}")


def write_idx(path, array):
    """An uncompressed idx file: magic (0, 0, 0x08 = uint8, ndim), big-endian sizes, the bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_example_reads_mnist_format_folders(tmp_path, tiny_judge):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for prefix, n, seed in (("train", 128, 0), ("t10k", 64, 1)):
        digits = SyntheticDigits(n, size=28, seed=seed)
        write_idx(folder / f"{prefix}-images-idx3-ubyte",
                  np.stack([digits.image_uint8(i) for i in range(n)]))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", np.arange(n) % 10)
    metrics = run_example(tmp_path / "run", "--data", str(folder), "--epochs", "1")
    assert metrics["step"] == 4                                    # 128 images, batch 32
    assert metrics["config"]["data"] == str(folder)
    assert metrics["classifier"]["source"] == "trained"           # judged by a folder-trained CNN
    with pytest.raises(SystemExit, match="not found"):
        run_example(tmp_path / "x", "--data", str(tmp_path / "missing"))
    (folder / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00")    # truncated
    with pytest.raises(SystemExit, match="truncated"):
        run_example(tmp_path / "y", "--data", str(folder))
