"""The metrics from the command line, as pytorch-fid's and torch-fidelity's:

    python -m minigan.metrics fid real/ fake/ --weights pt_inception.safetensors
    python -m minigan.metrics fid real/ fake/ --kid --is               # also KID, and IS of each
    python -m minigan.metrics fid real/ --save-stats real.safetensors  # pytorch-fid's --save-stats
    python -m minigan.metrics fid real.safetensors fake/               # saved statistics as a side

Either path may be a folder of images or a statistics file (``--save-stats``'s safetensors, or a
pytorch-fid ``.npz``). Folder statistics are cached (``$MINIGAN_CACHE`` or ~/.cache/minigan, in
fid-stats/; ``--no-cache`` turns it off). The Inception weights: ``--weights``, else
``$MINIGAN_INCEPTION_WEIGHTS``, else ~/.cache/minigan/pt_inception-2015-12-05-6726825d.safetensors
(docs/metrics.md says how to get and convert them). Results go to stdout, one per line; a bad
flag, path or file gives one line on stderr and exit status 2.
"""
import argparse
import os
import sys

from ..backend import parse_device
from .frechet import frechet_distance
from .inception_score import inception_score_from_logits
from .kid import kid_from_features
from .scores import Extractor
from .statistics import save_statistics

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line: ``error: ...`` (no usage block), status 2."""

    def error(self, message):
        fail(f"{self.prog}: {message}")


def fail(message):
    sys.stderr.write(f"error: {message}\n")
    sys.exit(EXIT_USAGE)


def positive(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def parser():
    p = _Parser(prog="python -m minigan.metrics", description=__doc__.split("\n")[0])
    commands = p.add_subparsers(dest="command", metavar="fid", parser_class=_Parser)
    f = commands.add_parser("fid", help="FID (and KID, IS) between two folders or statistics")
    f.add_argument("path_a", metavar="PATH_A", help="folder of images or statistics file")
    f.add_argument("path_b", metavar="PATH_B", nargs="?", default=None,
                   help="folder of images or statistics file (optional with --save-stats)")
    f.add_argument("--weights", metavar="FILE", default=None,
                   help="the Inception weights (safetensors)")
    f.add_argument("--kid", action="store_true", help="also the kernel Inception distance")
    f.add_argument("--is", dest="inception_score", action="store_true",
                   help="also the Inception score of each path that holds images")
    f.add_argument("--batch-size", metavar="N", type=positive, default=50,
                   help="images per forward pass (50)")
    f.add_argument("--save-stats", metavar="OUT", default=None,
                   help="write PATH_A's statistics (mu, sigma) to OUT (safetensors)")
    f.add_argument("--kid-subsets", metavar="N", type=positive, default=100,
                   help="KID subsets (100)")
    f.add_argument("--kid-subset-size", metavar="N", type=positive, default=1000,
                   help="KID samples per subset (1000; at most the images of each path)")
    f.add_argument("--is-splits", metavar="N", type=positive, default=10, help="IS splits (10)")
    f.add_argument("--device", metavar="DEVICE", default="cpu", help='"cpu", "cuda" or "auto"')
    f.add_argument("--no-cache", action="store_true", help="no folder statistics cache")
    f.add_argument("--skip-bad-images", action="store_true",
                   help="leave out unreadable image files instead of refusing")
    f.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def _needs(args, path):
    needs = ["stats"]
    if args.kid:
        needs.append("features")
    if args.inception_score and os.path.isdir(path):
        needs.append("logits")
    return tuple(needs)


def run(args):
    """Compute and print what ``args`` asks; returns the results as a dict."""
    if args.path_b is None and args.save_stats is None:
        fail("fid: give PATH_B, or --save-stats OUT to only save PATH_A's statistics")
    if args.save_stats is not None and os.path.exists(args.save_stats):
        fail(f"--save-stats {args.save_stats}: the file exists; remove it or choose another name")
    if args.path_b is None and (args.kid or args.inception_score):
        fail("--kid and --is compare PATH_A with PATH_B: give PATH_B")
    paths = [p for p in (args.path_a, args.path_b) if p is not None]
    for path in paths:
        if not os.path.exists(path):
            fail(f"fid: no such folder or statistics file: {path}")
    try:
        parse_device(args.device)
    except (RuntimeError, ValueError) as e:
        fail(f"--device {args.device}: {e}")
    extractor = Extractor(weights=args.weights, batch_size=args.batch_size, device=args.device,
                          cache=False if args.no_cache else None, progress=not args.no_progress,
                          skip_bad=args.skip_bad_images, caller="fid")
    sets = [extractor.collect(p, _needs(args, p), name) for p, name in zip(paths, "AB")]
    check(args, paths, sets)
    results = {}
    if args.save_stats is not None:
        save_statistics(args.save_stats, *sets[0]["stats"])
        print(f"saved the statistics of {args.path_a} ({len(sets[0]['stats'][0])}-d) to "
              f"{args.save_stats}")
    if len(sets) == 2:
        results["fid"] = frechet_distance(*sets[0]["stats"], *sets[1]["stats"])
        print(f"FID: {results['fid']:.6f}")
    if args.kid:
        results["kid"] = kid_from_features(sets[0]["features"], sets[1]["features"],
                                           args.kid_subsets, args.kid_subset_size)
        print(f"KID: {results['kid'][0]:.6g} ± {results['kid'][1]:.6g} ({args.kid_subsets} "
              f"subsets of {args.kid_subset_size})")
    if args.inception_score:
        for path, found in zip(paths, sets):
            if "logits" not in found:
                print(f"IS ({path}): none (a statistics file holds no logits)")
                continue
            score = inception_score_from_logits(found["logits"], args.is_splits)
            results[f"is {path}"] = score
            print(f"IS ({path}): {score[0]:.6g} ± {score[1]:.6g} ({args.is_splits} splits)")
    return results


def check(args, paths, sets):
    """One-line errors, before anything is printed, for sets that cannot give what is asked."""
    if len(sets) == 2 and sets[0]["stats"][0].shape != sets[1]["stats"][0].shape:
        fail(f"fid: {paths[0]} has {len(sets[0]['stats'][0])}-d features and {paths[1]} "
             f"{len(sets[1]['stats'][0])}-d; both must come from the same network")
    if args.kid:
        counts = [len(s["features"]) for s in sets]
        if args.kid_subset_size > min(counts):
            fail(f"--kid-subset-size {args.kid_subset_size} is more than the images there are "
                 f"({counts[0]} and {counts[1]}); use --kid-subset-size {min(counts)} or less")
    for path, found in zip(paths, sets):
        if args.inception_score and "logits" in found and len(found["logits"]) < args.is_splits:
            fail(f"--is-splits {args.is_splits} is more than the {len(found['logits'])} images "
                 f"of {path}; use --is-splits {len(found['logits'])} or less")


def main(argv=None):
    args = parser().parse_args(argv)
    if args.command is None:
        fail("give a command: python -m minigan.metrics fid PATH_A PATH_B [options] (see --help)")
    try:
        return run(args)
    except (OSError, ValueError) as e:        # missing or unreadable files, bad images, weights
        fail(str(e).splitlines()[0] if str(e) else type(e).__name__)


if __name__ == "__main__":
    main()
