"""bench/kernels.py --quick runs end to end and writes the full table (a smoke test: no timing asserted)."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_kernel_bench_quick_writes_every_row(tmp_path):
    """bench/kernels.py runs each framework in a worker process of its own (the other not imported),
    compares their outputs and gradients, and writes every row."""
    pytest.importorskip("torch")
    out = tmp_path / "kernels.md"
    subprocess.run([sys.executable, str(ROOT / "bench" / "kernels.py"), "--quick", "--setting", "detected",
                    "--out", str(out)], check=True, capture_output=True, timeout=300)
    text = out.read_text()
    for row in ("conv 3->64 k4 s2 p1", "convT 100->512 k4 s1 p0", "conv 64->3 k7 s1 p3", "DCGAN total",
                "CycleGAN total", "CycleGAN-64 total", "BatchNorm2d", "InstanceNorm2d", "LeakyReLU",
                "BCEWithLogits", "ReflectionPad2d"):
        assert row in text
    assert "OPENBLAS_CORETYPE unset" in text and "the other not imported" in text
    assert "MISMATCH" not in text and "ERROR" not in text


def test_gpu_bench_plumbing_on_the_cpu(tmp_path):
    """bench/gpu.py's two processes (minigan here, torch in its worker) and its correctness probe, run
    on the CPU (--device cpu exists for this test): every row compared, and the frameworks agree."""
    pytest.importorskip("torch")
    out = tmp_path / "gpu.md"
    subprocess.run([sys.executable, str(ROOT / "bench" / "gpu.py"), "--quick", "--device", "cpu", "--out", str(out)],
                   check=True, capture_output=True, timeout=300)
    text = out.read_text()
    checked = [line for line in text.splitlines() if re.match(r"\| (?!group|train step|---)", line)]
    assert f"- check: {len(checked)} rows compared" in text and len(checked) >= 29     # every kernel row
    assert "0 MISMATCH" in text and "ERROR" not in text
    assert "| train step | DCGAN (G + D, Adam) |" in text


def test_train_step_bench_runs_torch_without_minigan(tmp_path):
    """bench/train_step.py's torch worker builds its networks from the minigan worker's saved weights
    (strict load) and never imports minigan."""
    pytest.importorskip("torch")
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import train_step
    finally:
        sys.path.remove(str(ROOT / "bench"))
    case = train_step.QUICK["cyclegan_64"]
    weights = str(tmp_path / "w.npz")
    train_step.measure("minigan", "cyclegan_64", case, "cpu", 1, 0, weights)
    code = ("import sys, json; sys.argv = ['x']; sys.path.insert(0, %r); import train_step; "
            "train_step.worker('torch', json.loads(%r), 'cpu', 1, 0, %r); "
            "assert not [m for m in sys.modules if m.startswith('minigan')], 'minigan imported'"
            % (str(ROOT / "bench"), train_step.json.dumps(case), weights))
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=300)
