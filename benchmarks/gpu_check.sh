#!/usr/bin/env bash
# Everything issue 8 asks of a GPU, in one go. Phase time limits add up to 570 s, so
# one run fits a 10-minute command; not yet run on a GPU, so they are estimates:
#
#   1. parity: the op registry (float64 gradcheck, torch parity, second derivatives),
#      every op against the CPU (relative error <= 1e-10, tests/test_device_parity.py),
#      the nn/optim device tests (training like torch, Module.to, optimizer state,
#      nn.load map_location, PyTorch's mixed-device error) and, after a warm-up step,
#      cupyx.allow_synchronize(False) around whole training steps of five models;
#   2. train: `chaingrad train --device cuda` against the CPU, seed 0 (digits MLP and
#      CNN: final test accuracy; the language model: validation loss);
#   3. bench: benchmarks/gpu_step.py (MLP 784-256-256-10 b128, wide MLP
#      4096-4096-4096-10 b1024, CNN) against torch CUDA, synchronised, into RESULTS.md.
#
# Needs an NVIDIA GPU, CuPy (pip install "chaingrad[gpu]"), a CUDA build of torch,
# pytest, pytest-xdist, hypothesis and scikit-learn. Runs from the working tree
# (PYTHONPATH), so nothing needs installing. Each phase runs even if one before it
# failed; the exit status is 1 if any failed.
#
#   bash benchmarks/gpu_check.sh [OUTDIR]     # default: $OUT if set, else runs/gpu-check
#   GPU_CHECK_PHASES="train bench" bash benchmarks/gpu_check.sh   # rerun only some phases
#
# OUTDIR gets at most 8 files: env.txt, parity.log, parity.tsv (op, worst relative
# error vs the CPU), train.log, bench.log, RESULTS.md (with the gpu_step section),
# summary.txt.
#
# A dry run of the script itself where there is no GPU (it checks the plumbing, not
# a device): GPU_CHECK_DEVICE=cpu GPU_CHECK_QUICK=1 bash benchmarks/gpu_check.sh /tmp/x
set -u -o pipefail
cd "$(dirname "$0")/.."
out=${1:-${OUT:-runs/gpu-check}}
mkdir -p "$out"
export py=${PYTHON:-python3} device=${GPU_CHECK_DEVICE:-cuda} quick=${GPU_CHECK_QUICK:-}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
work=$(mktemp -d)
export work
failed=()
phases=" ${GPU_CHECK_PHASES:-parity train bench} "
if [ -n "$quick" ]; then  # the dry run: a few tests, short runs, tiny benchmarks
    select=(-k "relu or linear or unbind" -n 2)
    epochs=(--epochs 2) cnn_epochs=(--epochs 1) lm_steps=(--steps 20 --eval-every 10)
    bench=(--quick --no-write)
else
    select=(-n 8)
    epochs=() cnn_epochs=(--epochs 20) lm_steps=(--steps 200 --eval-every 100)
    bench=()
fi
export epochs_arg="${epochs[*]}" cnn_arg="${cnn_epochs[*]}" lm_arg="${lm_steps[*]}"

phase() {  # phase NAME SECONDS COMMAND...: run it with a time limit, log to OUTDIR/NAME.log
    local name=$1 limit=$2 start rc
    shift 2
    if [[ $phases != *" $name "* ]]; then
        echo "=== $name: not in GPU_CHECK_PHASES, skipped"
        return
    fi
    echo "=== $name (limit ${limit} s)"
    start=$(date +%s)
    timeout "$limit" "$@" >"$out/$name.log" 2>&1
    rc=$?
    echo "--- $name: exit $rc after $(($(date +%s) - start)) s"
    tail -n 30 "$out/$name.log"
    [ "$rc" -eq 0 ] || failed+=("$name (exit $rc)")
}

