"""Train Pix2Pix to paint landscape photos from semantic label maps (paired image translation).

    python examples/pix2pix.py                           # 64x64 scenes, < 10 min on 2 cores
    python examples/pix2pix.py --resume                  # continue out/pix2pix after a Ctrl-C
    python examples/pix2pix.py --size 256 --ngf 64 --ndf 64 --device cuda    # the paper's unet_256
    python examples/pix2pix.py --data datasets/facades --direction BtoA      # [A | B] image pairs
    python examples/pix2pix.py --test labels/ --out out/pix2pix              # translate a folder
    python examples/pix2pix.py --test labels/ --preprocess none --epoch 5    # full size, epoch 5

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

The reference's flags work too: ``--preprocess``, ``--no-flip``, ``--gan-mode``, ``--norm``,
``--netG``, ``--init-type``/``--init-gain``, ``--lr-policy``, ``--serial-batches``,
``--input-nc``/``--output-nc`` (see ``--help``).

Writes to ``--out``: ``epoch_NNN.png`` (rows of input | output | target), ``losses.png``,
``metrics.json``, ``checkpoint.safetensors`` (every epoch, or ``--checkpoint-every`` steps;
``--resume`` continues exactly, and with a larger ``--epochs`` or ``--epochs-decay`` goes on to the
new total), ``checkpoint_epoch<NNN>.safetensors`` with ``--save-epoch-freq``, and ``index.html``
(every epoch's grid, the loss plot, the metrics). ``--eval-inception FILE`` adds, at the end, FID
and KID on Inception-v3 features (``minigan.metrics``; FILE: the converted pytorch-fid weights,
see docs/metrics.md) of G(A) against the real test B, on the first ``--inception-samples`` (250)
test pairs (the default data holds 100), as ``inception`` in metrics.json: 200 images through the
Inception by default, about 0.1-0.4 s each on CPU, plus a 2048-d matrix square root (30-60 s on
2 cores). ``--test FOLDER`` writes ``<stem>_fake<ext>`` per image and an ``index.html`` of
input | output pairs; ``--preprocess none`` keeps each image's own size.
"""
import argparse
import math
import os

import numpy as np
from tqdm import tqdm

import minigan as mg
from minigan import io
from minigan.data import Dataset
from minigan.data.paired import PREPROCESS, AlignedFolder
from minigan.data.scenes import PairedSceneTest, SceneLabelsToPhoto
from minigan.gans import TrainingLoop, cli
from minigan.gans.networks import INIT_TYPES, NET_G, define_G, init_weights, size_rule
from minigan.gans.pix2pix import Pix2Pix
from minigan.gans.schedules import LR_POLICIES
from minigan.gans.translation import score_translation, stack_field, translate_batches
from minigan.models.patchgan import PatchDiscriminator
from minigan.models.unet import UnetGenerator

