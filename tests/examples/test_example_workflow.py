"""Issue 11 through the examples' command lines: a used --out, one-line errors, --test naming and
full-size translation, per-epoch snapshots, continuing a finished run, the reference's flags,
channel overrides, unreadable images, and the results pages (screenshot in headless Chromium
when it is installed)."""
import gzip
import json
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from minigan import io

from example_scripts import load_example

CYCLE = ["--size", "32", "--ngf", "4", "--ndf", "4", "--n-blocks", "1", "--n-layers", "2",
         "--n-train", "3", "--n-test", "2", "--epochs", "1", "--epochs-decay", "1", "--no-progress"]
PIX = ["--size", "32", "--ngf", "4", "--ndf", "4", "--n-layers", "2", "--n-train", "4",
       "--n-test", "2", "--batch-size", "2", "--epochs", "1", "--epochs-decay", "1",
       "--no-progress"]


example = load_example


def one_line_exit(capsys, fn, *args):
    """Run fn(*args), expect SystemExit with a one-line message (argparse's usage lines may come
    before it); return the message."""
    with pytest.raises(SystemExit) as caught:
        fn(*args)
    if isinstance(caught.value.code, str):
        message = caught.value.code
        assert "\n" not in message.strip(), message
    else:
        err = capsys.readouterr().err.strip()
        assert "Traceback" not in err and caught.value.code != 0, err
        message = err.splitlines()[-1]
    assert message.startswith(("error:", "__main__.py: error:")) or ": error: " in message, message
    return message


@pytest.fixture(scope="module")
def cyclegan_run(tmp_path_factory):
    """One tiny CycleGAN run (2 epochs of 3 steps) with a snapshot per epoch."""
    out = tmp_path_factory.mktemp("cyc") / "run"
    metrics = example("cyclegan").main(CYCLE + ["--out", str(out), "--save-epoch-freq", "1"])
    return out, metrics


def test_a_rerun_into_a_used_out_is_refused(tmp_path, capsys):
    """Item 1: a second run without --resume used to replace the first run's checkpoint."""
    gan, out = example("gan"), tmp_path / "o"
    base = ["--batch-size", "64", "--no-progress", "--out", str(out)]
    gan.main(base + ["--steps", "6"])
    message = one_line_exit(capsys, gan.main, base + ["--steps", "3"])
    assert "already holds a checkpoint" in message and "--resume" in message \
        and "--overwrite" in message
    assert io.load_checkpoint(out / "checkpoint.safetensors")["loop"]["step"] == 6
    gan.main(base + ["--steps", "3", "--overwrite"])
    assert io.load_checkpoint(out / "checkpoint.safetensors")["loop"]["step"] == 3
    gan.main(base + ["--steps", "5", "--resume"])                 # a larger --steps extends it
    assert json.loads((out / "metrics.json").read_text())["step"] == 5
    (tmp_path / "file").write_text("x")
    message = one_line_exit(capsys, gan.main, ["--out", str(tmp_path / "file"), "--steps", "1"])
    assert "is a file" in message


def test_one_line_errors(tmp_path, capsys, cyclegan_run):
    """Item 6: what used to end in a traceback."""
    from minigan import backend
    gan, cyclegan = example("gan"), example("cyclegan")
    if not backend.gpu_available():
        assert "--device cuda" in one_line_exit(capsys, gan.main, ["--device", "cuda", "--out",
                                                                   str(tmp_path / "d")])
    assert "--lr must be a number > 0, got -1" in one_line_exit(
        capsys, gan.main, ["--lr", "-1", "--out", str(tmp_path / "l")])
    assert "--batch-size 4 is larger than the training set (3 samples)" in one_line_exit(
        capsys, cyclegan.main, CYCLE + ["--batch-size", "4", "--out", str(tmp_path / "b")])
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (32, 32), (9, 90, 200)).save(photos / "a.png")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "checkpoint.safetensors").write_bytes(b"PK\x03\x04 not really a zip")
    assert "broken" in one_line_exit(capsys, cyclegan.main, ["--test", str(photos), "--out",
                                                             str(broken)])
    foreign = tmp_path / "foreign"                      # a ring GAN's checkpoint, not a CycleGAN's
    gan.main(["--steps", "1", "--batch-size", "64", "--no-progress", "--out", str(foreign)])
    message = one_line_exit(capsys, cyclegan.main, ["--test", str(photos), "--out", str(foreign)])
    assert "not a checkpoint of this example" in message or "another model" in message


