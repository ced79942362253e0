"""The one command-line path the five examples share: run flags, the output folder's safety, the
saved config, the loop's failures as one-line errors, and the results page.

Every example:

    p = argparse.ArgumentParser(...)
    cli.add_run_arguments(p, "out/gan", checkpoint_every=1000)    # --out --resume --overwrite ...
    ...its own flags...
    args = cli.parse(p, argv, positive=("batch_size",), non_negative=("steps",))
    device = cli.device(args)                        # "error: --device cuda: ..." in one line
    loader = cli.loader(dataset, args, device)       # refuses a batch larger than the dataset
    loop = TrainingLoop(..., config=cli.run_config(args), checkpoint_every=args.checkpoint_every)
    steps, seconds = cli.run(loop, args)             # checks --out, resumes, runs; one-line errors
    ...metrics...
    cli.finish(loop, args, metrics, title)           # metrics.json, index.html, exit 130 if stopped

The output folder: a second run into an ``--out`` that already holds a run is refused with a
pointer to ``--resume`` (continue it) or ``--overwrite`` (replace it: the run's own files are
removed first; nothing else is). ``--out`` naming a file is refused.

Under ``mpiexec -n N`` (docs/distributed.md): ``parse`` joins the job, ``run`` wraps the trainer's
models (``Trainer.distribute``: DistributedDataParallel, SyncBatchNorm), gives each rank its own
noise stream and, with ``loader``, its own shard of the data (``--batch-size`` is per rank); rank 0
alone decides about ``--out``, prints and writes; the other ranks leave ``run`` when training ends
and rank 0 goes on to evaluate and ``finish``. ``--allow-reshard`` resumes a checkpoint written at
another world size. Without mpiexec none of this runs.

The saved config: every flag except those in ``RUN_KEYS`` (where the results go, how they are
shown, how often they are saved, what --eval-inception adds at the end: nothing that changes the
training's numbers) and those left unset (None).
A resume must match it, except for the run's length (``trainer.EXTENDABLE``).
"""
import glob
import json
import os
import sys
import time

from .. import distributed, io
from .. import random as mg_random
from ..data import DataLoader
from ..data.folder import ImageReadError
from ..data.idx import IdxFormatError
from ..metrics import fid_and_kid
from ..metrics import inception_model as load_inception
from . import report
from .trainer import NonFiniteLossError

RUN_KEYS = ("out", "device", "resume", "overwrite", "no_progress", "checkpoint_every",
            "save_epoch_freq", "test", "results", "epoch", "to", "allow_reshard",
            "eval_inception", "inception_samples")
# The files a run writes into --out (what --overwrite removes, and nothing else).
RUN_FILES = ("checkpoint.safetensors", "checkpoint_epoch*.safetensors", "metrics.json",
             "losses.png", "index.html", "epoch_*.png", "samples_epoch*.png", "ring.png",
             "interpolation.png", ".checkpoint.safetensors.*.tmp",
             "checkpoint.npz", "checkpoint_epoch*.npz", ".checkpoint.npz.*.tmp")   # minigan 0.1's


def fail(message):
    """Exit with status 1 and ``error: message`` on stderr (one line, no traceback)."""
    sys.exit(f"error: {message}")


def add_run_arguments(parser, out, checkpoint_every=None, epochs=True):
    """--out, --resume, --overwrite, --device, --seed, --checkpoint-every, --no-progress (and
    --save-epoch-freq for the epoch-based examples)."""
    parser.add_argument("--out", default=out, help=f"output folder (default {out})")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out (a larger --epochs/--steps extends it)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the run in --out (its checkpoints, grids and metrics)")
    parser.add_argument("--device", default="cpu", help='"cpu", "cuda" or "auto"')
    parser.add_argument("--seed", type=int, default=0)
    every = "one epoch" if checkpoint_every is None else str(checkpoint_every)
    parser.add_argument("--checkpoint-every", type=int, default=checkpoint_every,
                        help=f"steps between checkpoints (default {every}; a final one is always "
                             f"written)")
    if epochs:
        parser.add_argument("--save-epoch-freq", type=int, default=0,
                            help="also keep checkpoint_epoch<NNN>.safetensors every this many "
                                 "epochs (0: off), to --test any of them with --epoch")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--allow-reshard", action="store_true",
                        help="with --resume under mpiexec: accept a checkpoint written by another "
                             "number of ranks (the data shards and noise streams then differ)")


