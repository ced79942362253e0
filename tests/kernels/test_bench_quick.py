"""bench/kernels.py --quick runs end to end and writes the full table (a smoke test: no timing asserted)."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_kernel_bench_quick_writes_every_row(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "kernels.md"
    subprocess.run([sys.executable, str(ROOT / "bench" / "kernels.py"), "--quick", "--out", str(out)],
                   check=True, capture_output=True, timeout=300)
    text = out.read_text()
    for row in ("conv 3->64 k4 s2 p1", "convT 100->512 k4 s1 p0", "conv 64->3 k7 s1 p3", "DCGAN total",
                "CycleGAN total", "BatchNorm2d", "InstanceNorm2d", "LeakyReLU", "BCEWithLogits"):
        assert row in text
    assert "OPENBLAS_CORETYPE" in text
