"""Train a conditional GAN on digits and measure how often a classifier reads the requested digit.

    python examples/cgan.py                           # synthetic digits; about 6 minutes on 2 CPU cores
    python examples/cgan.py --epochs 2 --out out/quick
    python examples/cgan.py --data ~/mnist            # MNIST-format idx files instead
    python examples/cgan.py --resume                  # continue out/cgan after a Ctrl-C

The networks are PyTorch-GAN's MLP cGAN (a label embedding joined to the noise in G and to the
flattened image in D, dropout 0.4 in D), trained with the LSGAN loss and Adam (2e-4, betas
0.5/0.999), batch 64, and a matching-aware D (Reed et al. 2016: real images with a wrong label count
as fakes too), which about halves the steps the samples need to be read as their label.
A small CNN trained with minigan judges the samples: 100 per class, drawn with fixed noise and G's
BatchNorm in eval mode. It is trained on synthetic digits (or on the --data train split) the first
time and then loaded from the run's folder or ~/.cache/minigan.

Writes to ``--out``: ``samples_epoch<NNN>.png`` (one row per class), ``losses.png``,
``metrics.json`` (``accuracy`` of the final samples, per class, and after every epoch),
``checkpoint.safetensors`` (every epoch, or ``--checkpoint-every`` steps),
``classifier.safetensors`` and ``index.html`` (every epoch's grid, the loss plot and the
metrics). An MNIST folder with only one split (``train-*`` or ``t10k-*``) trains on it and holds
out its last sixth.
"""
import argparse
import os
import time

import numpy as np
from tqdm import tqdm

import minigan as mg
from minigan import io, optim
from minigan.data import IdxFormatError, SyntheticDigits
from minigan.gans import PLAIN_LOSSES, TrainingLoop, cli, evaluation
from minigan.gans.cgan import CGAN, class_rows
from minigan.models.cgan import CGANDiscriminator, CGANGenerator

N_CLASSES = 10
TITLE = "cgan: conditional digits"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=None,
                   help="folder of MNIST-format idx files (default: generated synthetic digits)")
    p.add_argument("--epochs", type=int, default=40, help="passes over the data (default 40)")
    p.add_argument("--n-train", type=int, default=10000,
                   help="synthetic digits to train on (default 10000; ignored with --data)")
    p.add_argument("--batch-size", type=int, default=64)
    cli.add_run_arguments(p, "out/cgan")
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--latent-dim", type=int, default=100)
    p.add_argument("--lr", type=float, default=2e-4, help="Adam learning rate for G and D")
    p.add_argument("--lr-decay", type=int, default=0, choices=(0, 1),
                   help="1: decay the learning rate linearly to 0 over the run's steps")
    p.add_argument("--loss", default="lsgan", choices=PLAIN_LOSSES)
    p.add_argument("--d-steps", type=int, default=1, help="D updates per G update")
    p.add_argument("--matching-aware", type=int, default=1, choices=(0, 1),
                   help="1: D also sees real images with wrong labels as fakes (Reed et al. 2016)")
    p.add_argument("--d-dropout", type=float, default=0.4, help="dropout in D's hidden layers")
    p.add_argument("--real-label", type=float, default=1.0,
                   help="D's target for real data; 0.9 = one-sided label smoothing")
    p.add_argument("--instance-noise", type=float, default=0.0,
                   help="std of noise added to D's inputs, annealed to 0 over the run")
    p.add_argument("--eval-per-class", type=int, default=100, help="samples per class to judge")
    return cli.parse(p, argv, positive=("n_train", "batch_size", "image_size", "latent_dim",
                                        "d_steps", "eval_per_class"), non_negative=("epochs",))


def load_data(args):
    """The labelled training set: synthetic digits, or the --data folder's train split."""
    if args.data is None:
        return SyntheticDigits(args.n_train, size=args.image_size, seed=args.seed)
    return evaluation.mnist_splits(args.data, args.image_size)[0]


