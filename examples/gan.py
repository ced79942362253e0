"""Train a GAN on the ring of 8 Gaussians and measure mode coverage (Metz et al.'s benchmark).

    python examples/gan.py                        # defaults: a few minutes on 2 CPU cores
    python examples/gan.py --steps 500 --out out/quick
    python examples/gan.py --resume               # continue out/gan after a Ctrl-C
    python examples/gan.py --loss wgan-gp --pack 1 --out out/wgan-gp   # an unpacked WGAN-GP critic:
                                                  # 8/8 modes, 0.89 high quality, 4.3 min

Networks as in PacGAN (Lin et al. 2018): G with 4 hidden layers of 400 ReLU units on 2-D noise,
D with 3 hidden layers of 200 units judging ``--pack`` samples at once (PacGAN; a plain GAN,
``--pack 1``, usually collapses onto a few modes). Adam (beta1 0.5) with the learning rate decayed
linearly to 0, which settles the generator's late swings in sample quality.

``--loss`` picks the objective (``minigan.gans.losses``). The regularised ones come with their own
defaults: ``wgan`` (Arjovsky et al. 2017) RMSprop at 5e-5, 5 critic steps per G step, weights
clipped to 0.01; ``wgan-gp`` (Gulrajani et al. 2017) batch 256, 5 critic steps, gradient penalty
lambda 10, Adam(1e-3, betas 0/0.9) (the paper's betas; with 0.5/0.9 one seed of two never
settled in the 2,000 steps that fit in 5 minutes here); ``dragan`` (Kodali et al. 2017) the same penalty around the real points, Adam betas
0.5/0.9 as in its reference code; ``r1`` (Mescheder et al. 2018) gamma 10. ``--n-critic``,
``--gp-lambda``, ``--r1-gamma`` and ``--clip-value`` override them.

Writes to ``--out``: ``ring.png`` (real vs generated points), ``losses.png``, ``metrics.json``
(``modes_covered`` of 8 and ``high_quality_fraction`` over 2,500 samples: a sample is of high
quality within 3 std of a mode, a mode is covered with 20 such samples),
``checkpoint.safetensors`` and ``index.html`` (the pictures and metrics on one page). A second run
into the same ``--out`` is refused: ``--resume`` continues it (a larger ``--steps`` extends it),
``--overwrite`` replaces it.
"""
import argparse

import numpy as np

import minigan as mg
from minigan import io, optim
from minigan.data import RingDataset, RingOfGaussians
from minigan.gans import GAN, LOSSES, TrainingLoop, cli
from minigan.gans.losses import loss_option_error
from minigan.models import mlp_discriminator, mlp_generator

EVAL_SAMPLES = 2500
# Loss-specific defaults (the others keep the plain GAN's: batch 512, Adam(1e-3, betas 0.5/0.999)).
BATCH_SIZE = {"wgan_gp": 256}
LEARNING_RATE = {"wgan": 5e-5}
BETA1 = {"wgan_gp": 0.0}   # the WGAN-GP paper's Adam; with 0.5, seed 1 never settled (0/8 modes)
BETA2 = {"wgan_gp": 0.9, "dragan": 0.9}
STEPS = {"wgan": 2000, "wgan_gp": 2000}   # G steps; each has 5 critic steps