{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
    "$py" - <<'EOF'
import platform, numpy, autograd
print("python", platform.python_version(), "numpy", numpy.__version__)
for name in ("cupy", "torch", "pytest", "hypothesis", "sklearn"):
    try:
        print(name, __import__(name).__version__)
    except ImportError as err:
        print(name, "MISSING:", err)
print("autograd.cuda.is_available():", autograd.cuda.is_available(),
      "device_count:", autograd.cuda.device_count())
import torch
print("torch.cuda.is_available():", torch.cuda.is_available(),
      "allow_tf32:", torch.backends.cuda.matmul.allow_tf32)
EOF
} >"$out/env.txt" 2>&1
cat "$out/env.txt"

# --- 1. parity on cuda --------------------------------------------------------------
rm -f "$out/parity.tsv"
phase parity 270 env CHAINGRAD_TEST_DEVICE="$device" CHAINGRAD_PARITY_LOG="$out/parity.tsv" \
    "$py" -m pytest -q -p no:cacheprovider "${select[@]}" -x \
    tests/test_ops_gradcheck.py tests/test_ops_torch.py tests/test_higher_order.py \
    tests/test_device_parity.py tests/nn/test_devices.py tests/optim/test_optimizers.py \
    tests/test_backend_seam.py
if [ -s "$out/parity.tsv" ]; then
    echo "worst relative errors of cuda vs the CPU (float64; limit 1e-10):"
    sort -t$'\t' -k2 -g "$out/parity.tsv" | awk -F'\t' '{w[$1]=$2} END {for (k in w) print w[k]"\t"k}' \
        | sort -g | tail -n 8
fi

# --- 2. chaingrad train --device cuda vs cpu -------------------------------------------
train_pair() {  # train_pair NAME ARGS...: the same run on cpu and on cuda, compared
    set -o pipefail
    local name=$1
    shift
    for where in cpu "$device"; do
        "$py" -m autograd train --no-progress --seed 0 --device "$where" \
            --out "$work/$name-$where" "$@" | tail -n 3 || return 1
    done
    "$py" - "$work/$name-cpu/metrics.json" "$work/$name-$device/metrics.json" "$name" <<'EOF'
import json, sys
cpu, gpu = (json.load(open(p)) for p in sys.argv[1:3])
name = sys.argv[3]
if cpu.get("task") == "lm":
    a, b = cpu["final_val_loss"], gpu["final_val_loss"]
    print(f"RESULT {name}: validation loss cpu {a:.4f} / cuda {b:.4f} nats/char; "
          f"seconds cpu {cpu['seconds']} / cuda {gpu['seconds']}")
else:
    a, b = cpu["history"]["test_accuracy"][-1], gpu["history"]["test_accuracy"][-1]
    same = "same" if a == b else "DIFFERENT"
    print(f"RESULT {name}: test accuracy cpu {a:.4%} / cuda {b:.4%} ({same}); "
          f"train loss cpu {cpu['history']['train_loss'][-1]:.6f} / "
          f"cuda {gpu['history']['train_loss'][-1]:.6f}; "
          f"device {gpu['config']['device']}")
    sys.exit(0 if a == b else 3)
EOF
}
train_all() {
    local rc=0
    # shellcheck disable=SC2086  (the option lists split into words on purpose)
    train_pair digits-mlp $epochs_arg || rc=1
    train_pair digits-cnn --model cnn $cnn_arg || rc=1
    train_pair lm --task lm $lm_arg || rc=1
    return $rc
}
export -f train_pair train_all
phase train 190 bash -c train_all
grep -hs '^RESULT' "$out/train.log"

# --- 3. benchmarks -----------------------------------------------------------------
phase bench 110 "$py" benchmarks/run.py gpu_step "${bench[@]}"
cp benchmarks/RESULTS.md "$out/RESULTS.md"

{
    echo "gpu_check.sh finished $(date -u)"
    head -n 3 "$out/env.txt" | tail -n 2
    grep -hs '^RESULT' "$out/train.log"
    grep -sE 'passed|failed|error' "$out/parity.log" | tail -n 3
    grep -sE 'ms/step|\] ' "$out/bench.log"
    if [ ${#failed[@]} -gt 0 ]; then echo "FAILED: ${failed[*]}"; else echo "all phases passed"; fi
} >"$out/summary.txt"
cat "$out/summary.txt"
rm -rf "$work"
[ ${#failed[@]} -eq 0 ]
