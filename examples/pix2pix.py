"""Train Pix2Pix to paint landscape photos from semantic label maps (paired image translation).

    python examples/pix2pix.py                           # 64x64 scenes, < 10 min on 2 cores
    python examples/pix2pix.py --resume                  # continue out/pix2pix after a Ctrl-C
    python examples/pix2pix.py --size 256 --ngf 64 --ndf 64 --device cuda    # the paper's unet_256
    python examples/pix2pix.py --data datasets/facades --direction BtoA      # [A | B] image pairs
    python examples/pix2pix.py --test labels/ --out out/pix2pix              # translate a folder

Data: by default procedural scenes (``minigan.data.scenes``): each scene's label map (flat class
colours) and its summer photo; held-out scenes score the output against the true photo (PSNR, L1)
next to the identity baseline (the label map itself). ``--data`` reads the pix2pix layout instead
(``train/`` and ``test/`` or ``val/`` folders of side-by-side A|B images, grayscale or RGB, resized
to ``--load-size`` and randomly cropped to ``--size``, flipped), scored on its test pairs.

Models and losses as in Isola et al. (2017): a U-Net generator with skip connections (unet_64 at
64x64, unet_256 at 256x256: as many stride-2 levels as halvings to 1x1), a 70x70 PatchGAN on
(input, output) pairs, BCE adversarial loss + 100 * L1, BatchNorm, Adam(2e-4, 0.5), the learning
rate constant for ``--epochs`` then decaying to 0 over ``--epochs-decay``. Test images go through G
in eval mode (BatchNorm's running statistics) unless the batch size is 1, where the reference's
per-image statistics work better (``--norm-stats``).

Writes to ``--out``: ``epoch_NNN.png`` (rows of input | output | target), ``losses.png``,
``metrics.json`` and ``checkpoint.npz`` (every epoch; ``--resume`` continues exactly).
"""
import argparse
import math
import os
import sys

import numpy as np
from tqdm import tqdm

import minigan as mg
from minigan import io
from minigan.data import DataLoader
from minigan.data.paired import AlignedFolder
from minigan.data.scenes import PairedSceneTest, SceneLabelsToPhoto
from minigan.gans import TrainingLoop, run_cli
from minigan.gans.pix2pix import Pix2Pix
from minigan.gans.translation import score_translation, stack_field, translate_folder
from minigan.models.patchgan import PatchDiscriminator
from minigan.models.unet import UnetGenerator

