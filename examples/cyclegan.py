"""Train CycleGAN to turn summer landscapes into winter ones (and back), from unpaired images.

    python examples/cyclegan.py                          # 64x64 scenes, < 10 min on 2 cores
    python examples/cyclegan.py --resume                 # continue out/cyclegan after a Ctrl-C
    python examples/cyclegan.py --size 256 --ngf 64 --ndf 64 --n-blocks 9 --device cuda  # paper
    python examples/cyclegan.py --data datasets/summer2winter_yosemite   # trainA/trainB/testA/testB
    python examples/cyclegan.py --test photos/ --out out/cyclegan        # translate a folder
    python examples/cyclegan.py --test photos/ --preprocess none         # each at its own size
    python examples/cyclegan.py --resume --epochs 5                      # a finished run, longer

Data: by default procedural scenes (``minigan.data.scenes``): summer and winter photos of disjoint
scenes for training, so the sets are truly unpaired, and a held-out test set of scenes drawn both
ways, so G(summer) is scored against the true winter photo (PSNR, L1) next to the identity baseline
(the summer photo itself). ``--data`` reads the CycleGAN folder layout instead (grayscale or RGB,
resized to ``--load-size`` and randomly cropped to ``--size``, flipped).

Models and losses as in Zhu et al. (2017): ResNet generators (reflection padding, instance norm),
70x70 PatchGAN discriminators, LSGAN, cycle weight 10, identity weight 0.5, pools of 50 fakes,
Adam(2e-4, 0.5), the learning rate constant for ``--epochs`` and decaying to 0 over
``--epochs-decay``.

The reference's flags work too: ``--preprocess``, ``--no-flip``, ``--gan-mode``, ``--norm``,
``--netG``, ``--init-type``/``--init-gain``, ``--lr-policy``, ``--serial-batches``,
``--input-nc``/``--output-nc`` (see ``--help``).

Writes to ``--out``: ``epoch_NNN.png`` (rows of real X | G(X) | F(G(X)) | real Y | F(Y) | G(F(Y))),
``losses.png``, ``metrics.json``, ``checkpoint.safetensors`` (every epoch, or
``--checkpoint-every`` steps; ``--resume`` continues with the very numbers an uninterrupted run
gives, and with a larger ``--epochs`` or ``--epochs-decay`` goes on to the new total),
``checkpoint_epoch<NNN>.safetensors`` with ``--save-epoch-freq``, and ``index.html`` (every
epoch's grid, the loss plot, the metrics). ``--eval-inception FILE`` adds, at the end, FID and KID
on Inception-v3 features (``minigan.metrics``; FILE: the converted pytorch-fid weights, see
docs/metrics.md) of G(X) against the real test Y and of F(Y) against the real test X, on the
first ``--inception-samples`` (250) test images (the default data holds 100), as ``inception`` in
metrics.json: 400 images through the Inception by default, about 0.1-0.4 s each on CPU, plus two
2048-d matrix square roots (30-60 s each on 2 cores).
``--test FOLDER`` writes ``<stem>_fake<ext>`` per image and an ``index.html`` of input | output
pairs; ``--preprocess none`` keeps each image's own size (padded to a multiple of 4, cropped back).
"""
import argparse
import os

import numpy as np
from tqdm import tqdm

import minigan as mg
from minigan import io
from minigan.data.paired import PREPROCESS, UnpairedFolder
from minigan.data.scenes import PairedSceneTest, UnpairedScenes
from minigan.gans import TrainingLoop, cli
from minigan.gans.cyclegan import CycleGAN
from minigan.gans.networks import INIT_TYPES, NET_G, define_G, init_weights, size_rule
from minigan.gans.schedules import LR_POLICIES
from minigan.gans.translation import score_translation, stack_field, translate_batches
from minigan.models.patchgan import PatchDiscriminator
from minigan.models.resnet import ResnetGenerator