def parse(parser, argv=None, positive=(), non_negative=(), positive_float=("lr",)):
    """parse_args plus the range checks every example needs, each a one-line argparse error."""
    args = parser.parse_args(argv)
    for name in positive:
        if getattr(args, name, None) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    for name in non_negative + ("checkpoint_every", "save_epoch_freq"):
        if getattr(args, name, None) is not None and getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be >= 0, got {getattr(args, name)}")
    for name in positive_float:
        value = getattr(args, name, None)
        if value is not None and not value > 0:          # also catches nan
            parser.error(f"--{name.replace('_', '-')} must be a number > 0, got {value}")
    if args.resume and args.overwrite:
        parser.error("--resume continues the run in --out and --overwrite replaces it: give one")
    start_distributed()
    return args


def start_distributed():
    """Under ``mpiexec``: join the job (``init_process_group("auto")``); on ranks other than 0,
    print nothing (stdout goes to /dev/null: rank 0 speaks for the job). Without mpiexec: nothing.
    Returns ``distributed.is_initialized()``."""
    if distributed.init_if_launched("auto") and not distributed.is_main_process():
        sys.stdout = open(os.devnull, "w")
    return distributed.is_initialized()


def is_main_process():
    """True where a run prints and writes: without mpiexec, and on rank 0 under it."""
    return distributed.is_main_process()


def device(args):
    """The device ``--device`` names, or a one-line error (e.g. cuda without CuPy)."""
    from .. import device as parse_device
    try:
        return parse_device(args.device)
    except (RuntimeError, ValueError) as e:
        fail(f"--device {args.device}: {e}")


def loader(dataset, args, device, shuffle=True):
    """The training DataLoader (drop_last); a one-line error when --batch-size exceeds the data.
    Under mpiexec each rank takes its shard (``DistributedSampler``, drop_last) and --batch-size
    is the per-rank batch."""
    if distributed.is_initialized():
        sampler = distributed.DistributedSampler(dataset, shuffle=shuffle, seed=args.seed,
                                                 drop_last=True)
        if len(sampler) < args.batch_size:
            ranks = distributed.get_world_size()
            fail(f"--batch-size {args.batch_size} (per rank) is larger than one rank's share of "
                 f"the training set ({len(sampler)} of {len(dataset)} samples over {ranks} "
                 f"ranks); use --batch-size {max(1, len(sampler))} or less, fewer ranks, or more "
                 f"data")
        return DataLoader(dataset, batch_size=args.batch_size, sampler=sampler, drop_last=True,
                          seed=args.seed, device=device)
    if len(dataset) < args.batch_size:
        fail(f"--batch-size {args.batch_size} is larger than the training set ({len(dataset)} "
             f"samples); use --batch-size {len(dataset)} or less, or more data")
    return DataLoader(dataset, batch_size=args.batch_size, shuffle=shuffle, drop_last=True,
                      seed=args.seed, device=device)


def run_config(args, **extra):
    """The saved config (see the module docstring), plus ``extra`` entries."""
    config = {k: v for k, v in vars(args).items() if k not in RUN_KEYS and v is not None}
    config.update(extra)
    return config


def check_out(args):
    """Refuse an --out that is a file, or that holds a run when neither --resume nor --overwrite
    is given; with --overwrite remove the run's own files. Under mpiexec rank 0 decides (and
    removes) and every rank follows its decision."""
    if not distributed.is_initialized():
        problem = _out_problem(args)
    else:
        problem = _out_problem(args) if distributed.is_main_process() else None
        problem = distributed.broadcast_object_list([problem], src=0)[0]
    if problem:
        fail(problem)


def _out_problem(args):
    """check_out's decision: the refusal's message, or None (after removing the run's files for
    --overwrite)."""
    out = args.out
    if os.path.exists(out) and not os.path.isdir(out):
        return f"--out {out} is a file; expected a folder for the run's checkpoint and results"
    checkpoint = io.checkpoint_path(out)
    used = [name for name in (io.CHECKPOINT_NAME, io.LEGACY_CHECKPOINT_NAME, "metrics.json")
            if os.path.isfile(os.path.join(out, name))]
    if args.resume or not used:
        return None
    if not args.overwrite:
        what = "a checkpoint" if os.path.isfile(checkpoint) else "the results of a run"
        return (f"--out {out} already holds {what} ({', '.join(used)}); continue it with "
                f"--resume, replace it with --overwrite, or choose another --out")
    for pattern in RUN_FILES:
        for path in glob.glob(os.path.join(glob.escape(out), pattern)):
            if os.path.isfile(path):
                os.remove(path)
    return None


