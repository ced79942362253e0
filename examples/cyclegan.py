"""Train CycleGAN to turn summer landscapes into winter ones (and back), from unpaired images.

    python examples/cyclegan.py                          # 64x64 scenes, < 10 min on 2 cores
    python examples/cyclegan.py --resume                 # continue out/cyclegan after a Ctrl-C
    python examples/cyclegan.py --size 256 --ngf 64 --ndf 64 --n-blocks 9 --device cuda  # paper
    python examples/cyclegan.py --data datasets/summer2winter_yosemite   # trainA/trainB/testA/testB
    python examples/cyclegan.py --test photos/ --out out/cyclegan        # translate a folder

Data: by default procedural scenes (``minigan.data.scenes``): summer and winter photos of disjoint
scenes for training, so the sets are truly unpaired, and a held-out test set of scenes drawn both
ways, so G(summer) is scored against the true winter photo (PSNR, L1) next to the identity baseline
(the summer photo itself). ``--data`` reads the CycleGAN folder layout instead (grayscale or RGB,
resized to ``--load-size`` and randomly cropped to ``--size``, flipped).

Models and losses as in Zhu et al. (2017): ResNet generators (reflection padding, instance norm),
70x70 PatchGAN discriminators, LSGAN, cycle weight 10, identity weight 0.5, pools of 50 fakes,
Adam(2e-4, 0.5), the learning rate constant for ``--epochs`` and decaying to 0 over
``--epochs-decay``.

Writes to ``--out``: ``epoch_NNN.png`` (rows of real X | G(X) | F(G(X)) | real Y | F(Y) | G(F(Y))),
``losses.png``, ``metrics.json`` and ``checkpoint.npz`` (every epoch; ``--resume`` continues with
the very numbers an uninterrupted run gives).
"""
import argparse
import os
import sys

import numpy as np
from tqdm import tqdm

import minigan as mg
from minigan import io
from minigan.data import DataLoader
from minigan.data.paired import UnpairedFolder
from minigan.data.scenes import PairedSceneTest, UnpairedScenes
from minigan.gans import TrainingLoop, run_cli
from minigan.gans.cyclegan import CycleGAN
from minigan.gans.translation import score_translation, stack_field, translate_folder
from minigan.models.patchgan import PatchDiscriminator
from minigan.models.resnet import ResnetGenerator

