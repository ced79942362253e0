"""Train a DCGAN on digits and track the Fréchet distance of its samples to real images.

    python examples/dcgan.py                          # synthetic digits, 32x32; about 7 min on 2 CPU cores
    python examples/dcgan.py --image-size 64 --device cuda    # the paper's 64x64 network
    python examples/dcgan.py --data ~/mnist           # MNIST-format idx files (labels unused)
    python examples/dcgan.py --data photos/           # a folder of images of one class
    python examples/dcgan.py --resume                 # continue out/dcgan after a Ctrl-C
    python examples/dcgan.py --loss wgan-gp --out out/wgan-gp    # WGAN-GP's critic and recipe

Networks as in Radford et al. (2016): transposed convolutions with BatchNorm and ReLU in G, Tanh out;
strided convolutions with LeakyReLU(0.2) and BatchNorm (none on the first layer) in D; weights
N(0, 0.02); Adam (2e-4, betas 0.5/0.999). The Fréchet distance is measured in the features of a
small CNN trained with minigan on synthetic digits (on the train split for an idx --data folder;
trained once, then loaded from the run's folder or ~/.cache/minigan), between 1,000 held-out real
images and 1,000 samples with fixed noise, at step 0 and after every epoch.

``--loss`` picks the objective (``minigan.gans.losses``); the regularised ones bring their papers'
settings: ``wgan`` (Arjovsky et al. 2017) RMSprop 5e-5, 5 critic steps per G step, weights clipped
to 0.01, BatchNorm kept in the critic as in that paper; ``wgan-gp`` (Gulrajani et al. 2017) Adam
(1e-4, betas 0/0.9), 5 critic steps, penalty lambda 10, no BatchNorm in the critic (the penalty is
per sample) and 3 epochs (each G step costs about five plain ones; the Fréchet distance was
8x lower after the first epoch, 285 s on 2 busy cores); ``dragan`` (Kodali et al. 2017)
Adam(1e-4, betas 0.5/0.9) as its reference code, penalty lambda 10, no BatchNorm; ``r1`` (Mescheder
et al. 2018) gamma 10, no BatchNorm, DCGAN's Adam. ``--n-critic`` (= ``--d-steps``), ``--lr``,
``--gp-lambda``, ``--r1-gamma``, ``--clip-value`` and ``--d-norm`` override them.

Writes to ``--out``: ``samples_epoch<NNN>.png``, ``interpolation.png`` (each row a slerp path
between two noise vectors), ``losses.png``, ``metrics.json`` (``frechet_distance`` at step 0, after
each epoch and at the end, and their ratio), ``checkpoint.safetensors`` (every epoch, or
``--checkpoint-every`` steps), ``classifier.safetensors`` and ``index.html`` (every epoch's grid,
the loss plot and the metrics). ``--eval-inception FILE`` adds, at the end, FID and KID on
Inception-v3 features (``minigan.metrics``; FILE: the converted pytorch-fid weights, see
docs/metrics.md) of ``--inception-samples`` (250) samples against as many held-out real images,
as ``inception`` in metrics.json: about 0.1-0.4 s an image on CPU, so 1-3 min more, plus the
FID's matrix square root (30-60 s at 2048-d on 2 cores). An image folder's files are all checked
up front (``--skip-bad-images`` goes on without the unreadable ones); an MNIST folder with one
split holds out its last sixth.
"""
import argparse
import os
import time

import numpy as np
from tqdm import tqdm

import minigan as mg
from minigan import io, optim
from minigan.data import (Dataset, IdxFormatError, ImageFolder, ImageReadError, MNISTFormat,
                          SyntheticDigits)
from minigan.data.loader import Subset
from minigan.gans import GAN, LOSSES, TrainingLoop, cli, evaluation
from minigan.gans.losses import loss_option_error
from minigan.models.dcgan import D_NORMS, DCGANDiscriminator, DCGANGenerator

# Loss-specific defaults; the others keep DCGAN's (Adam 2e-4, betas 0.5/0.999, BatchNorm in D).
LEARNING_RATE = {"wgan": 5e-5, "wgan_gp": 1e-4, "dragan": 1e-4}
BETAS = {"wgan_gp": (0.0, 0.9), "dragan": (0.5, 0.9)}
D_NORM = {"wgan_gp": "none", "dragan": "none", "r1": "none"}
EPOCHS = {"wgan_gp": 3}
TITLE = "dcgan: digits"