GRID_ROWS = 6
TITLE = "pix2pix"
GAN_MODES = {"vanilla": "non_saturating", "lsgan": "lsgan", "wgangp": "wgan_gp"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=None,
                   help="folder with train/ (and test/ or val/) of [A | B] pairs; default: scenes")
    p.add_argument("--direction", default="AtoB", choices=("AtoB", "BtoA"),
                   help="with --data: translate the left half into the right (AtoB) or back")
    p.add_argument("--size", type=int, default=64, help="image side for training (crop size)")
    p.add_argument("--load-size", type=int, default=None,
                   help="with --data: resize to this, then crop --size (default size * 286/256)")
    p.add_argument("--preprocess", default="resize_and_crop", choices=PREPROCESS,
                   help="with --data: the reference's preprocessing; with --test, 'none' "
                        "translates each image at its own size")
    p.add_argument("--no-flip", action="store_true", help="no random horizontal flips")
    p.add_argument("--serial-batches", action="store_true", help="take the data in order")
    p.add_argument("--input-nc", type=int, default=None, choices=(1, 3),
                   help="with --data: channels of the input (default: found from the images)")
    p.add_argument("--output-nc", type=int, default=None, choices=(1, 3),
                   help="with --data: channels of the output (default: found from the images)")
    p.add_argument("--skip-bad-images", action="store_true",
                   help="leave out unreadable image files instead of refusing")
    p.add_argument("--netG", default=None, choices=NET_G,
                   help="generator (default: a U-Net with as many levels as halvings of --size)")
    p.add_argument("--num-downs", type=int, default=None,
                   help="U-Net levels (default log2(size): unet_64 at 64, unet_256 at 256)")
    p.add_argument("--norm", default="batch", choices=("batch", "instance", "none"))
    p.add_argument("--init-type", default="normal", choices=INIT_TYPES)
    p.add_argument("--init-gain", type=float, default=0.02)
    p.add_argument("--ngf", type=int, default=32, help="generator width (paper: 64)")
    p.add_argument("--ndf", type=int, default=32, help="discriminator width (paper: 64)")
    p.add_argument("--n-layers", type=int, default=3, help="PatchGAN layers (3 = 70x70 patches)")
    p.add_argument("--no-dropout", action="store_true", help="no dropout in the U-Net")
    p.add_argument("--gan-mode", default="vanilla", choices=tuple(GAN_MODES),
                   help="adversarial loss (vanilla = BCE, the paper's)")
    p.add_argument("--epochs", type=int, default=5, help="epochs at the initial learning rate")
    p.add_argument("--epochs-decay", type=int, default=5, help="epochs of linear decay to 0")
    p.add_argument("--lr-policy", default="linear", choices=LR_POLICIES)
    p.add_argument("--lr-decay-iters", type=int, default=50,
                   help="--lr-policy step: epochs between x0.1 decays")
    p.add_argument("--n-train", type=int, default=400, help="training scenes (default data)")
    p.add_argument("--n-test", type=int, default=100, help="held-out scenes scored at the end")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--lambda-l1", type=float, default=100.0)
    cli.add_inception_arguments(p, 250, "translated against real test targets")
    p.add_argument("--norm-stats", default="auto", choices=("auto", "running", "batch"),
                   help="BatchNorm statistics at test time (auto: batch if --batch-size 1)")
    cli.add_run_arguments(p, "out/pix2pix")
    cli.add_test_arguments(p, "<out>/translated")
    args = cli.parse(p, argv, positive=("size", "ngf", "ndf", "n_layers", "n_train", "n_test",
                                        "batch_size", "lr_decay_iters", "load_size"),
                     non_negative=("epochs", "epochs_decay", "lambda_l1"))
    if args.netG is not None and args.netG.startswith("unet_"):
        args.num_downs = int(math.log2(int(args.netG[5:])))
    if args.num_downs is None:
        args.num_downs = int(math.log2(args.size)) if args.size >= 32 else 5
    multiple = 2 ** args.num_downs
    unet = args.netG is None or args.netG.startswith("unet_")
    if unet and (args.num_downs < 5 or args.size % multiple):
        below = max(multiple, args.size // multiple * multiple)
        p.error(f"--size {args.size} does not fit a U-Net with {args.num_downs} levels: the side "
                f"must be a multiple of {multiple} (try --size {below} or "
                f"{below + multiple}); 5 levels at least, so sides multiple of 32 (32, 64, 128, "
                f"256...)")
    if not unet and (args.size % 4 or args.size < 8):
        p.error(f"--size {args.size} does not fit a ResNet generator: a multiple of 4, at least "
                f"8 (try {max(8, args.size // 4 * 4)} or {max(8, args.size // 4 * 4) + 4})")
    if args.load_size is None:
        args.load_size = args.size * 286 // 256
    if args.norm_stats == "auto":
        args.norm_stats = "batch" if args.batch_size == 1 else "running"
    if args.test is not None and args.results is None:
        args.results = os.path.join(args.out, "translated")
    return args


def build_data(args):
    """(train dataset of (a, b), test inputs, test targets, channels (C_A, C_B))."""
    flip = not args.no_flip
    if args.data is None:
        train = SceneLabelsToPhoto(args.n_train, args.size, seed=args.seed, flip=flip)
        test = PairedSceneTest(args.n_test, args.size, seed=args.seed)
        return train, stack_field(test, 2), stack_field(test, 0), (3, 3)   # labels -> summer
    train = AlignedFolder(args.data, "train", args.direction, args.load_size, args.size,
                          preprocess=args.preprocess, flip=flip, skip_bad=args.skip_bad_images)
    channels = (args.input_nc or train.channels, args.output_nc or train.channels)
    for phase in ("test", "val"):
        if os.path.isdir(os.path.join(args.data, phase)):
            test = AlignedFolder(args.data, phase, args.direction, args.size, args.size, flip=False,
                                 channels=train.channels, skip_bad=args.skip_bad_images)
            pairs = [test[i] for i in range(min(args.n_test, len(test)))]
            a = np.stack([_channels(x, channels[0]) for x, _ in pairs])
            b = np.stack([_channels(y, channels[1]) for _, y in pairs])
            return _Channels(train, channels), a, b, channels
    return _Channels(train, channels), None, None, channels


def _channels(image, channels):
    """(C, H, W) -> (channels, H, W): RGB to gray by the channel mean, gray to RGB repeated."""
    if image.shape[0] == channels:
        return image
    return image.mean(axis=0, keepdims=True) if channels == 1 else np.repeat(image, 3, axis=0)


class _Channels(Dataset):
    """A paired dataset whose (a, b) are given the channel counts --input-nc/--output-nc ask."""

    def __init__(self, dataset, channels):
        self.dataset, self.channels = dataset, channels
        self.needs_rng = dataset.needs_rng

    def __len__(self):
        return len(self.dataset)

    def get(self, index, rng):
        a, b = self.dataset.get(index, rng)                  # the loader's per-sample generator
        return _channels(a, self.channels[0]), _channels(b, self.channels[1])


def build_models(channels, config, device, path=None):
    """G and D from a run's config (``path``: the --test checkpoint it came from, for errors)."""
    def get(key, default=None):
        if default is not None or path is None:
            return config.get(key, default)
        return cli.config_value(config, key, path)

    c_a, c_b = channels
    norm, net = get("norm", "batch"), get("netG", "") or ""
    if net.startswith("resnet_"):
        G = define_G(net, c_a, c_b, get("ngf"), norm, use_dropout=not get("no_dropout"))
    else:
        G = UnetGenerator(c_a, c_b, get("num_downs"), get("ngf"), norm=norm,
                          use_dropout=not get("no_dropout"))
    D = PatchDiscriminator(c_a + c_b, get("ndf"), get("n_layers"), norm=norm)
    if (get("init_type", "normal"), get("init_gain", 0.02)) != ("normal", 0.02):
        for net_ in (G, D):
            init_weights(net_, get("init_type", "normal"), get("init_gain", 0.02))
    return G.to(device), D.to(device)


def translate_mode(args, device):
    """--test: translate a folder with a saved checkpoint (``--epoch``)."""
    path, state = cli.test_checkpoint(args)
    config = state["loop"]["config"]
    channels = tuple(cli.config_value(config, "channels", path))
    G, D = build_models(channels, config, device, path)
    cli.load_net(G, state["trainer"].get("G"), path, "G")
    trainer = Pix2Pix(G, D)
    norm_stats = config.get("norm_stats", "running")
    size = cli.config_value(config, "size", path)
    multiple, minimum = size_rule(G)
    pairs, page = cli.translate_images(lambda a: trainer.translate(a, norm_stats), args, size,
                                       channels[0], device, multiple, minimum,
                                       f"pix2pix --test ({os.path.basename(path)})")
    at = "at their own sizes" if args.preprocess == "none" else f"at {size}x{size}"
    print(f"translated {len(pairs)} images {at} into {args.results}; page {page}")
    return [target for _, target in pairs]


def main(argv=None):
    args = parse_args(argv)
    device = cli.device(args)
    if args.test is not None:
        return translate_mode(args, device)
    mg.manual_seed(args.seed)
    try:
        train, test_a, test_b, channels = build_data(args)
    except (OSError, ValueError) as e:
        cli.fail(e)
    config = cli.run_config(args, channels=list(channels))
    inception = cli.inception_model(args, device)        # None without --eval-inception
    G, D = build_models(channels, config, device)
    trainer = Pix2Pix(G, D, lr=args.lr, lambda_l1=args.lambda_l1, epochs=args.epochs,
                      epochs_decay=args.epochs_decay, loss=GAN_MODES[args.gan_mode],
                      lr_policy=args.lr_policy, decay_epochs=args.lr_decay_iters)
    loader = cli.loader(train, args, device, shuffle=not args.serial_batches)
    translate = lambda a: trainer.translate(a, args.norm_stats)  # noqa: E731

    def on_epoch_end(epoch):
        lr = trainer.opt_G.param_groups[0]["lr"]
        message = f"epoch {epoch + 1}: lr -> {lr:.2e}"
        if test_a is not None:
            path = f"{args.out}/epoch_{epoch + 1:03d}.png"
            grid = trainer.sample_grid(mg.tensor(test_a[:GRID_ROWS]), mg.tensor(test_b[:GRID_ROWS]),
                                       args.norm_stats)
            io.save_image_grid(path, grid, nrow=3)
            quick = score_translation(translate, test_a[:20], test_b[:20])
            message += f", grid {path}, test PSNR ({len(test_a[:20])} pairs) {quick['psnr']:.2f} dB"
        tqdm.write(message)
        loop.save_loss_curve()
        cli.report.write_run_page(args.out, TITLE, {"step": loop.step, "epoch": epoch + 1})

    loop = TrainingLoop(trainer, loader, args.out, epochs=args.epochs + args.epochs_decay,
                        config=config, on_epoch_end=on_epoch_end, progress=not args.no_progress,
                        desc="pix2pix", checkpoint_every=args.checkpoint_every,
                        save_epoch_freq=args.save_epoch_freq)
    steps_run, seconds = cli.run(loop, args)
    metrics = {"note": "no test pairs in --data; see the epoch grids"}
    if test_a is not None:
        name = "labels_to_photo" if args.data is None else "a_to_b"
        metrics = {name: score_translation(translate, test_a, test_b),
                   "test_images": int(len(test_a)), "norm_stats": args.norm_stats}
        if inception is not None:          # --eval-inception: FID, KID on Inception features
            fake = translate_batches(translate, test_a[:args.inception_samples])
            metrics["inception"] = {name: cli.inception_scores(inception, test_b, fake, args,
                                                               name)}
    metrics.update(step=loop.step, train_seconds=round(seconds, 1),
                   iterations_per_second=round(steps_run / seconds, 3) if seconds > 0 else None,
                   interrupted=loop.interrupted, config=config)
    print(f"{steps_run} iterations in {seconds:.0f} s")
    for name in ("labels_to_photo", "a_to_b"):
        if name in metrics:
            m = metrics[name]
            identity = (f" (identity {m['identity_psnr']:.2f} dB)" if "identity_psnr" in m else "")
            print(f"{name}: PSNR {m['psnr']:.2f} dB{identity}, L1 {m['l1']:.4f}")
    print(f"wrote {args.out}/metrics.json, losses.png, epoch_*.png, checkpoint.safetensors, "
          f"index.html")
    return cli.finish(loop, args, metrics, TITLE)


if __name__ == "__main__":
    main()