GRID_ROWS = 4
# settings that change the numbers a run produces; a resume must use the same ones
TRAINING_KEYS = ("data", "size", "load_size", "ngf", "ndf", "n_blocks", "n_layers", "epochs",
                 "epochs_decay", "batch_size", "seed", "lr", "lambda_cycle", "lambda_identity",
                 "pool_size", "n_train", "n_test", "direction")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=None,
                   help="folder with trainA/ trainB/ (testA/ testB/); default: procedural scenes")
    p.add_argument("--direction", default="AtoB", choices=("AtoB", "BtoA"),
                   help="with --data: X = domain A (AtoB) or B (BtoA)")
    p.add_argument("--size", type=int, default=64, help="image side for training (multiple of 4)")
    p.add_argument("--load-size", type=int, default=None,
                   help="with --data: resize to this, then crop --size (default size * 286/256)")
    p.add_argument("--ngf", type=int, default=32, help="generator width (paper: 64)")
    p.add_argument("--ndf", type=int, default=32, help="discriminator width (paper: 64)")
    p.add_argument("--n-blocks", type=int, default=6, help="residual blocks (paper: 9 at 256x256)")
    p.add_argument("--n-layers", type=int, default=3, help="PatchGAN layers (3 = 70x70 patches)")
    p.add_argument("--epochs", type=int, default=3, help="epochs at the initial learning rate")
    p.add_argument("--epochs-decay", type=int, default=3, help="epochs of linear decay to 0")
    p.add_argument("--n-train", type=int, default=200, help="scenes per domain (default data)")
    p.add_argument("--n-test", type=int, default=100, help="held-out scenes scored at the end")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--lambda-cycle", type=float, default=10.0)
    p.add_argument("--lambda-identity", type=float, default=0.5)
    p.add_argument("--pool-size", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help='"cpu", "cuda" or "auto"')
    p.add_argument("--out", default="out/cyclegan", help="output folder (default out/cyclegan)")
    p.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.npz")
    p.add_argument("--test", metavar="FOLDER", default=None,
                   help="translate the images in FOLDER with <out>/checkpoint.npz (no training)")
    p.add_argument("--results", default=None,
                   help="with --test: where to write (default <out>/translated_<XtoY|YtoX>)")
    p.add_argument("--to", default="XtoY", choices=("XtoY", "YtoX"),
                   help="with --test: G (X -> Y, e.g. summer -> winter) or F (Y -> X)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    for name in ("size", "ngf", "ndf", "n_layers", "n_train", "n_test", "batch_size"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    for name in ("epochs", "epochs_decay", "n_blocks", "pool_size"):
        if getattr(args, name) < 0:
            p.error(f"--{name.replace('_', '-')} must be >= 0, got {getattr(args, name)}")
    if args.size % 4 or args.size < 8:
        below = max(8, args.size // 4 * 4)
        p.error(f"--size must be a multiple of 4 and at least 8 (two stride-2 downsamplings), got "
                f"{args.size}; try {below} or {below + 4}")
    if args.size < 3 * 2 ** args.n_layers:
        p.error(f"--size {args.size} is too small for a PatchGAN with --n-layers {args.n_layers} "
                f"(needs at least {3 * 2 ** args.n_layers})")
    if args.load_size is None:
        args.load_size = args.size * 286 // 256
    return args


def build_data(args):
    """(train dataset of (x, y), test x, test y, ground-truth y of test x or None, channels)."""
    if args.data is None:
        train = UnpairedScenes(args.n_train, args.size, seed=args.seed, flip=True)
        test = PairedSceneTest(args.n_test, args.size, seed=args.seed)
        summer, winter = stack_field(test, 0), stack_field(test, 1)   # same scenes, both ways
        return train, summer, winter, (winter, summer), (3, 3)
    train = UnpairedFolder(args.data, "train", args.direction, args.load_size, args.size)
    xs = ys = None
    if all(os.path.isdir(os.path.join(args.data, f"test{d}")) for d in "AB"):
        test = UnpairedFolder(args.data, "test", args.direction, args.size, args.size, flip=False,
                              serial=True, channels=tuple(train.channels))
        pairs = [test[i] for i in range(min(args.n_test, *(len(p) for p in test.paths)))]
        xs, ys = np.stack([x for x, _ in pairs]), np.stack([y for _, y in pairs])
    return train, xs, ys, None, tuple(train.channels)


def build_models(channels, config, device):
    c_x, c_y = channels
    G = ResnetGenerator(c_x, c_y, config["ngf"], config["n_blocks"], norm="instance")
    F = ResnetGenerator(c_y, c_x, config["ngf"], config["n_blocks"], norm="instance")
    D_X = PatchDiscriminator(c_x, config["ndf"], config["n_layers"], norm="instance")
    D_Y = PatchDiscriminator(c_y, config["ndf"], config["n_layers"], norm="instance")
    return [m.to(device) for m in (G, F, D_X, D_Y)]


def translate_mode(args, device):
    """--test: translate a folder with a saved checkpoint."""
    path = os.path.join(args.out, "checkpoint.npz")
    if not os.path.isfile(path):
        sys.exit(f"error: --test needs a trained model: no checkpoint at {path} (train first, or "
                 f"point --out at the run's folder)")
    state = io.load_checkpoint(path)
    config = state["loop"]["config"]
    channels = tuple(config["channels"])
    G, F, _, _ = build_models(channels, config, device)
    model = G if args.to == "XtoY" else F
    model.load_state_dict(state["trainer"]["G" if args.to == "XtoY" else "F"])
    model.eval()
    results = args.results or os.path.join(args.out, f"translated_{args.to}")
    in_channels = channels[0 if args.to == "XtoY" else 1]
    try:
        written = translate_folder(model, args.test, results, config["size"], in_channels, device)
    except (OSError, ValueError) as e:
        sys.exit(f"error: {e}")
    print(f"translated {len(written)} images ({args.to}, {config['size']}x{config['size']}) "
          f"into {results}")
    return written


def main(argv=None):
    args = parse_args(argv)
    device = mg.device(args.device)
    if args.test is not None:
        return translate_mode(args, device)
    mg.manual_seed(args.seed)
    try:
        train, test_x, test_y, truth, channels = build_data(args)
    except (OSError, ValueError) as e:
        sys.exit(f"error: {e}")
    if channels[0] != channels[1] and args.lambda_identity > 0:
        print(f"note: X has {channels[0]} channel(s) and Y {channels[1]}: no identity loss "
              f"(--lambda-identity 0), as in the reference")
        args.lambda_identity = 0.0
    config = {k: getattr(args, k) for k in TRAINING_KEYS} | {"channels": list(channels)}
    trainer = CycleGAN(*build_models(channels, config, device), lr=args.lr,
                       lambda_cycle=args.lambda_cycle, lambda_identity=args.lambda_identity,
                       pool_size=args.pool_size, epochs=args.epochs, epochs_decay=args.epochs_decay)
    loader = DataLoader(train, batch_size=args.batch_size, shuffle=True, drop_last=True,
                        seed=args.seed, device=device)
    grid_x = mg.tensor(test_x[:GRID_ROWS]) if test_x is not None else None
    grid_y = mg.tensor(test_y[:GRID_ROWS]) if test_y is not None else None

    def on_epoch_end(epoch):
        lr = trainer.end_epoch()
        message = f"epoch {epoch + 1}: lr -> {lr:.2e}"
        if grid_x is not None:
            path = f"{args.out}/epoch_{epoch + 1:03d}.png"
            io.save_image_grid(path, trainer.sample_grid(grid_x, grid_y), nrow=6)
            message += f", grid {path}"
        if truth is not None:
            quick = score_translation(trainer.translate, test_x[:20], truth[0][:20])
            message += f", test PSNR ({len(test_x[:20])} scenes) {quick['psnr']:.2f} dB"
        tqdm.write(message)

    loop = TrainingLoop(trainer, loader, args.out, epochs=args.epochs + args.epochs_decay,
                        config=config, on_epoch_end=on_epoch_end, progress=not args.no_progress,
                        desc="cyclegan")
    steps_run, seconds = run_cli(loop, resume=args.resume)
    metrics = final_metrics(args, trainer, test_x, test_y, truth)
    metrics.update(step=loop.step, train_seconds=round(seconds, 1),
                   iterations_per_second=round(steps_run / seconds, 3) if seconds > 0 else None,
                   interrupted=loop.interrupted, config=config)
    io.save_json(f"{args.out}/metrics.json", metrics)
    report(args, metrics, steps_run, seconds)
    if loop.interrupted:
        sys.exit(130)
    return metrics


def final_metrics(args, trainer, test_x, test_y, truth):
    """Ground-truth scores both ways (scenes), with the identity baseline."""
    if truth is None:
        return {"note": "no ground truth for this data; see the epoch grids"}
    to_y = score_translation(trainer.translate, test_x, truth[0])
    to_x = score_translation(lambda y: trainer.translate(y, "YtoX"), test_y, truth[1])
    names = ("summer_to_winter", "winter_to_summer") if args.data is None else ("x_to_y", "y_to_x")
    metrics = {names[0]: to_y, names[1]: to_x, "test_images": int(len(test_x))}
    if "identity_psnr" in to_y:
        metrics["psnr_gain_over_identity"] = round(to_y["psnr"] - to_y["identity_psnr"], 3)
    return metrics


def report(args, metrics, steps_run, seconds):
    lines = [f"{steps_run} iterations in {seconds:.0f} s"]
    for name in ("summer_to_winter", "winter_to_summer", "x_to_y", "y_to_x"):
        if name in metrics:
            m = metrics[name]
            identity = (f" (identity {m['identity_psnr']:.2f} dB)" if "identity_psnr" in m else "")
            lines.append(f"{name}: PSNR {m['psnr']:.2f} dB{identity}, L1 {m['l1']:.4f}")
    lines.append(f"wrote {args.out}/metrics.json, losses.png, epoch_*.png, checkpoint.npz")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
