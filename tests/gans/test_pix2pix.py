"""Pix2Pix trainer: learns labels -> photo on scenes, reference losses and LR schedule, exact
resume, eval-time norm statistics, translation scores, errors."""
import numpy as np
import pytest

import minigan as mg
from minigan.data import DataLoader
from minigan.data.scenes import PairedSceneTest, SceneLabelsToPhoto
from minigan.gans import TrainingLoop
from minigan.gans.pix2pix import Pix2Pix
from minigan.gans.translation import (discriminator_term, generator_term, score_translation,
                                      stack_field, translation_scores)
from minigan.models.patchgan import PatchDiscriminator
from minigan.models.unet import UnetGenerator

from example_scripts import load_example as load_script

SIZE = 32


def make_trainer(lr=2e-4, epochs=2, epochs_decay=2, dropout=True):
    G = UnetGenerator(3, 3, num_downs=5, ngf=8, use_dropout=dropout)
    D = PatchDiscriminator(6, ndf=8, n_layers=2)
    return Pix2Pix(G, D, lr=lr, epochs=epochs, epochs_decay=epochs_decay)


def test_short_run_lowers_ground_truth_l1():
    mg.manual_seed(0)
    trainer = make_trainer(lr=1e-3)
    test = PairedSceneTest(16, SIZE, seed=0)
    labels, photos = stack_field(test, 2), stack_field(test, 0)
    before = score_translation(trainer.translate, labels, photos)
    loader = DataLoader(SceneLabelsToPhoto(64, SIZE, seed=0), batch_size=4, shuffle=True, seed=0)
    for _ in range(3):
        for a, b in loader:
            losses = trainer.train_step(a, b)
    after = score_translation(trainer.translate, labels, photos)
    assert set(losses) == {"d", "g_gan", "g_l1"}
    assert after["l1"] < 0.13 and after["l1"] < 0.8 * before["l1"]     # measured: 0.171 -> 0.108
    assert after["psnr"] > before["psnr"] + 2


def test_losses_are_the_references():
    rng = np.random.default_rng(0)
    real, fake = (mg.tensor(rng.standard_normal((2, 1, 3, 3)).astype(np.float32)) for _ in range(2))
    r, f = real.numpy().astype(np.float64), fake.numpy().astype(np.float64)

    def bce(x, y):
        return np.mean(np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x))))
    assert discriminator_term(real, fake, "non_saturating").item() == \
        pytest.approx(0.5 * (bce(r, 1) + bce(f, 0)), rel=1e-5)
    assert generator_term(fake, "non_saturating").item() == pytest.approx(bce(f, 1), rel=1e-5)
    assert discriminator_term(real, fake, "lsgan").item() == \
        pytest.approx(0.5 * (np.mean((r - 1) ** 2) + np.mean(f ** 2)), rel=1e-5)
    assert generator_term(fake, "lsgan").item() == pytest.approx(np.mean((f - 1) ** 2), rel=1e-5)


def test_lr_schedule_follows_the_reference_formula():
    epochs, decay, lr = 3, 4, 2e-4
    trainer = make_trainer(lr=lr, epochs=epochs, epochs_decay=decay)
    seen = [trainer.opt_G.param_groups[0]["lr"]]
    for _ in range(epochs + decay):
        seen.append(trainer.end_epoch())
        assert trainer.opt_D.param_groups[0]["lr"] == seen[-1]
    expected = [lr * (1.0 - max(0, e + 1 - epochs) / float(decay + 1))
                for e in range(epochs + decay + 1)]
    np.testing.assert_allclose(seen, expected, rtol=1e-12)
    assert seen[:epochs] == [lr] * epochs and seen[-1] == 0.0


def _train(out, steps, resume=False):
    mg.manual_seed(3)
    trainer = make_trainer(lr=1e-3, epochs=1)
    loader = DataLoader(SceneLabelsToPhoto(6, SIZE, seed=1, flip=True), batch_size=2,
                        shuffle=True, seed=1)
    loop = TrainingLoop(trainer, loader, out, steps=steps, checkpoint_every=1, progress=False,
                        on_epoch_end=lambda epoch: trainer.end_epoch())
    loop.run(resume=resume)
    return trainer


def test_resume_gives_identical_parameters(tmp_path):
    straight = _train(tmp_path / "a", 5)
    _train(tmp_path / "b", 2)                      # stops mid-epoch (3 batches per epoch)
    resumed = _train(tmp_path / "b", 5, resume=True)
    for name in ("G", "D"):
        ours, theirs = getattr(straight, name).state_dict(), getattr(resumed, name).state_dict()
        for key in ours:
            np.testing.assert_array_equal(ours[key].numpy(), theirs[key].numpy(), err_msg=key)
    assert straight.opt_G.param_groups[0]["lr"] == resumed.opt_G.param_groups[0]["lr"] < 1e-3
    assert straight.step == resumed.step == 5