GRID_ROWS = 6
TRAINING_KEYS = ("data", "direction", "size", "load_size", "ngf", "ndf", "num_downs", "n_layers",
                 "epochs", "epochs_decay", "batch_size", "seed", "lr", "lambda_l1", "n_train",
                 "n_test", "no_dropout")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=None,
                   help="folder with train/ (and test/ or val/) of [A | B] pairs; default: scenes")
    p.add_argument("--direction", default="AtoB", choices=("AtoB", "BtoA"),
                   help="with --data: translate the left half into the right (AtoB) or back")
    p.add_argument("--size", type=int, default=64, help="image side for training")
    p.add_argument("--load-size", type=int, default=None,
                   help="with --data: resize to this, then crop --size (default size * 286/256)")
    p.add_argument("--num-downs", type=int, default=None,
                   help="U-Net levels (default log2(size): unet_64 at 64, unet_256 at 256)")
    p.add_argument("--ngf", type=int, default=32, help="generator width (paper: 64)")
    p.add_argument("--ndf", type=int, default=32, help="discriminator width (paper: 64)")
    p.add_argument("--n-layers", type=int, default=3, help="PatchGAN layers (3 = 70x70 patches)")
    p.add_argument("--no-dropout", action="store_true", help="no dropout in the U-Net")
    p.add_argument("--epochs", type=int, default=5, help="epochs at the initial learning rate")
    p.add_argument("--epochs-decay", type=int, default=5, help="epochs of linear decay to 0")
    p.add_argument("--n-train", type=int, default=400, help="training scenes (default data)")
    p.add_argument("--n-test", type=int, default=100, help="held-out scenes scored at the end")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--lambda-l1", type=float, default=100.0)
    p.add_argument("--norm-stats", default="auto", choices=("auto", "running", "batch"),
                   help="BatchNorm statistics at test time (auto: batch if --batch-size 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help='"cpu", "cuda" or "auto"')
    p.add_argument("--out", default="out/pix2pix", help="output folder (default out/pix2pix)")
    p.add_argument("--resume", action="store_true", help="continue from <out>/checkpoint.npz")
    p.add_argument("--test", metavar="FOLDER", default=None,
                   help="translate the images in FOLDER with <out>/checkpoint.npz (no training)")
    p.add_argument("--results", default=None,
                   help="with --test: where to write (default <out>/translated)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = p.parse_args(argv)
    for name in ("size", "ngf", "ndf", "n_layers", "n_train", "n_test", "batch_size"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    for name in ("epochs", "epochs_decay"):
        if getattr(args, name) < 0:
            p.error(f"--{name.replace('_', '-')} must be >= 0, got {getattr(args, name)}")
    if args.num_downs is None:
        args.num_downs = int(math.log2(args.size)) if args.size >= 32 else 5
    multiple = 2 ** args.num_downs
    if args.num_downs < 5 or args.size % multiple:
        below = max(multiple, args.size // multiple * multiple)
        p.error(f"--size {args.size} does not fit a U-Net with {args.num_downs} levels: the side "
                f"must be a multiple of {multiple} (try --size {below} or "
                f"{below + multiple}); 5 levels at least, so sides multiple of 32 (32, 64, 128, "
                f"256...)")
    if args.load_size is None:
        args.load_size = args.size * 286 // 256
    if args.norm_stats == "auto":
        args.norm_stats = "batch" if args.batch_size == 1 else "running"
    return args


def build_data(args):
    """(train dataset of (a, b), test inputs, test targets, channels (C_A, C_B))."""
    if args.data is None:
        train = SceneLabelsToPhoto(args.n_train, args.size, seed=args.seed, flip=True)
        test = PairedSceneTest(args.n_test, args.size, seed=args.seed)
        return train, stack_field(test, 2), stack_field(test, 0), (3, 3)   # labels -> summer
    train = AlignedFolder(args.data, "train", args.direction, args.load_size, args.size)
    channels = (train.channels, train.channels)
    for phase in ("test", "val"):
        if os.path.isdir(os.path.join(args.data, phase)):
            test = AlignedFolder(args.data, phase, args.direction, args.size, args.size, flip=False,
                                 channels=train.channels)
            pairs = [test[i] for i in range(min(args.n_test, len(test)))]
            return train, np.stack([a for a, _ in pairs]), np.stack([b for _, b in pairs]), channels
    return train, None, None, channels


def build_models(channels, config, device):
    c_a, c_b = channels
    G = UnetGenerator(c_a, c_b, config["num_downs"], config["ngf"], norm="batch",
                      use_dropout=not config["no_dropout"])
    D = PatchDiscriminator(c_a + c_b, config["ndf"], config["n_layers"], norm="batch")
    return G.to(device), D.to(device)


def translate_mode(args, device):
    """--test: translate a folder with a saved checkpoint."""
    path = os.path.join(args.out, "checkpoint.npz")
    if not os.path.isfile(path):
        sys.exit(f"error: --test needs a trained model: no checkpoint at {path} (train first, or "
                 f"point --out at the run's folder)")
    state = io.load_checkpoint(path)
    config = state["loop"]["config"]
    channels = tuple(config["channels"])
    G, D = build_models(channels, config, device)
    trainer = Pix2Pix(G, D)
    trainer.load_state_dict(state["trainer"])
    norm_stats = config["norm_stats"]
    results = args.results or os.path.join(args.out, "translated")
    try:
        written = translate_folder(lambda a: trainer.translate(a, norm_stats), args.test, results,
                                   config["size"], channels[0], device)
    except (OSError, ValueError) as e:
        sys.exit(f"error: {e}")
    print(f"translated {len(written)} images ({config['size']}x{config['size']}) into {results}")
    return written


def main(argv=None):
    args = parse_args(argv)
    device = mg.device(args.device)
    if args.test is not None:
        return translate_mode(args, device)
    mg.manual_seed(args.seed)
    try:
        train, test_a, test_b, channels = build_data(args)
    except (OSError, ValueError) as e:
        sys.exit(f"error: {e}")
    config = {k: getattr(args, k) for k in TRAINING_KEYS} | {"channels": list(channels),
                                                            "norm_stats": args.norm_stats}
    trainer = Pix2Pix(*build_models(channels, config, device), lr=args.lr,
                      lambda_l1=args.lambda_l1, epochs=args.epochs, epochs_decay=args.epochs_decay)
    loader = DataLoader(train, batch_size=args.batch_size, shuffle=True, drop_last=True,
                        seed=args.seed, device=device)
    translate = lambda a: trainer.translate(a, args.norm_stats)  # noqa: E731

    def on_epoch_end(epoch):
        lr = trainer.end_epoch()
        message = f"epoch {epoch + 1}: lr -> {lr:.2e}"
        if test_a is not None:
            path = f"{args.out}/epoch_{epoch + 1:03d}.png"
            grid = trainer.sample_grid(mg.tensor(test_a[:GRID_ROWS]), mg.tensor(test_b[:GRID_ROWS]),
                                       args.norm_stats)
            io.save_image_grid(path, grid, nrow=3)
            quick = score_translation(translate, test_a[:20], test_b[:20])
            message += f", grid {path}, test PSNR ({len(test_a[:20])} pairs) {quick['psnr']:.2f} dB"
        tqdm.write(message)

    loop = TrainingLoop(trainer, loader, args.out, epochs=args.epochs + args.epochs_decay,
                        config=config, on_epoch_end=on_epoch_end, progress=not args.no_progress,
                        desc="pix2pix")
    steps_run, seconds = run_cli(loop, resume=args.resume)
    metrics = {"note": "no test pairs in --data; see the epoch grids"}
    if test_a is not None:
        name = "labels_to_photo" if args.data is None else "a_to_b"
        metrics = {name: score_translation(translate, test_a, test_b),
                   "test_images": int(len(test_a)), "norm_stats": args.norm_stats}
    metrics.update(step=loop.step, train_seconds=round(seconds, 1),
                   iterations_per_second=round(steps_run / seconds, 3) if seconds > 0 else None,
                   interrupted=loop.interrupted, config=config)
    io.save_json(f"{args.out}/metrics.json", metrics)
    print(f"{steps_run} iterations in {seconds:.0f} s")
    for name in ("labels_to_photo", "a_to_b"):
        if name in metrics:
            m = metrics[name]
            identity = (f" (identity {m['identity_psnr']:.2f} dB)" if "identity_psnr" in m else "")
            print(f"{name}: PSNR {m['psnr']:.2f} dB{identity}, L1 {m['l1']:.4f}")
    print(f"wrote {args.out}/metrics.json, losses.png, epoch_*.png, checkpoint.npz")
    if loop.interrupted:
        sys.exit(130)
    return metrics


if __name__ == "__main__":
    main()