def loss_name(text):
    """--loss value -> canonical name ("wgan-gp" -> "wgan_gp")."""
    return text.lower().replace("-", "_")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=None,
                   help="training steps, one G update each (default 4000; 2000 for wgan, wgan-gp)")
    cli.add_run_arguments(p, "out/gan", checkpoint_every=1000, epochs=False)
    p.add_argument("--batch-size", type=int, default=None, help="default 512; 256 for wgan-gp")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate for G and D (default 1e-3; RMSprop's 5e-5 for wgan)")
    p.add_argument("--lr-decay-steps", type=int, default=None,
                   help="decay the lr linearly to 0 over this many steps "
                        "(default: --steps; 0: constant lr)")
    p.add_argument("--beta1", type=float, default=None,
                   help="Adam's beta1 (default 0.5; 0 for wgan-gp, as in Gulrajani et al.)")
    p.add_argument("--pack", type=int, default=2, help="PacGAN packing degree (1 = plain GAN)")
    p.add_argument("--loss", default="non_saturating", type=loss_name, choices=LOSSES,
                   help="the objective (wgan-gp and wgan_gp both work; default non_saturating)")
    p.add_argument("--n-critic", type=int, default=None,
                   help="D (critic) updates per G update (default 5 for wgan, wgan-gp; else 1)")
    p.add_argument("--gp-lambda", type=float, default=None,
                   help="gradient penalty weight for wgan-gp and dragan (default 10)")
    p.add_argument("--r1-gamma", type=float, default=None, help="R1 weight gamma (default 10)")
    p.add_argument("--clip-value", type=float, default=None,
                   help="wgan's weight clipping bound (default 0.01)")
    p.add_argument("--latent-dim", type=int, default=2)
    args = cli.parse(p, argv, positive=("batch_size", "pack", "latent_dim"),
                     non_negative=("steps", "lr_decay_steps"))
    if loss_option_error(args):
        p.error(loss_option_error(args))
    if args.n_critic is not None and args.n_critic < 1:
        p.error(f"--n-critic must be positive, got {args.n_critic}")
    if args.steps is None:
        args.steps = STEPS.get(args.loss, 4000)
    if args.batch_size is None:
        args.batch_size = BATCH_SIZE.get(args.loss, 512)
    if args.lr is None:
        args.lr = LEARNING_RATE.get(args.loss, 1e-3)
    if args.beta1 is None:
        args.beta1 = BETA1.get(args.loss, 0.5)
    if args.batch_size % args.pack:
        p.error(f"--batch-size ({args.batch_size}) must be a multiple of --pack ({args.pack})")
    if args.lr_decay_steps is None:
        args.lr_decay_steps = args.steps
    return args


def build(args, device):
    """G, D, their optimizers and LR schedules, wrapped in a GAN trainer."""
    G = mlp_generator(latent_dim=args.latent_dim).to(device)
    D = mlp_discriminator(pack=args.pack).to(device)
    if args.loss == "wgan":
        g_opt = optim.RMSprop(G.parameters(), lr=args.lr)
        d_opt = optim.RMSprop(D.parameters(), lr=args.lr)
    else:
        betas = (args.beta1, BETA2.get(args.loss, 0.999))
        g_opt = optim.Adam(G.parameters(), lr=args.lr, betas=betas)
        d_opt = optim.Adam(D.parameters(), lr=args.lr, betas=betas)
    horizon = args.lr_decay_steps
    decay = (lambda step: max(0.0, 1.0 - step / horizon)) if horizon else (lambda step: 1.0)
    schedulers = [optim.LambdaLR(g_opt, decay), optim.LambdaLR(d_opt, decay)]
    return GAN(G, D, g_opt, d_opt, latent_shape=(args.latent_dim,), loss=args.loss,
               pack=args.pack, schedulers=schedulers, d_steps=args.n_critic,
               clip_value=args.clip_value, gp_lambda=args.gp_lambda, r1_gamma=args.r1_gamma)


def evaluate(gan, ring, seed):
    """Ring metrics of 2,500 samples drawn with fixed noise (not from the training generator)."""
    z = np.random.default_rng([seed, 2500]).standard_normal((EVAL_SAMPLES, *gan.latent_shape))
    points = gan.sample(EVAL_SAMPLES, z=mg.tensor(z.astype(np.float32), device=gan.device))
    return points.numpy(), ring.metrics(points.numpy())


def main(argv=None):
    args = parse_args(argv)
    device = cli.device(args)
    mg.manual_seed(args.seed)
    ring = RingOfGaussians()
    loader = cli.loader(RingDataset(n=20 * args.batch_size, seed=args.seed, ring=ring), args,
                        device)
    gan = build(args, device)
    config = cli.run_config(args)
    loop = TrainingLoop(gan, loader, args.out, steps=args.steps,
                        checkpoint_every=args.checkpoint_every, config=config,
                        progress=not args.no_progress, desc="gan")
    steps_run, seconds = cli.run(loop, args)

    points, metrics = evaluate(gan, ring, args.seed)
    real = ring.sample(EVAL_SAMPLES, np.random.default_rng([args.seed, 1]))
    io.plot_points(f"{args.out}/ring.png", real, points, limit=2.6,
                   title=f"step {loop.step}: {metrics['modes_covered']}/8 modes, "
                         f"{metrics['high_quality_fraction']:.0%} high quality")
    metrics.update(step=loop.step, seed=args.seed, train_seconds=round(seconds, 2),
                   steps_per_second=round(steps_run / seconds, 2) if seconds > 0 else None,
                   interrupted=loop.interrupted, config=config)
    print(f"step {loop.step}: modes covered {metrics['modes_covered']}/8, high-quality fraction "
          f"{metrics['high_quality_fraction']:.3f} ({steps_run} steps in {seconds:.1f} s); "
          f"wrote {args.out}/ring.png, losses.png, metrics.json, index.html")
    return cli.finish(loop, args, metrics, "gan: ring of 8 Gaussians")


if __name__ == "__main__":
    main()
