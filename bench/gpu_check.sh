#!/usr/bin/env bash
# The GPU verification of issue 15 in one run, from the repository root on a machine with an NVIDIA GPU:
#
#     bash bench/gpu_check.sh            # report: ${OUT:-/tmp}/gpu_report.txt (key lines on stdout too)
#
# Steps, each under its own timeout, each run whatever happened before (rc and seconds recorded):
#   1. versions: nvidia-smi, Python, CuPy (installed with pip if it does not import), torch, cuDNN;
#   2. the gpu-marked tests: python3 -m pytest -m gpu tests/ (all failures listed, one line each);
#   3. bench/gpu.py: each kernel against torch + cuDNN, torch in its own process, ratios and a
#      correctness check per row;
#   4. a dropout micro-benchmark (the mask drawn on the device);
#   5. bench/train_step.py --device cuda: whole DCGAN and CycleGAN steps, torch in its own process;
#   6. bench/gpu_profile.py: where the CycleGAN 256 step's host time goes.
# The whole run stays under BUDGET seconds (default 360): a step gets what is left, less a reserve.
set -u -o pipefail

BUDGET=${BUDGET:-360}
OUT_DIR=${OUT:-/tmp}
REPORT="$OUT_DIR/gpu_report.txt"
WORK=$(mktemp -d)
mkdir -p "$OUT_DIR"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 HYPOTHESIS_PROFILE=${HYPOTHESIS_PROFILE:-ci}
PY=${PYTHON:-python3}
declare -a SUMMARY=()

say() { echo "$*" | tee -a "$REPORT"; }
section() { { echo; echo "==================== $* ===================="; } | tee -a "$REPORT"; }

# step NAME SECONDS CMD...: run CMD under timeout (SIGINT first, so pytest still prints its summary),
# keep its output in $WORK/NAME.log, record rc and wall time. Returns CMD's rc.
step() {
    local name=$1 limit=$2; shift 2
    local left=$((BUDGET - SECONDS - 10))
    (( limit > left )) && limit=$left
    if (( limit < 5 )); then
        SUMMARY+=("$name: skipped, no time left")
        echo "skipped: no time left in the ${BUDGET}s budget" > "$WORK/$name.log"
        return 124
    fi
    local start=$SECONDS rc
    timeout -s INT -k 15 "$limit" "$@" > "$WORK/$name.log" 2>&1
    rc=$?
    local note=""
    (( rc == 124 || rc == 137 )) && note=" (TIMED OUT after ${limit}s)"
    SUMMARY+=("$name: rc=$rc in $((SECONDS - start))s$note")
    return $rc
}

: > "$REPORT"
say "minigan GPU check (issue 15): $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
if git rev-parse --short HEAD > /dev/null 2>&1; then
    say "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- minigan bench tests || echo ' + uncommitted changes')"
fi

# ---------------------------------------------------------------------------------------- 1. versions
section "1. versions"
if ! $PY -c "import cupy" > /dev/null 2>&1; then
    if [[ -n "${NO_PIP:-}" ]]; then
        say "CuPy does not import (NO_PIP set: not installing)"
    else
        say "CuPy does not import; trying: pip install cupy-cuda13x"
        step pip_install_cupy 90 $PY -m pip install -q cupy-cuda13x
        tail -n 5 "$WORK/pip_install_cupy.log" | tee -a "$REPORT"
    fi
fi
step nvidia_smi 20 bash -c 'nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,clocks.max.sm \
    --format=csv; nvidia-smi | grep -m 1 "CUDA Version"'
step versions 60 $PY - <<'EOF'
import platform, sys
print("python", platform.python_version(), sys.executable)
import numpy, numba
print("numpy", numpy.__version__, "| numba", numba.__version__)
try:
    import cupy as cp
    dev = cp.cuda.Device()
    props = cp.cuda.runtime.getDeviceProperties(dev.id)
    print("cupy", cp.__version__, "| CUDA runtime", cp.cuda.runtime.runtimeGetVersion(),
          "| driver", cp.cuda.runtime.driverGetVersion(), "| NVRTC", cp.cuda.nvrtc.getVersion())
    print("device", props["name"].decode(), "| SMs", props["multiProcessorCount"], "| compute capability",
          dev.compute_capability, "| shared memory per block", props["sharedMemPerBlock"])
except Exception as e:
    print("cupy: FAILED", type(e).__name__, e)