def build(args, device, steps):
    G = CGANGenerator(args.latent_dim, N_CLASSES, (1, args.image_size, args.image_size)).to(device)
    D = CGANDiscriminator(N_CLASSES, (1, args.image_size, args.image_size),
                          dropout=args.d_dropout).to(device)
    g_opt = optim.Adam(G.parameters(), lr=args.lr, betas=(0.5, 0.999))
    d_opt = optim.Adam(D.parameters(), lr=args.lr, betas=(0.5, 0.999))
    schedulers = []
    if args.lr_decay and steps:
        schedulers = [optim.LambdaLR(opt, lambda step: max(0.0, 1.0 - step / steps))
                      for opt in (g_opt, d_opt)]
    return CGAN(G, D, g_opt, d_opt, latent_dim=args.latent_dim, n_classes=N_CLASSES,
                schedulers=schedulers,
                loss=args.loss, d_steps=args.d_steps, real_label=args.real_label,
                instance_noise=args.instance_noise, instance_noise_steps=steps or None,
                matching_aware=bool(args.matching_aware))


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    device = cli.device(args)
    mg.manual_seed(args.seed)
    try:
        dataset = load_data(args)
    except (FileNotFoundError, IdxFormatError, ValueError) as e:
        cli.fail(e)
    loader = cli.loader(dataset, args, device)
    cgan = build(args, device, args.epochs * len(loader))
    config = cli.run_config(args)
    cli.check_out(args)
    if cli.is_main_process():    # under mpiexec rank 0 alone evaluates; the other ranks train
        classifier, classifier_info = evaluation.digit_classifier(
            args.image_size, data=args.data, out_dir=args.out, device=device,
            progress=not args.no_progress)
        print(f"classifier: held-out accuracy {classifier_info['accuracy']:.4f} "
              f"({classifier_info['source']}, {classifier_info['seconds']:.0f} s)")

    # Fixed noise (not from the training generator): the same samples are judged every epoch.
    eval_rng = np.random.default_rng([args.seed, 1])
    eval_labels = class_rows(N_CLASSES, args.eval_per_class)
    eval_z = eval_rng.standard_normal((len(eval_labels), args.latent_dim)).astype(np.float32)
    grid_labels = class_rows(N_CLASSES, 10)
    grid_z = eval_rng.standard_normal((len(grid_labels), args.latent_dim)).astype(np.float32)

    def evaluate():
        images = cgan.sample(eval_labels, z=eval_z)
        predicted = evaluation.predict(classifier, images)
        per_class = [float(np.mean(predicted[eval_labels == k] == k)) for k in range(N_CLASSES)]
        return float(np.mean(predicted == eval_labels)), per_class

    history = []

    def on_epoch_end(epoch):
        accuracy, _ = evaluate()
        path = os.path.join(args.out, f"samples_epoch{epoch + 1:03d}.png")
        io.save_image_grid(path, cgan.sample(grid_labels, z=grid_z), nrow=10)
        history.append({"epoch": epoch + 1, "step": loop.step, "accuracy": accuracy})
        tqdm.write(f"epoch {epoch + 1}: sample accuracy {accuracy:.3f}")
        cli.write_progress(args, history, TITLE)

    loop = TrainingLoop(cgan, loader, args.out, epochs=args.epochs, config=config,
                        on_epoch_end=on_epoch_end, progress=not args.no_progress, desc="cgan",
                        checkpoint_every=args.checkpoint_every,
                        save_epoch_freq=args.save_epoch_freq)

    def before_run():
        history[:] = cli.earlier_history(args.out, loop.step) if args.resume else []
        if loop.step == 0:
            history.append({"epoch": 0, "step": 0, "accuracy": evaluate()[0]})

    steps_run, train_seconds = cli.run(loop, args, before_run)
    accuracy, per_class = evaluate()
    metrics = {
        "accuracy": accuracy, "accuracy_per_class": per_class, "history": history,
        "step": loop.step, "train_seconds": round(train_seconds, 2),
        "steps_per_second": round(steps_run / train_seconds, 2) if steps_run else None,
        "wall_seconds": round(time.perf_counter() - started, 2),
        "classifier": {k: classifier_info[k] for k in ("accuracy", "source", "seconds")},
        "interrupted": loop.interrupted, "config": config,
    }
    print(f"step {loop.step}: the classifier reads the requested digit in {accuracy:.1%} of "
          f"samples ({steps_run} steps in {train_seconds:.0f} s); wrote {args.out}/metrics.json, "
          f"samples_epoch*.png, losses.png, index.html")
    return cli.finish(loop, args, metrics, TITLE)


if __name__ == "__main__":
    main()