def loss_name(text):
    """--loss value -> canonical name ("wgan-gp" -> "wgan_gp")."""
    return text.lower().replace("-", "_")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=None, help="a folder of MNIST-format idx files or of images "
                                                "(default: generated synthetic digits)")
    p.add_argument("--epochs", type=int, default=None,
                   help="passes over the data (default 15; 3 for wgan-gp)")
    p.add_argument("--n-train", type=int, default=10000,
                   help="synthetic digits to train on (default 10000; ignored with --data)")
    p.add_argument("--batch-size", type=int, default=64)
    cli.add_run_arguments(p, "out/dcgan")
    p.add_argument("--skip-bad-images", action="store_true",
                   help="with an image --data folder: leave out unreadable files instead of "
                        "refusing")
    p.add_argument("--image-size", type=int, default=32, choices=(32, 64))
    p.add_argument("--ngf", type=int, default=64, help="G width (default 64, the paper's)")
    p.add_argument("--ndf", type=int, default=64, help="D width (default 64, the paper's)")
    p.add_argument("--latent-dim", type=int, default=100)
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate for G and D (default 2e-4; 5e-5 for wgan, 1e-4 for wgan-gp "
                        "and dragan)")
    p.add_argument("--loss", default="non_saturating", type=loss_name, choices=LOSSES,
                   help="the objective (wgan-gp and wgan_gp both work; default non_saturating)")
    p.add_argument("--d-steps", "--n-critic", dest="d_steps", type=int, default=None,
                   help="D (critic) updates per G update (default 5 for wgan, wgan-gp; else 1)")
    p.add_argument("--gp-lambda", type=float, default=None,
                   help="gradient penalty weight for wgan-gp and dragan (default 10)")
    p.add_argument("--r1-gamma", type=float, default=None, help="R1 weight gamma (default 10)")
    p.add_argument("--clip-value", type=float, default=None,
                   help="wgan's weight clipping bound (default 0.01)")
    p.add_argument("--d-norm", default=None, choices=D_NORMS,
                   help="D's normalisation (default batch; none for wgan-gp, dragan, r1)")
    p.add_argument("--real-label", type=float, default=1.0,
                   help="D's target for real data; 0.9 = one-sided label smoothing")
    p.add_argument("--instance-noise", type=float, default=0.0,
                   help="std of noise added to D's inputs, annealed to 0 over the run")
    p.add_argument("--eval-samples", type=int, default=1000, help="images per Fréchet distance")
    cli.add_inception_arguments(p, 250, "generated against held-out real digits")
    args = cli.parse(p, argv, positive=("n_train", "batch_size", "ngf", "ndf", "latent_dim",
                                        "d_steps", "eval_samples"), non_negative=("epochs",))
    if loss_option_error(args):
        p.error(loss_option_error(args))
    if args.real_label != 1.0 and args.loss in ("hinge", "wgan", "wgan_gp"):
        p.error(f"--real-label (label smoothing) does not apply to --loss {args.loss}")
    if args.epochs is None:
        args.epochs = EPOCHS.get(args.loss, 15)
    if args.lr is None:
        args.lr = LEARNING_RATE.get(args.loss, 2e-4)
    if args.d_steps is None:
        args.d_steps = 5 if args.loss in ("wgan", "wgan_gp") else 1
    if args.eval_samples < 2:
        p.error("--eval-samples must be at least 2 (a covariance needs two samples)")
    return args


class ImagesOnly(Dataset):
    """The images of a labelled dataset, without the labels: samples ``(image,)``."""

    def __init__(self, dataset):
        self.dataset = dataset
        self.needs_rng = getattr(dataset, "needs_rng", False)

    def __len__(self):
        return len(self.dataset)

    def get(self, index, rng):
        return (self.dataset.get(index, rng)[0],)


def load_data(args):
    """(training set of (image,) samples, held-out real images (N, C, H, W) for the distance)."""
    size, n_eval = args.image_size, args.eval_samples
    if args.data is None:
        train = SyntheticDigits(args.n_train, size=size, seed=args.seed)
        held_out = SyntheticDigits(n_eval, size=size, seed=args.seed + 1_000)
        return ImagesOnly(train), evaluation.dataset_arrays(held_out)[0]
    if not os.path.isdir(args.data):
        raise FileNotFoundError(f"--data: folder not found: {args.data}")
    if any(name.startswith(("train-images", "t10k-images")) for name in os.listdir(args.data)):
        train, held_out = evaluation.mnist_splits(args.data, size)
        return ImagesOnly(train), evaluation.dataset_arrays(held_out, n_eval)[0]
    folder = ImageFolder(args.data, size, skip_bad=args.skip_bad_images)
    return folder, np.stack([folder[i][0] for i in range(min(n_eval, len(folder)))])