def run(loop, args, before_run=None):
    """Check --out, resume when asked, run the loop: (steps run now, seconds they took). Every
    documented failure (no checkpoint, a corrupt or foreign one, changed settings or data,
    divergence, an unreadable image) exits with one line; ``before_run()`` is called after a
    resume (to pick up the history).

    Under mpiexec: the trainer's models are wrapped (``trainer.distribute(seed)``), each rank
    reseeds with ``distributed.rank_seed(--seed)``, ``before_run`` runs on rank 0 only, and the
    other ranks end here once training is done (exit 0, or 130 when stopped by a signal)."""
    check_out(args)
    if distributed.is_initialized():
        distribute = getattr(loop.trainer, "distribute", None)
        if distribute is None:
            fail(f"the trainer {type(loop.trainer).__name__} has no distribute(seed); expected a "
                 f"minigan.gans Trainer to run under mpiexec")
        distribute(args.seed)                       # the same weights everywhere, then wrapped
        mg_random.manual_seed(distributed.rank_seed(args.seed))      # each rank its own noise
    loop.allow_reshard = bool(getattr(args, "allow_reshard", False))
    if args.resume:
        try:
            loop.resume()
        except (FileNotFoundError, ValueError, KeyError, io.CheckpointError) as e:
            fail(e)
    if before_run is not None and distributed.is_main_process():
        before_run()
    start_step, start = loop.step, time.perf_counter()
    try:
        loop.run()
    except NonFiniteLossError as e:
        fail(e)                                     # every rank: the losses are averaged
    except (ImageReadError, IdxFormatError) as e:
        message = f"{e} (the last checkpoint is kept: fix or remove the file, then --resume)"
        if distributed.get_world_size() > 1:        # this rank's shard only: end the whole job
            _abort_job(message)
        fail(message)
    if distributed.is_initialized() and not distributed.is_main_process():
        distributed.destroy_process_group()         # rank 0 evaluates and writes; the rest end
        sys.exit(130 if loop.interrupted else 0)
    return loop.step - start_step, time.perf_counter() - start


def _abort_job(message):
    """Print ``error: message`` and abort every rank of the job (a failure of this rank alone,
    which the others would wait for in their next collective)."""
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
    from ..distributed import group
    group._group.abort()


def earlier_history(out, step):
    """The per-epoch records of metrics.json up to ``step`` (what a resumed run continues)."""
    try:
        with open(os.path.join(out, "metrics.json")) as f:
            return [r for r in json.load(f).get("history", []) if r["step"] <= step]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []


def write_progress(args, history, title):
    """metrics.json with the history so far, and the page: what an epoch's end writes."""
    io.save_json(os.path.join(args.out, "metrics.json"), {"history": history})
    report.write_run_page(args.out, title, {"history": history})


def finish(loop, args, metrics, title):
    """Write metrics.json and index.html; exit 130 when a signal stopped the run. Under mpiexec
    (rank 0 alone gets here) the process group is destroyed."""
    io.save_json(os.path.join(args.out, "metrics.json"), metrics)
    report.write_run_page(args.out, title, metrics)
    if distributed.is_initialized():
        distributed.destroy_process_group()
    if loop.interrupted:
        sys.exit(130)
    return metrics


# ---------------------------------------------------------------- --eval-inception
def add_inception_arguments(parser, samples, what):
    """--eval-inception FILE and --inception-samples N (default ``samples``); ``what`` names the
    images compared, for the help."""
    parser.add_argument("--eval-inception", metavar="FILE", default=None,
                        help=f"at the end, also FID and KID on Inception-v3 pool3 features (the "
                             f"weights file of docs/metrics.md) of {what}; about 0.1-0.4 s an "
                             f"image on CPU")
    parser.add_argument("--inception-samples", metavar="N", type=int, default=samples,
                        help=f"with --eval-inception: images per set (default {samples})")