def test_mnist_folder_with_one_split_is_used(tmp_path):
    """Item 6: only t10k-* (or only train-*) files: train on them, hold out a part."""
    from minigan.gans.evaluation import mnist_splits
    rng = np.random.default_rng(0)
    for prefix in ("t10k",):
        images = rng.integers(0, 256, (12, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, 12, dtype=np.uint8)
        with gzip.open(tmp_path / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
            f.write(struct.pack(">IIII", 2051, 12, 28, 28) + images.tobytes())
        with gzip.open(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
            f.write(struct.pack(">II", 2049, 12) + labels.tobytes())
    train, held_out = mnist_splits(tmp_path, 28)
    assert (len(train), len(held_out)) == (10, 2)
    with pytest.raises(FileNotFoundError, match="no complete MNIST split"):
        mnist_splits(tmp_path / "nothing" if (tmp_path / "nothing").mkdir() is None else None)


def test_test_mode_names_pages_and_refusals(tmp_path, capsys, cyclegan_run):
    """Item 3: a.jpg and a.png give a_fake.jpg and a_fake.png; --results = the input folder is
    refused; the page pairs inputs with outputs; --epoch picks a kept snapshot."""
    out, _ = cyclegan_run
    cyclegan = example("cyclegan")
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (40, 40), (200, 120, 30)).save(photos / "a.jpg")
    Image.new("RGB", (40, 40), (20, 120, 230)).save(photos / "a.png")
    results = tmp_path / "results"
    written = cyclegan.main(["--test", str(photos), "--out", str(out), "--results", str(results)])
    assert sorted(Path(p).name for p in written) == ["a_fake.jpg", "a_fake.png"]
    assert Image.open(results / "a_fake.jpg").format == "JPEG"
    page = (results / "index.html").read_text()
    assert "../photos/a.jpg" in page and "a_fake.jpg" in page and "a_fake.png" in page
    assert sorted(p.name for p in photos.iterdir()) == ["a.jpg", "a.png"]
    message = one_line_exit(capsys, cyclegan.main, ["--test", str(photos), "--out", str(out),
                                                    "--results", str(photos)])
    assert "is the input folder" in message
    assert sorted(p.name for p in photos.iterdir()) == ["a.jpg", "a.png"]
    cyclegan.main(["--test", str(photos), "--out", str(out), "--epoch", "1", "--results",
                   str(tmp_path / "e1")])
    assert (tmp_path / "e1" / "a_fake.png").is_file()
    message = one_line_exit(capsys, cyclegan.main, ["--test", str(photos), "--out", str(out),
                                                    "--epoch", "9"])
    assert "checkpoint_epoch001.safetensors, checkpoint_epoch002.safetensors" in message


def test_full_size_non_square_test(tmp_path, cyclegan_run):
    """--preprocess none: an 80x48 image gives an 80x48 one (ResNet: a multiple of 4; a U-Net of
    5 levels pads 80x48 to 96x64 and crops back)."""
    out, _ = cyclegan_run
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (80, 48), (200, 120, 30)).save(photos / "wide.png")
    Image.new("RGB", (50, 66), (20, 120, 30)).save(photos / "odd.png")
    example("cyclegan").main(["--test", str(photos), "--out", str(out), "--preprocess", "none",
                              "--results", str(tmp_path / "r")])
    assert Image.open(tmp_path / "r" / "wide_fake.png").size == (80, 48)
    assert Image.open(tmp_path / "r" / "odd_fake.png").size == (50, 66)
    pix, run = example("pix2pix"), tmp_path / "pix"
    pix.main(PIX + ["--out", str(run), "--epochs", "0"])
    pix.main(["--test", str(photos), "--out", str(run), "--preprocess", "none", "--results",
              str(tmp_path / "p")])
    assert Image.open(tmp_path / "p" / "wide_fake.png").size == (80, 48)


def test_continue_a_finished_run_for_more_epochs(tmp_path, cyclegan_run):
    """--resume with a larger --epochs goes on to the new total (the reference's continue_train)."""
    out = tmp_path / "run"
    shutil.copytree(cyclegan_run[0], out)
    metrics = example("cyclegan").main(CYCLE[:-5] + ["--epochs", "2", "--epochs-decay", "1",
                                                     "--no-progress", "--out", str(out),
                                                     "--resume"])
    assert metrics["step"] == 9 and (out / "epoch_003.png").is_file()
    state = io.load_checkpoint(out / "checkpoint.safetensors")
    assert state["trainer"]["schedulers"][0]["n_epochs"] == 2        # the new schedule


def test_checkpoint_every_in_every_example(monkeypatch, tmp_path):
    """Item 4: pix2pix/cyclegan saved once an epoch; --checkpoint-every N now works everywhere."""
    for name in ("gan", "cgan", "dcgan", "pix2pix", "cyclegan"):
        assert example(name).parse_args(["--checkpoint-every", "7"]).checkpoint_every == 7, name
    saved = []
    real_save = io.save_checkpoint

    def spy(path, state):
        saved.append((Path(path).name, state["loop"]["step"]))
        return real_save(path, state)

    monkeypatch.setattr(io, "save_checkpoint", spy)
    example("cyclegan").main(CYCLE + ["--out", str(tmp_path / "c"), "--checkpoint-every", "2"])
    assert [s for n, s in saved if n == "checkpoint.safetensors"] == [2, 4, 6, 6]


def test_reference_flags_and_channel_overrides(tmp_path):
    """The reference's flags reach the trainer; --input-nc/--output-nc override detection; an
    unreadable image stops the run before training, --skip-bad-images goes on (items 4, 5)."""
    data = tmp_path / "data"
    for folder, n in (("trainA", 3), ("trainB", 3)):
        (data / folder).mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (36, 36), (60 * i, 90, 30)).save(data / folder / f"{i}.png")
    Image.new("L", (36, 36), 40).save(data / "trainA" / "000.png")   # sorts first, grayscale
    (data / "trainB" / "bad.png").write_bytes(b"\x89PNG broken")
    cyclegan = example("cyclegan")
    common = ["--data", str(data), "--size", "32", "--ngf", "4", "--ndf", "4", "--n-layers", "2",
              "--epochs", "1", "--epochs-decay", "1", "--no-progress"]
    with pytest.raises(SystemExit, match=r"1 of 8 images .*bad\.png.*--skip-bad-images"):
        cyclegan.main(common + ["--out", str(tmp_path / "a")])
    metrics = cyclegan.main(common + ["--out", str(tmp_path / "a"), "--skip-bad-images",
                                      "--netG", "resnet_6blocks", "--norm", "none",
                                      "--gan-mode", "wgangp", "--init-type", "orthogonal",
                                      "--lr-policy", "cosine", "--serial-batches", "--no-flip"])
    assert metrics["config"]["channels"] == [3, 3] and metrics["step"] == 8
    assert metrics["config"]["netG"] == "resnet_6blocks"
    state = io.load_checkpoint(tmp_path / "a" / "checkpoint.safetensors")
    assert "T_max" in state["trainer"]["schedulers"][0]
    assert not any("running_mean" in k for k in state["trainer"]["G"])      # --norm none
    metrics = cyclegan.main(common + ["--out", str(tmp_path / "b"), "--skip-bad-images",
                                      "--input-nc", "1", "--lr-policy", "plateau"])
    assert metrics["config"]["channels"] == [1, 3]


