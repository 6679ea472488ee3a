#!/usr/bin/env bash
# One short (< 8 min) check of dcpt on a lent GPU; never part of tests or CI.
#
#   bash benchmarks/gpu_check.sh            # figures into $OUT if set, else ./gpu-check
#
# Runs (limits add up to 7 min 40 s), each with its own time limit so that one slow part cannot eat the others' time:
#   1. synthesis throughput on the GPU (degrade_throughput.py --device cuda) and its HBM fraction;
#   2. the step-time benchmark (step_time.py, with --device cuda when it offers that flag);
#   3. the data-wait benchmark (data_wait.py) when it exists;
#   4. inference against the release (inference_vs_release.py --device cuda, bf16 included);
#   5. a bf16 training step's TFLOP/s as a fraction of the chip's peak (gpu_peak.py step);
#   6. a 1-GPU NCCL torchrun smoke: a few steps of the demo pre-training config.
# Writes one JSON of figures, $OUT/gpu_check.json, plus each part's log. Fails fast without CUDA.
set -uo pipefail

cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python
OUT_DIR=${OUT:-./gpu-check}
mkdir -p "$OUT_DIR"

if ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "gpu_check.sh: no CUDA device visible to PyTorch (torch.cuda.is_available() is False); nothing run" >&2
    exit 1
fi
"$PY" -c "import torch; print('device:', torch.cuda.get_device_name(), '| torch', torch.__version__)"

STATUS=0
part() {  # part NAME SECONDS CMD...: run CMD with a time limit, log to $OUT_DIR/NAME.log
    local name=$1 limit=$2
    shift 2
    echo "== $name (limit ${limit}s): $*"
    local start=$SECONDS
    timeout "$limit" "$@" >"$OUT_DIR/$name.log" 2>&1
    local rc=$?
    tail -n 15 "$OUT_DIR/$name.log"
    echo "== $name: exit $rc after $((SECONDS - start)) s"
    [ $rc -eq 0 ] || STATUS=1
    printf '{"exit": %d, "seconds": %d}\n' "$rc" "$((SECONDS - start))" >"$OUT_DIR/$name.status.json"
}
has_flag() { "$PY" "$1" --help 2>/dev/null | grep -q -- "$2"; }

# 1. synthesis (memory-bound) and its fraction of HBM bandwidth
SYNTH=(benchmarks/degrade_throughput.py --device cuda --batch 16 --size 256 --repeats 3)
has_flag benchmarks/degrade_throughput.py --json && SYNTH+=(--json "$OUT_DIR/degrade_throughput.json")
part degrade_throughput 90 "$PY" "${SYNTH[@]}"
part synthesis_hbm 20 "$PY" benchmarks/gpu_peak.py synthesis --log "$OUT_DIR/degrade_throughput.log" \
    --batch 16 --size 256 --json "$OUT_DIR/synthesis_hbm.json"

# 2. step time (flags probed: another helper may have added --device / --json)
STEP=(benchmarks/step_time.py --steps 10 --warmup 3)
has_flag benchmarks/step_time.py --device && STEP+=(--device cuda)
has_flag benchmarks/step_time.py --json && STEP+=(--json "$OUT_DIR/step_time.json")
part step_time 75 "$PY" "${STEP[@]}"

# 3. data wait, if present
if [ -f benchmarks/data_wait.py ]; then
    WAIT=(benchmarks/data_wait.py)
    has_flag benchmarks/data_wait.py --device && WAIT+=(--device cuda)
    has_flag benchmarks/data_wait.py --json && WAIT+=(--json "$OUT_DIR/data_wait.json")
    part data_wait 45 "$PY" "${WAIT[@]}"
else
    echo "== data_wait: benchmarks/data_wait.py not present, skipped"
fi

# 4. inference against the release on the GPU, bf16 included (release rows need DCPT_RELEASE_DIR)
part inference_vs_release 150 "$PY" benchmarks/inference_vs_release.py --device cuda --size 1024 --tile 512 \
    --overlap 32 --rounds 1 --json "$OUT_DIR/inference_vs_release.json"

# 5. fraction of the chip's bf16 peak for a training step (FLOPs counted by FlopCounterMode)
part step_peak 45 "$PY" benchmarks/gpu_peak.py step --model nafnet-w16-28 --batch 16 --patch 128 --steps 20 \
    --json "$OUT_DIR/step_peak.json"

# 6. 1-GPU NCCL torchrun smoke: a few steps of the demo config (the engine picks nccl on CUDA)
TORCHRUN=$(dirname "$PY")/torchrun
[ -x "$TORCHRUN" ] || TORCHRUN=torchrun
rm -rf "$OUT_DIR/torchrun-smoke"
part torchrun_nccl 75 "$TORCHRUN" --standalone --nproc_per_node 1 -m dcpt pretrain configs/demo-pretrain-dcpt.yaml \
    --out "$OUT_DIR/torchrun-smoke" --set train.steps=6 --set train.device=cuda --set train.log_every=2 \
    --set train.val_every=0 --set train.ckpt_every=0
if [ -f "$OUT_DIR/torchrun-smoke/metrics.jsonl" ]; then
    cp "$OUT_DIR/torchrun-smoke/metrics.jsonl" "$OUT_DIR/torchrun_metrics.jsonl"
fi
grep -qi "nccl" "$OUT_DIR/torchrun_nccl.log" && echo "torchrun smoke: the log mentions NCCL"

rm -f "$OUT_DIR/gpu_check.json"
"$PY" benchmarks/gpu_peak.py merge --out "$OUT_DIR/gpu_check.json" "$OUT_DIR"/*.json
exit $STATUS
