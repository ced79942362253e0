"""CycleGAN trainer: learns summer -> winter on unpaired scenes, the reference step's terms, LR
schedule, exact resume (image pools included), translate mode, errors."""
import numpy as np
import pytest

import minigan as mg
from minigan.data import DataLoader
from minigan.data.scenes import PairedSceneTest, UnpairedScenes
from minigan.gans import TrainingLoop
from minigan.gans.cyclegan import CycleGAN
from minigan.gans.translation import score_translation, stack_field
from minigan.models.patchgan import PatchDiscriminator
from minigan.models.resnet import ResnetGenerator

from example_scripts import load_example as load_script

SIZE = 32


def make_trainer(ngf=8, n_blocks=1, **kwargs):
    def G():
        return ResnetGenerator(3, 3, ngf=ngf, n_blocks=n_blocks)

    def D():
        return PatchDiscriminator(3, ndf=ngf, n_layers=2, norm="instance")
    return CycleGAN(G(), G(), D(), D(), **kwargs)


def test_short_run_lowers_ground_truth_l1():
    mg.manual_seed(0)
    trainer = make_trainer(lr=1e-3, pool_size=5)
    test = PairedSceneTest(16, SIZE, seed=0)
    summer, winter = stack_field(test, 0), stack_field(test, 1)
    before = score_translation(trainer.translate, summer, winter)
    for x, y in DataLoader(UnpairedScenes(20, SIZE, seed=0), batch_size=1, shuffle=True, seed=0):
        losses = trainer.train_step(x, y)
    after = score_translation(trainer.translate, summer, winter)
    assert set(losses) == {"d_x", "d_y", "g_gan", "cycle", "idt"}
    assert after["l1"] < 0.15 and after["l1"] < 0.9 * before["l1"]   # measured: 0.170 -> 0.129
    assert after["psnr"] > after["identity_psnr"] + 2


def test_step_reports_the_reference_terms():
    """Every reported loss equals the reference formula computed from the pre-step weights."""
    mg.manual_seed(1)
    trainer = make_trainer(ngf=4)
    x, y = mg.randn(1, 3, SIZE, SIZE), mg.randn(1, 3, SIZE, SIZE)
    G, F, D_X, D_Y = trainer.G, trainer.F, trainer.D_X, trainer.D_Y

    def mse(a, target):
        return float(np.mean((a.numpy().astype(np.float64) - target) ** 2))

    def l1(a, b):
        return float(np.mean(np.abs(a.numpy().astype(np.float64) - b.numpy())))
    with mg.no_grad():
        fake_y, fake_x = G(x), F(y)
        expected = {
            "g_gan": mse(D_Y(fake_y), 1) + mse(D_X(fake_x), 1),
            "cycle": 10 * (l1(F(fake_y), x) + l1(G(fake_x), y)),
            "idt": 10 * 0.5 * (l1(G(y), y) + l1(F(x), x)),
            "d_y": 0.5 * (mse(D_Y(y), 1) + mse(D_Y(fake_y), 0)),   # D is frozen during G's step
            "d_x": 0.5 * (mse(D_X(x), 1) + mse(D_X(fake_x), 0)),   # a fresh pool returns the fake
        }
    got = trainer.train_step(x, y)
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, rel=1e-4), name
    no_idt = make_trainer(ngf=4, lambda_identity=0.0).train_step(x, y)
    assert "idt" not in no_idt


def test_lr_schedule_follows_the_reference_formula():
    epochs, decay, lr = 2, 3, 2e-4
    trainer = make_trainer(ngf=2, lr=lr, epochs=epochs, epochs_decay=decay)
    for e in range(1, epochs + decay + 2):
        trainer.end_epoch()
        expected = lr * max(0.0, 1.0 - max(0, e + 1 - epochs) / float(decay + 1))
        assert trainer.opt_G.param_groups[0]["lr"] == pytest.approx(expected, abs=1e-15)
        assert trainer.opt_D.param_groups[0]["lr"] == pytest.approx(expected, abs=1e-15)
    assert trainer.opt_G.param_groups[0]["lr"] == 0.0


def test_one_optimizer_for_both_generators_and_one_for_both_discriminators():
    trainer = make_trainer(ngf=2)
    n_g = len(list(trainer.G.parameters())) + len(list(trainer.F.parameters()))
    n_d = len(list(trainer.D_X.parameters())) + len(list(trainer.D_Y.parameters()))
    assert len(trainer.opt_G.param_groups[0]["params"]) == n_g
    assert len(trainer.opt_D.param_groups[0]["params"]) == n_d
    assert trainer.opt_G.param_groups[0]["betas"] == (0.5, 0.999)


def _train(out, steps, resume=False):
    mg.manual_seed(5)
    trainer = make_trainer(ngf=4, lr=1e-3, pool_size=2, epochs=1, epochs_decay=2)
    loader = DataLoader(UnpairedScenes(3, SIZE, seed=2, flip=True), batch_size=1, shuffle=True,
                        seed=2)
    loop = TrainingLoop(trainer, loader, out, steps=steps, checkpoint_every=1, progress=False,
                        on_epoch_end=lambda epoch: trainer.end_epoch())
    loop.run(resume=resume)
    return trainer


