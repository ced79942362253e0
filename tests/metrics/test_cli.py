"""``python -m minigan.metrics``: FID (and KID, IS) between statistics files, ``--save-stats``, and
one-line errors with exit status 2 for bad flags, paths and files. (The Inception's way through
the command, with a weights file, is in test_inception_pipeline.py.)"""
import re
import subprocess
import sys

import numpy as np
import pytest

from minigan.metrics import (frechet_distance, gaussian_statistics, kid_from_features,
                             save_statistics)
from minigan.metrics.__main__ import main


@pytest.fixture
def stats_files(tmp_path):
    """Two statistics files of 8-d features that also hold the features (as the cache does)."""
    rng = np.random.default_rng(0)
    paths = []
    for name, shift in (("a", 0.0), ("b", 0.3)):
        features = rng.random((40, 8)) + shift
        path = tmp_path / f"{name}.safetensors"
        save_statistics(path, *gaussian_statistics(features), features=features)
        paths.append((str(path), features))
    return paths


def run_main(argv, capsys):
    """(exit status, stdout, stderr) of the command run in this process."""
    try:
        main(argv)
        status = 0
    except SystemExit as e:
        status = e.code
    out, err = capsys.readouterr()
    return status, out, err


def test_fid_and_kid_between_statistics_files(stats_files, capsys):
    (a, fa), (b, fb) = stats_files
    status, out, _ = run_main(["fid", a, b, "--kid", "--kid-subsets", "5",
                               "--kid-subset-size", "20", "--is"], capsys)
    assert status == 0
    lines = out.splitlines()
    expected = frechet_distance(*gaussian_statistics(fa), *gaussian_statistics(fb))
    assert lines[0] == f"FID: {expected:.6f}"
    kid = kid_from_features(fa, fb, subsets=5, subset_size=20)
    assert lines[1] == f"KID: {kid[0]:.6g} ± {kid[1]:.6g} (5 subsets of 20)"
    assert lines[2] == f"IS ({a}): none (a statistics file holds no logits)"


def test_save_stats_copies_and_then_refuses_to_overwrite(stats_files, tmp_path, capsys):
    (a, fa), _ = stats_files
    out_file = str(tmp_path / "copy.safetensors")
    status, out, _ = run_main(["fid", a, "--save-stats", out_file], capsys)
    assert status == 0 and "saved the statistics of" in out
    status, out, _ = run_main(["fid", out_file, a], capsys)
    assert status == 0 and float(out.split()[1]) == pytest.approx(0, abs=1e-9)
    status, _, err = run_main(["fid", a, "--save-stats", out_file], capsys)
    assert status == 2 and "the file exists" in err


@pytest.mark.parametrize("argv, message", [
    ([], "give a command"),
    (["fid", "A_MISSING"], "give PATH_B, or --save-stats"),
    (["fid", "A_MISSING", "B"], "no such folder or statistics file: A_MISSING"),
    (["fid", "A", "B", "--batch-size", "0"], "--batch-size: expected a positive integer, got 0"),
    (["fid", "A", "B", "--bogus"], "unrecognized arguments: --bogus"),
    (["fid", "A", "B", "--kid", "--kid-subset-size", "100"],
     "--kid-subset-size 100 is more than the images there are .40 and 40.; use "
     "--kid-subset-size 40 or less"),
    (["fid", "A", "ODD"], "a.safetensors has 8-d features and .*odd.safetensors 3-d"),
    (["fid", "A", "JUNK"], "cannot read statistics file"),
    (["fid", "PLAIN", "A", "--kid"], "holds statistics .mu, sigma. only; KID needs the features"),
])
def test_bad_invocations_are_one_line_with_status_2(stats_files, tmp_path, capsys, argv,
                                                    message):
    (a, _), (b, _) = stats_files
    save_statistics(tmp_path / "odd.safetensors", np.zeros(3), np.eye(3))
    save_statistics(tmp_path / "plain.safetensors", np.zeros(8), np.eye(8))
    (tmp_path / "junk.safetensors").write_bytes(b"junk" * 10)
    names = {"A": a, "B": b, "ODD": str(tmp_path / "odd.safetensors"),
             "JUNK": str(tmp_path / "junk.safetensors"),
             "PLAIN": str(tmp_path / "plain.safetensors")}
    status, out, err = run_main([names.get(x, x) for x in argv], capsys)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert re.search(message, err), err


def test_module_runs_as_a_command_without_a_traceback(tmp_path):
    done = subprocess.run([sys.executable, "-m", "minigan.metrics", "fid", str(tmp_path / "x"),
                           str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == f"error: fid: no such folder or statistics file: {tmp_path / 'x'}\n"