def build(args, channels, device, steps):
    G = DCGANGenerator(args.image_size, args.latent_dim, channels, args.ngf).to(device)
    norm = args.d_norm or D_NORM.get(args.loss, "batch")
    D = DCGANDiscriminator(args.image_size, channels, args.ndf, norm=norm).to(device)
    if args.loss == "wgan":
        g_opt = optim.RMSprop(G.parameters(), lr=args.lr)
        d_opt = optim.RMSprop(D.parameters(), lr=args.lr)
    else:
        betas = BETAS.get(args.loss, (0.5, 0.999))
        g_opt = optim.Adam(G.parameters(), lr=args.lr, betas=betas)
        d_opt = optim.Adam(D.parameters(), lr=args.lr, betas=betas)
    return GAN(G, D, g_opt, d_opt, latent_shape=(args.latent_dim, 1, 1), loss=args.loss,
               d_steps=args.d_steps, real_label=args.real_label,
               instance_noise=args.instance_noise, instance_noise_steps=steps or None,
               clip_value=args.clip_value, gp_lambda=args.gp_lambda, r1_gamma=args.r1_gamma)


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    device = cli.device(args)
    mg.manual_seed(args.seed)
    try:
        dataset, real_images = load_data(args)
    except (FileNotFoundError, NotADirectoryError, IdxFormatError, ImageReadError,
            ValueError) as e:
        cli.fail(e)
    channels = real_images.shape[1]
    loader = cli.loader(dataset, args, device)
    gan = build(args, channels, device, args.epochs * len(loader))
    config = cli.run_config(args)
    cli.check_out(args)
    inception = cli.inception_model(args, device)        # None without --eval-inception
    if cli.is_main_process():    # under mpiexec rank 0 alone evaluates; the other ranks train
        labelled = isinstance(dataset, ImagesOnly) and isinstance(dataset.dataset,
                                                                  (MNISTFormat, Subset))
        classifier, classifier_info = evaluation.digit_classifier(  # idx folders train their own
            args.image_size, data=args.data if labelled else None, out_dir=args.out,
            device=device, progress=not args.no_progress)
        print(f"feature network: held-out digit accuracy {classifier_info['accuracy']:.4f} "
              f"({classifier_info['source']}, {classifier_info['seconds']:.0f} s)")
        frechet = evaluation.FrechetDistance(classifier, real_images)
        n_floor = min(args.eval_samples, len(dataset))   # the distance between two real sets
        floor = frechet(np.stack([dataset[i][0] for i in range(n_floor)]))

    # Fixed noise (not from the training generator): the same samples are measured every epoch.
    eval_rng = np.random.default_rng([args.seed, 1])
    eval_z = eval_rng.standard_normal((args.eval_samples, *gan.latent_shape)).astype(np.float32)
    grid_z = mg.tensor(eval_rng.standard_normal((64, *gan.latent_shape)).astype(np.float32),
                       device=device)
    path_z = evaluation.interpolation_latents(8, 10, gan.latent_shape, eval_rng)

    def distance():
        return frechet(gan.sample(args.eval_samples, z=mg.tensor(eval_z, device=device)))

    history = []

    def on_epoch_end(epoch):
        fd = distance()
        io.save_image_grid(os.path.join(args.out, f"samples_epoch{epoch + 1:03d}.png"),
                           gan.sample(64, z=grid_z), nrow=8)
        history.append({"epoch": epoch + 1, "step": loop.step, "frechet_distance": fd})
        tqdm.write(f"epoch {epoch + 1}: Fréchet distance {fd:.1f}")
        cli.write_progress(args, history, TITLE)

    loop = TrainingLoop(gan, loader, args.out, epochs=args.epochs, config=config,
                        on_epoch_end=on_epoch_end, progress=not args.no_progress, desc="dcgan",
                        checkpoint_every=args.checkpoint_every,
                        save_epoch_freq=args.save_epoch_freq)

    def before_run():
        history[:] = cli.earlier_history(args.out, loop.step) if args.resume else []
        if loop.step == 0:
            history.append({"epoch": 0, "step": 0, "frechet_distance": distance()})

    steps_run, train_seconds = cli.run(loop, args, before_run)

    final = distance()
    inception_scores = {}
    if inception is not None:                   # --eval-inception: FID, KID on Inception features
        n = min(args.inception_samples, len(eval_z))
        fake = gan.sample(n, z=mg.tensor(eval_z[:n], device=device))
        inception_scores = cli.inception_scores(inception, real_images, fake, args, "samples")
    path = gan.sample(len(path_z), z=mg.tensor(path_z, device=device))
    io.save_image_grid(os.path.join(args.out, "interpolation.png"), path, nrow=10)
    initial = history[0]["frechet_distance"] if history and history[0]["step"] == 0 else None
    metrics = {
        "frechet_distance": final, "frechet_distance_step0": initial,
        "frechet_ratio": initial / final if initial is not None and final > 0 else None,
        "frechet_distance_real_vs_real": floor, "history": history, "step": loop.step,
        "train_seconds": round(train_seconds, 2),
        "steps_per_second": round(steps_run / train_seconds, 2) if steps_run else None,
        "wall_seconds": round(time.perf_counter() - started, 2),
        "classifier": {k: classifier_info[k] for k in ("accuracy", "source", "seconds")},
        "interrupted": loop.interrupted, "config": config,
    }
    if inception_scores:
        metrics["inception"] = inception_scores
    ratio = f" ({metrics['frechet_ratio']:.1f}x lower than at step 0)" if initial else ""
    print(f"step {loop.step}: Fréchet distance {final:.1f}{ratio}; {steps_run} steps in "
          f"{train_seconds:.0f} s; wrote {args.out}/metrics.json, samples_epoch*.png, "
          f"interpolation.png, losses.png, index.html")
    return cli.finish(loop, args, metrics, TITLE)


if __name__ == "__main__":
    main()