def test_results_pages(cyclegan_run, tmp_path):
    out, _ = cyclegan_run
    page = (out / "index.html").read_text()
    for name in ("losses.png", "epoch_001.png", "epoch_002.png", "summer_to_winter.psnr"):
        assert name in page, name


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_pages_render_in_headless_chromium(cyclegan_run, tmp_path):
    """Screenshots of a short run's page and of --test's page (kept in the test's tmp folder)."""
    out, _ = cyclegan_run
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.new("RGB", (80, 48), (200, 120, 30)).save(photos / "wide.png")
    example("cyclegan").main(["--test", str(photos), "--out", str(out), "--preprocess", "none",
                              "--results", str(tmp_path / "r")])
    for page, shot in ((out / "index.html", tmp_path / "run.png"),
                       (tmp_path / "r" / "index.html", tmp_path / "test.png")):
        done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                               "--allow-file-access-from-files", f"--screenshot={shot}",
                               "--window-size=1000,1400", page.as_uri()],
                              capture_output=True, text=True, timeout=120)
        assert shot.is_file(), done.stderr[-2000:]
        pixels = np.asarray(Image.open(shot).convert("L"), dtype=np.float64)
        assert pixels.std() > 5                     # more than a blank page: pictures drawn


def test_pix2pix_channel_overrides_keep_the_loaders_generator(tmp_path):
    """--input-nc/--output-nc on aligned pairs; the wrapped dataset still draws its crops and
    flips from the loader's per-sample generator (not dataset[i]'s fixed one)."""
    from minigan.data import DataLoader, sample_rng
    pix = example("pix2pix")
    (tmp_path / "d" / "train").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (40, 80, 3), dtype=np.uint8)).save(
            tmp_path / "d" / "train" / f"{i}.png")
    args = pix.parse_args(["--data", str(tmp_path / "d"), "--size", "32", "--output-nc", "1"])
    train, _, _, channels = pix.build_data(args)
    assert channels == (3, 1)
    loader = DataLoader(train, batch_size=4, shuffle=False, seed=3)
    a, b = next(iter(loader))
    assert a.shape == (4, 3, 32, 32) and b.shape == (4, 1, 32, 32)
    direct = train.dataset.get(0, sample_rng(3, 0, 0))
    np.testing.assert_array_equal(a.numpy()[0], direct[0])