def inception_model(args, device):
    """The network --eval-inception names, loaded before training (a missing or wrong file stops
    the run at once, in one line); None without the flag and on ranks other than 0."""
    if args.eval_inception is None or not is_main_process():
        return None
    if args.inception_samples < 2:
        fail(f"--inception-samples must be at least 2 (a covariance), got "
             f"{args.inception_samples}")
    try:
        return load_inception(args.eval_inception, device)
    except (OSError, ValueError) as e:
        fail(f"--eval-inception: {e}")


def inception_scores(model, real, fake, args, what):
    """FID and KID (``minigan.metrics.fid_and_kid``) of the first --inception-samples of ``fake``
    against as many of ``real``, images (N, C, H, W) in [-1, 1]; prints one line and returns the
    scores for metrics.json ({} without --eval-inception)."""
    if model is None:
        return {}
    n = args.inception_samples
    scores = fid_and_kid(real[:n], fake[:n], model, progress=not args.no_progress)
    print(f"{what}: Inception FID {scores['fid']:.2f}, KID {scores['kid']:.4f} "
          f"({scores['fake_images']} generated vs {scores['real_images']} real images)")
    return scores


# ---------------------------------------------------------------- --test (translation examples)
def add_test_arguments(parser, results_default):
    parser.add_argument("--test", metavar="FOLDER", default=None,
                        help="translate the images in FOLDER with the run in --out (no training)")
    parser.add_argument("--results", default=None,
                        help=f"with --test: where to write (default {results_default})")
    parser.add_argument("--epoch", default="latest",
                        help="with --test: the checkpoint to use: 'latest' or an epoch number "
                             "kept by --save-epoch-freq")


def test_checkpoint(args):
    """The checkpoint --test reads (``--epoch``), loaded, or a one-line error."""
    if args.epoch == "latest":
        path = io.checkpoint_path(args.out)
    else:
        try:
            number = int(args.epoch)
        except ValueError:
            fail(f"--epoch: expected 'latest' or an epoch number, got {args.epoch!r}")
        path = os.path.join(args.out, f"checkpoint_epoch{number:03d}.safetensors")
        if not os.path.isfile(path) and os.path.isfile(path[:-len(".safetensors")] + ".npz"):
            path = path[:-len(".safetensors")] + ".npz"                  # a minigan 0.1 run
        if not os.path.isfile(path):
            kept = sorted(os.path.basename(p) for pattern in ("*.safetensors", "*.npz") for p in
                          glob.glob(os.path.join(glob.escape(args.out),
                                                 "checkpoint_epoch" + pattern)))
            fail(f"--epoch {args.epoch}: no {path} (kept: {', '.join(kept) or 'none'}; train "
                 f"with --save-epoch-freq to keep epochs)")
    if not os.path.isfile(path):
        fail(f"--test needs a trained model: no checkpoint at {path} (train first, or point "
             f"--out at the run's folder)")
    try:
        state = io.load_checkpoint(path)
        config, trainer = state["loop"]["config"], state["trainer"]
    except io.CheckpointError as e:
        fail(e)
    except (KeyError, TypeError) as e:
        fail(f"{path} is not a checkpoint of a training run (no {e})")
    if not isinstance(config, dict) or not isinstance(trainer, dict):
        fail(f"{path} is not a checkpoint of a training run")
    return path, state


def load_net(net, saved, path, name):
    """Load one network of a --test checkpoint; a one-line error when it does not fit."""
    from .base import _check_net
    try:
        _check_net(f"{path}: {name}", net.state_dict(), saved)
        net.load_state_dict(saved)
    except (ValueError, KeyError, TypeError) as e:
        fail(f"{e} (a checkpoint of another model?)")
    return net


def config_value(config, key, path):
    try:
        return config[key]
    except KeyError:
        fail(f"{path} is not a checkpoint of this example (its config has no {key!r})")


def translate_images(translate, args, size, channels, device, multiple, minimum, title):
    """--test's work: translate the folder, write the input | output page; one-line errors."""
    from .translation import translate_folder
    preprocess = "none" if args.preprocess == "none" else "resize"
    try:
        pairs = translate_folder(translate, args.test, args.results, size, channels, device,
                                 preprocess=preprocess, multiple=multiple, minimum=minimum,
                                 skip_bad=args.skip_bad_images)
    except (OSError, ValueError) as e:
        fail(e)
    page = report.write_test_page(args.results, pairs, title)
    return pairs, page