def test_translate_norm_stats():
    mg.manual_seed(0)
    trainer = make_trainer()
    a, b = mg.randn(2, 3, SIZE, SIZE), mg.randn(2, 3, SIZE, SIZE)
    trainer.train_step(a, b)
    bn = trainer.G.model.model[1].model[2]                       # the second level's down norm
    before = bn.running_mean.numpy().copy()
    per_image = trainer.translate(a, "batch")
    np.testing.assert_array_equal(bn.running_mean.numpy(), before)   # restored
    assert trainer.G.training                                         # mode restored
    single = trainer.translate(a[1:2], "batch")
    np.testing.assert_allclose(per_image.numpy()[1:2], single.numpy(), rtol=1e-5, atol=1e-6)
    running = trainer.translate(a)
    assert not np.allclose(running.numpy(), per_image.numpy())
    np.testing.assert_array_equal(running.numpy(), trainer.translate(a).numpy())  # no dropout
    assert trainer.sample_grid(a, b).shape == (6, 3, SIZE, SIZE)


def test_translation_scores():
    target = np.zeros((2, 3, 4, 4), np.float32)
    output = target + 0.2                          # 0.1 on the [0, 1] scale: MSE 0.01 -> 20 dB
    scores = translation_scores(output, target)
    assert scores["l1"] == pytest.approx(0.1) and scores["psnr"] == pytest.approx(20.0)
    assert translation_scores(target, target)["psnr"] == pytest.approx(100.0)


def test_errors():
    with pytest.raises(ValueError, match="'non_saturating', 'lsgan' or 'wgangp', got 'hinge'"):
        Pix2Pix(UnetGenerator(3, 3, 5, 4), PatchDiscriminator(6, 4), loss="hinge")
    with pytest.raises(ValueError, match="Pix2Pix: lambda_gp applies to the 'wgangp' loss only"):
        Pix2Pix(UnetGenerator(3, 3, 5, 4), PatchDiscriminator(6, 4), lambda_gp=10.0)
    assert Pix2Pix(UnetGenerator(3, 3, 5, 4), PatchDiscriminator(6, 4),
                   loss="wgangp").lambda_gp == 10.0
    trainer = make_trainer()
    with pytest.raises(ValueError, match="must share batch size and image size"):
        trainer.train_step(mg.randn(2, 3, SIZE, SIZE), mg.randn(1, 3, SIZE, SIZE))
    with pytest.raises(ValueError, match="norm_stats must be 'running' or 'batch'"):
        trainer.translate(mg.randn(1, 3, SIZE, SIZE), "eval")
    with pytest.raises(ValueError, match="cannot take 48x48"):
        trainer.train_step(mg.randn(1, 3, 48, 48), mg.randn(1, 3, 48, 48))


def _example():
    return load_script("pix2pix")


def test_example_end_to_end(tmp_path):
    """Tiny run on scenes, then on an aligned A|B folder (grayscale), then --test mode."""
    example, out = _example(), tmp_path / "run"
    tiny = ["--size", "32", "--ngf", "4", "--ndf", "4", "--n-layers", "2", "--epochs", "1",
            "--epochs-decay", "1", "--no-progress"]
    metrics = example.main(tiny + ["--n-train", "8", "--n-test", "4", "--out", str(out)])
    for name in ("epoch_002.png", "losses.png", "metrics.json", "checkpoint.safetensors"):
        assert (out / name).is_file(), name
    assert metrics["step"] == 4 and metrics["norm_stats"] == "running"
    assert {"psnr", "identity_psnr"} <= set(metrics["labels_to_photo"])

    from PIL import Image
    data = tmp_path / "facades"
    for phase, n in (("train", 4), ("test", 2)):
        (data / phase).mkdir(parents=True)
        for i in range(n):
            Image.new("L", (80, 40), 40 * i).save(data / phase / f"{i}.png")
    metrics = example.main(tiny + ["--data", str(data), "--direction", "BtoA", "--batch-size", "1",
                                   "--out", str(tmp_path / "real")])
    assert metrics["config"]["channels"] == [1, 1] and metrics["norm_stats"] == "batch"
    assert metrics["test_images"] == 2
    written = example.main(["--test", str(data / "test"), "--out", str(tmp_path / "real")])
    assert len(written) == 2 and Image.open(written[0]).mode == "L"
    with pytest.raises(SystemExit, match="missing folder|not found"):
        example.main(tiny + ["--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x")])