GRID_ROWS = 4
TITLE = "cyclegan"
GAN_MODES = {"vanilla": "non_saturating", "lsgan": "lsgan", "wgangp": "wgan_gp"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=None,
                   help="folder with trainA/ trainB/ (testA/ testB/); default: procedural scenes")
    p.add_argument("--direction", default="AtoB", choices=("AtoB", "BtoA"),
                   help="with --data: X = domain A (AtoB) or B (BtoA)")
    p.add_argument("--size", type=int, default=64, help="image side for training (multiple of 4)")
    p.add_argument("--load-size", type=int, default=None,
                   help="with --data: resize to this, then crop --size (default size * 286/256)")
    p.add_argument("--preprocess", default="resize_and_crop", choices=PREPROCESS,
                   help="with --data: the reference's preprocessing; with --test, 'none' "
                        "translates each image at its own size")
    p.add_argument("--no-flip", action="store_true", help="no random horizontal flips")
    p.add_argument("--serial-batches", action="store_true",
                   help="take the data in order (and pair X image i with Y image i)")
    p.add_argument("--input-nc", type=int, default=None, choices=(1, 3),
                   help="with --data: channels of X (default: found from all its images)")
    p.add_argument("--output-nc", type=int, default=None, choices=(1, 3),
                   help="with --data: channels of Y (default: found from all its images)")
    p.add_argument("--skip-bad-images", action="store_true",
                   help="leave out unreadable image files instead of refusing")
    p.add_argument("--netG", default=None, choices=NET_G,
                   help="generator (default: a ResNet with --n-blocks blocks)")
    p.add_argument("--norm", default="instance", choices=("batch", "instance", "none"))
    p.add_argument("--init-type", default="normal", choices=INIT_TYPES)
    p.add_argument("--init-gain", type=float, default=0.02)
    p.add_argument("--ngf", type=int, default=32, help="generator width (paper: 64)")
    p.add_argument("--ndf", type=int, default=32, help="discriminator width (paper: 64)")
    p.add_argument("--n-blocks", type=int, default=6, help="residual blocks (paper: 9 at 256x256)")
    p.add_argument("--n-layers", type=int, default=3, help="PatchGAN layers (3 = 70x70 patches)")
    p.add_argument("--gan-mode", default="lsgan", choices=tuple(GAN_MODES),
                   help="adversarial loss (lsgan, the paper's)")
    p.add_argument("--epochs", type=int, default=3, help="epochs at the initial learning rate")
    p.add_argument("--epochs-decay", type=int, default=3, help="epochs of linear decay to 0")
    p.add_argument("--lr-policy", default="linear", choices=LR_POLICIES)
    p.add_argument("--lr-decay-iters", type=int, default=50,
                   help="--lr-policy step: epochs between x0.1 decays")
    p.add_argument("--n-train", type=int, default=200, help="scenes per domain (default data)")
    p.add_argument("--n-test", type=int, default=100, help="held-out scenes scored at the end")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--lambda-cycle", type=float, default=10.0)
    p.add_argument("--lambda-identity", type=float, default=0.5)
    p.add_argument("--pool-size", type=int, default=50)
    cli.add_inception_arguments(p, 250, "translated against real test images, both ways")
    cli.add_run_arguments(p, "out/cyclegan")
    cli.add_test_arguments(p, "<out>/translated_<XtoY|YtoX>")
    p.add_argument("--to", default="XtoY", choices=("XtoY", "YtoX"),
                   help="with --test: G (X -> Y, e.g. summer -> winter) or F (Y -> X)")
    args = cli.parse(p, argv, positive=("size", "ngf", "ndf", "n_layers", "n_train", "n_test",
                                        "batch_size", "lr_decay_iters", "load_size"),
                     non_negative=("epochs", "epochs_decay", "n_blocks", "pool_size",
                                   "lambda_cycle", "lambda_identity"))
    multiple = int(args.netG[5:]) if args.netG and args.netG.startswith("unet_") else 4
    if args.size % multiple or args.size < max(8, multiple):
        below = max(max(8, multiple), args.size // multiple * multiple)
        p.error(f"--size must be a multiple of {multiple} and at least {max(8, multiple)} "
                f"({'the U-Net' if multiple > 4 else 'two stride-2 downsamplings'}), got "
                f"{args.size}; try {below} or {below + multiple}")
    if args.size < 3 * 2 ** args.n_layers:
        p.error(f"--size {args.size} is too small for a PatchGAN with --n-layers {args.n_layers} "
                f"(needs at least {3 * 2 ** args.n_layers})")
    if args.load_size is None:
        args.load_size = args.size * 286 // 256
    if args.test is not None and args.results is None:
        args.results = os.path.join(args.out, f"translated_{args.to}")
    return args


def build_data(args):
    """(train dataset of (x, y), test x, test y, ground-truth y of test x or None, channels)."""
    flip = not args.no_flip
    if args.data is None:
        train = UnpairedScenes(args.n_train, args.size, seed=args.seed, flip=flip)
        test = PairedSceneTest(args.n_test, args.size, seed=args.seed)
        summer, winter = stack_field(test, 0), stack_field(test, 1)   # same scenes, both ways
        return train, summer, winter, (winter, summer), (3, 3)
    wanted = (args.input_nc, args.output_nc)
    if args.direction == "BtoA":
        wanted = wanted[::-1]              # UnpairedFolder takes (A, B) and reverses them itself
    train = UnpairedFolder(args.data, "train", args.direction, args.load_size, args.size,
                           preprocess=args.preprocess, flip=flip, serial=args.serial_batches,
                           channels=wanted, skip_bad=args.skip_bad_images)
    xs = ys = None
    if all(os.path.isdir(os.path.join(args.data, f"test{d}")) for d in "AB"):
        test = UnpairedFolder(args.data, "test", args.direction, args.size, args.size, flip=False,
                              serial=True, channels=tuple(train.channels) if
                              args.direction == "AtoB" else tuple(train.channels)[::-1],
                              skip_bad=args.skip_bad_images)
        pairs = [test[i] for i in range(min(args.n_test, *(len(p) for p in test.paths)))]
        xs, ys = np.stack([x for x, _ in pairs]), np.stack([y for _, y in pairs])
    return train, xs, ys, None, tuple(train.channels)


def build_models(channels, config, device, path=None):
    def get(key, default=None):
        if default is not None or path is None:
            return config.get(key, default)
        return cli.config_value(config, key, path)

    c_x, c_y = channels
    norm, net = get("norm", "instance"), get("netG", "") or ""
    if net:
        G = define_G(net, c_x, c_y, get("ngf"), norm)
        F = define_G(net, c_y, c_x, get("ngf"), norm)
    else:
        G = ResnetGenerator(c_x, c_y, get("ngf"), get("n_blocks"), norm=norm)
        F = ResnetGenerator(c_y, c_x, get("ngf"), get("n_blocks"), norm=norm)
    D_X = PatchDiscriminator(c_x, get("ndf"), get("n_layers"), norm=norm)
    D_Y = PatchDiscriminator(c_y, get("ndf"), get("n_layers"), norm=norm)
    models = (G, F, D_X, D_Y)
    if (get("init_type", "normal"), get("init_gain", 0.02)) != ("normal", 0.02):
        for m in models:
            init_weights(m, get("init_type", "normal"), get("init_gain", 0.02))
    return [m.to(device) for m in models]


def translate_mode(args, device):
    """--test: translate a folder with a saved checkpoint (``--epoch``)."""
    path, state = cli.test_checkpoint(args)
    config = state["loop"]["config"]
    channels = tuple(cli.config_value(config, "channels", path))
    G, F, _, _ = build_models(channels, config, device, path)
    name = "G" if args.to == "XtoY" else "F"
    model = cli.load_net(G if args.to == "XtoY" else F, state["trainer"].get(name), path, name)
    model.eval()
    size = cli.config_value(config, "size", path)
    in_channels = channels[0 if args.to == "XtoY" else 1]
    multiple, minimum = size_rule(model)
    pairs, page = cli.translate_images(model, args, size, in_channels, device, multiple, minimum,
                                       f"cyclegan --test {args.to} ({os.path.basename(path)})")
    at = "at their own sizes" if args.preprocess == "none" else f"at {size}x{size}"
    print(f"translated {len(pairs)} images ({args.to}) {at} into {args.results}; page {page}")
    return [target for _, target in pairs]


def main(argv=None):
    args = parse_args(argv)
    device = cli.device(args)
    if args.test is not None:
        return translate_mode(args, device)
    mg.manual_seed(args.seed)
    try:
        train, test_x, test_y, truth, channels = build_data(args)
    except (OSError, ValueError) as e:
        cli.fail(e)
    if channels[0] != channels[1] and args.lambda_identity > 0:
        print(f"note: X has {channels[0]} channel(s) and Y {channels[1]}: no identity loss "
              f"(--lambda-identity 0), as in the reference")
        args.lambda_identity = 0.0
    config = cli.run_config(args, channels=list(channels))
    inception = cli.inception_model(args, device)        # None without --eval-inception
    trainer = CycleGAN(*build_models(channels, config, device), lr=args.lr,
                       lambda_cycle=args.lambda_cycle, lambda_identity=args.lambda_identity,
                       pool_size=args.pool_size, epochs=args.epochs, epochs_decay=args.epochs_decay,
                       loss=GAN_MODES[args.gan_mode], lr_policy=args.lr_policy,
                       decay_epochs=args.lr_decay_iters)
    loader = cli.loader(train, args, device, shuffle=not args.serial_batches)
    grid_x = mg.tensor(test_x[:GRID_ROWS]) if test_x is not None else None
    grid_y = mg.tensor(test_y[:GRID_ROWS]) if test_y is not None else None

    def on_epoch_end(epoch):
        lr = trainer.opt_G.param_groups[0]["lr"]
        message = f"epoch {epoch + 1}: lr -> {lr:.2e}"
        if grid_x is not None:
            path = f"{args.out}/epoch_{epoch + 1:03d}.png"
            io.save_image_grid(path, trainer.sample_grid(grid_x, grid_y), nrow=6)
            message += f", grid {path}"
        if truth is not None:
            quick = score_translation(trainer.translate, test_x[:20], truth[0][:20])
            message += f", test PSNR ({len(test_x[:20])} scenes) {quick['psnr']:.2f} dB"
        tqdm.write(message)
        loop.save_loss_curve()
        cli.report.write_run_page(args.out, TITLE, {"step": loop.step, "epoch": epoch + 1})

    loop = TrainingLoop(trainer, loader, args.out, epochs=args.epochs + args.epochs_decay,
                        config=config, on_epoch_end=on_epoch_end, progress=not args.no_progress,
                        desc="cyclegan", checkpoint_every=args.checkpoint_every,
                        save_epoch_freq=args.save_epoch_freq)
    steps_run, seconds = cli.run(loop, args)
    metrics = final_metrics(args, trainer, test_x, test_y, truth)
    metrics.update(inception_metrics(args, inception, trainer, test_x, test_y))
    metrics.update(step=loop.step, train_seconds=round(seconds, 1),
                   iterations_per_second=round(steps_run / seconds, 3) if seconds > 0 else None,
                   interrupted=loop.interrupted, config=config)
    report(args, metrics, steps_run, seconds)
    return cli.finish(loop, args, metrics, TITLE)


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


def inception_metrics(args, model, trainer, test_x, test_y):
    """--eval-inception: FID and KID of G(test X) against the real test Y images, and of F(test
    Y) against test X (no ground truth needed); {} without the flag or without test images."""
    if model is None or test_x is None:
        return {}
    names = ("summer_to_winter", "winter_to_summer") if args.data is None else ("x_to_y", "y_to_x")
    n = args.inception_samples
    fake_y = translate_batches(trainer.translate, test_x[:n])
    fake_x = translate_batches(lambda y: trainer.translate(y, "YtoX"), test_y[:n])
    return {"inception": {names[0]: cli.inception_scores(model, test_y, fake_y, args, names[0]),
                          names[1]: cli.inception_scores(model, test_x, fake_x, args, names[1])}}


def report(args, metrics, steps_run, seconds):
    lines = [f"{steps_run} iterations in {seconds:.0f} s"]
    for name in ("summer_to_winter", "winter_to_summer", "x_to_y", "y_to_x"):
        if name in metrics:
            m = metrics[name]
            identity = (f" (identity {m['identity_psnr']:.2f} dB)" if "identity_psnr" in m else "")
            lines.append(f"{name}: PSNR {m['psnr']:.2f} dB{identity}, L1 {m['l1']:.4f}")
    lines.append(f"wrote {args.out}/metrics.json, losses.png, epoch_*.png, checkpoint.safetensors, "
                 f"index.html")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