from minigan import backend
print("minigan sees a GPU:", backend.gpu_available())
EOF
step torch_version 60 $PY -c "import torch; print('torch', torch.__version__, '| CUDA', torch.version.cuda,
    '| cuDNN', torch.backends.cudnn.version(), '| cuda available', torch.cuda.is_available())"
cat "$WORK/nvidia_smi.log" "$WORK/versions.log" "$WORK/torch_version.log" | tee -a "$REPORT"

# ------------------------------------------------------------------------------- 2. gpu-marked tests
section "2. python3 -m pytest -m gpu tests/"
step pytest 150 $PY -m pytest -m gpu tests/ -vv -rfE --tb=line -p no:cacheprovider --durations=10 -W ignore::DeprecationWarning
PYTEST_RC=$?
{
    echo "--- every test that did not pass:"
    grep -E ' (FAILED|ERROR|XFAIL|XPASS)( |$)' "$WORK/pytest.log" | grep -v '^FAILED\|^ERROR' | head -n 60
    echo "--- output tail:"
    tail -n 60 "$WORK/pytest.log"
} >> "$REPORT"
echo "pytest rc=$PYTEST_RC; $(grep -E '^=+ .* in [0-9.]+s.* =+$' "$WORK/pytest.log" | tail -n 1)"
grep -E '^(FAILED|ERROR) ' "$WORK/pytest.log" | head -n 20

# ------------------------------------------------------------------------------------- 3. bench/gpu.py
section "3. python3 bench/gpu.py (kernels vs torch + cuDNN, torch in its own process)"
step gpu_bench 110 $PY bench/gpu.py --repeats 15 --warmup 3 --steps 10 --out "$WORK/gpu.md"
if [[ -s "$WORK/gpu.md" ]]; then
    cat "$WORK/gpu.md" >> "$REPORT"
    grep -E '^- ' "$WORK/gpu.md"
fi
echo "--- bench/gpu.py progress and errors (both processes):" >> "$REPORT"
sed '/^# GPU benchmark/,$d' "$WORK/gpu_bench.log" | tail -n 80 >> "$REPORT"

# --------------------------------------------------------------------------- 4. dropout micro-benchmark
section "4. dropout on the GPU (mask drawn on the device)"
step dropout 30 $PY - <<'EOF'
import statistics, time
import minigan as mg
import minigan.nn.functional as F
from minigan.backend import cp
x = mg.randn(64, 512, 8, 8, device="cuda")
y = F.dropout(x, 0.5)
kept = float((y.data != 0).mean())
print(f"dropout(0.5) on {x.shape}: kept {kept:.4f} of the elements (expect ~0.5)")
times = []
for i in range(60):
    cp.cuda.Device().synchronize()
    t = time.perf_counter()
    F.dropout(x, 0.5)
    cp.cuda.Device().synchronize()
    if i >= 10:
        times.append(time.perf_counter() - t)
mul = []
for i in range(60):
    cp.cuda.Device().synchronize()
    t = time.perf_counter()
    x * 2.0
    cp.cuda.Device().synchronize()
    if i >= 10:
        mul.append(time.perf_counter() - t)
print(f"dropout median {statistics.median(times) * 1e3:.3f} ms; one multiply on the same tensor "
      f"{statistics.median(mul) * 1e3:.3f} ms (the Philox generator is built per call)")
EOF
cat "$WORK/dropout.log" | tee -a "$REPORT"

# -------------------------------------------------------------------------------- 5. training steps
section "5. python3 bench/train_step.py --device cuda --cases dcgan,cyclegan_64,cyclegan_256"
step train_step 120 $PY bench/train_step.py --device cuda --cases dcgan,cyclegan_64,cyclegan_256 \
    --out "$WORK/train_step.md"
cat "$WORK/train_step.log" | tee -a "$REPORT" | grep -E 'ratio|failed|Error' | head -n 10

# ------------------------------------------------------------------ 6. where a CycleGAN 256 step goes
section "6. python3 bench/gpu_profile.py --device cuda --case cyclegan_256 (host time by function)"
step profile 60 $PY bench/gpu_profile.py --device cuda --case cyclegan_256 --steps 3 --top 20
head -n 45 "$WORK/profile.log" | tee -a "$REPORT"

# ------------------------------------------------------------------------------------------- summary
section "summary (${SECONDS}s in all)"
for line in "${SUMMARY[@]}"; do say "$line"; done
say "pytest: $(grep -E '^=+ .* in [0-9.]+s.* =+$' "$WORK/pytest.log" | tail -n 1)"
say "report: $REPORT"
rm -rf "$WORK"