def test_resume_gives_identical_parameters_and_pools(tmp_path):
    straight = _train(tmp_path / "a", 7)
    _train(tmp_path / "b", 4)                      # past the pools' filling, mid-epoch
    resumed = _train(tmp_path / "b", 7, resume=True)
    for name in ("G", "F", "D_X", "D_Y"):
        ours, theirs = getattr(straight, name).state_dict(), getattr(resumed, name).state_dict()
        for key in ours:
            np.testing.assert_array_equal(ours[key].numpy(), theirs[key].numpy(), err_msg=key)
    for pool in ("pool_X", "pool_Y"):
        np.testing.assert_array_equal(getattr(straight, pool).state_dict()["images"],
                                      getattr(resumed, pool).state_dict()["images"])
    assert straight.opt_D.param_groups[0]["lr"] == resumed.opt_D.param_groups[0]["lr"] < 1e-3


def test_translate_and_grid():
    trainer = make_trainer(ngf=2)
    x, y = mg.randn(2, 3, SIZE, SIZE), mg.randn(2, 3, SIZE, SIZE)
    np.testing.assert_array_equal(trainer.translate(y, "YtoX").numpy(), trainer.F(y).numpy())
    assert trainer.sample_grid(x, y).shape == (12, 3, SIZE, SIZE)
    with pytest.raises(ValueError, match="direction must be 'XtoY' or 'YtoX'"):
        trainer.translate(x, "AtoB")
    with pytest.raises(ValueError, match="cannot take 30x30"):
        trainer.train_step(mg.randn(1, 3, 30, 30), mg.randn(1, 3, 30, 30))
    with pytest.raises(ValueError, match="need the same channels, got 1 and 3"):
        trainer.train_step(mg.randn(1, 1, SIZE, SIZE), mg.randn(1, 3, SIZE, SIZE))
    with pytest.raises(ValueError, match="lambda_cycle must be >= 0"):
        make_trainer(ngf=2, lambda_cycle=-1)


def _example():
    return load_script("cyclegan")


def test_example_end_to_end(tmp_path):
    """Tiny run: grids, loss curve, metrics.json with the identity baseline, --test mode."""
    example, out = _example(), tmp_path / "run"
    args = ["--size", "32", "--ngf", "4", "--ndf", "4", "--n-blocks", "1", "--n-layers", "2",
            "--n-train", "3", "--n-test", "4", "--epochs", "1", "--epochs-decay", "1",
            "--out", str(out), "--no-progress"]
    metrics = example.main(args)
    for name in ("epoch_001.png", "epoch_002.png", "losses.png", "metrics.json",
                 "checkpoint.safetensors"):
        assert (out / name).is_file(), name
    assert metrics["step"] == 6 and metrics["test_images"] == 4
    assert {"psnr", "l1", "identity_psnr", "identity_l1"} <= set(metrics["summer_to_winter"])
    folder = tmp_path / "photos"
    folder.mkdir()
    from PIL import Image
    Image.new("RGB", (40, 40), (200, 120, 30)).save(folder / "a.jpg")
    written = example.main(["--test", str(folder), "--out", str(out), "--to", "YtoX"])
    assert [p.endswith("a_fake.jpg") for p in written] == [True]     # stem and extension kept
    assert Image.open(written[0]).size == (32, 32)
    with pytest.raises(SystemExit, match="no checkpoint"):
        example.main(["--test", str(folder), "--out", str(tmp_path / "none")])
    with pytest.raises(SystemExit, match="other settings"):          # resume with other settings
        example.main(args[:-3] + ["--seed", "1", "--out", str(out), "--resume", "--no-progress"])


def test_example_on_unpaired_folders_grayscale_to_rgb(tmp_path):
    from PIL import Image
    data = tmp_path / "data"
    for folder, mode, n in (("trainA", "L", 3), ("trainB", "RGB", 2), ("testA", "L", 2),
                            ("testB", "RGB", 2)):
        (data / folder).mkdir(parents=True)
        for i in range(n):
            Image.new(mode, (36, 36), 60 * i if mode == "L" else (60 * i, 90, 30)).save(
                data / folder / f"{i}.png")
    out = tmp_path / "run"
    metrics = _example().main(["--data", str(data), "--size", "32", "--ngf", "4", "--ndf", "4",
                               "--n-blocks", "1", "--n-layers", "2", "--epochs", "1",
                               "--epochs-decay", "0", "--out", str(out), "--no-progress"])
    assert metrics["config"]["channels"] == [1, 3] and metrics["step"] == 3
    assert (out / "epoch_001.png").is_file() and "note" in metrics      # no ground truth here
    with pytest.raises(SystemExit, match="missing folder"):
        _example().main(["--data", str(data / "trainA"), "--out", str(out / "x")])


def test_bench_train_step_quick(tmp_path):
    """bench/train_step.py --quick runs both frameworks on the CycleGAN case and writes a table."""
    pytest.importorskip("torch")
    import subprocess
    import sys
    from pathlib import Path
    bench = Path(__file__).resolve().parents[2] / "bench" / "train_step.py"
    out = tmp_path / "table.md"
    done = subprocess.run([sys.executable, str(bench), "--quick", "--cases", "cyclegan_64",
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    table = out.read_text()
    assert "| cyclegan_64 (batch 1, 32x32) |" in table and "x |" in table
