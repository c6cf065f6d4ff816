#!/usr/bin/env bash
# Every check that needs a CUDA device, as one run of about 6 minutes:
#   1. the CUDA tests (-m cuda: tests/test_cuda.py, CUDA = CPU, factored = plain, bf16, training,
#      a run; and every shipped scenario on cuda in tests/test_scenarios.py);
#   2. bench_dlrm.py --device cuda: scoring pairs/s (target >= 1e9) and training samples/s
#      against the reference DLRM_Net, plus the closed loop;
#   3. bench_vs_trecs.py --recommender dlrm --device cuda: whole runs against the stored T-RECS
#      measurement (target >= 30x);
#   4. bench_antidote.py --part loop --device cuda: antidote's per-retrain overhead with the DLRM
#      at 10,000 users;
#   5. bench_vs_trecs.py --simlab-only at 1M users x 100k items, 3 steps of the DLRM at its
#      learning defaults: the step time at scale ("seconds" / 3 bounds it from above: building the
#      society is included).
# Each step's output is kept in $OUT (default gpu_results/); the exit status is 1 if any failed.
#
#   OUT=/tmp/gpu bash benchmarks/gpu_checks.sh            # on the GPU machine
#   DEVICE=cpu QUICK=1 bash benchmarks/gpu_checks.sh      # a dry run of the script itself
#
# simlab runs from this checkout (PYTHONPATH); its dependencies must be importable. GPU images
# often lack pydantic: fetch wheels where PyPI is reachable and install them first, e.g.
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#     --platform manylinux_2_17_x86_64 -d .whl pydantic pydantic-core annotated-types typing-inspection
#   python3 -m pip install --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu_results}
DEVICE=${DEVICE:-cuda}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
status=0

step() {  # step NAME TIMEOUT COMMAND...: run, keep the output in $OUT/NAME.txt, remember failures
    local name=$1 limit=$2
    shift 2
    echo "=== $name: $*" | tee "$OUT/$name.txt"
    timeout "$limit" "$@" 2>&1 | tee -a "$OUT/$name.txt"
    local rc=${PIPESTATUS[0]}
    echo "=== $name: exit $rc" | tee -a "$OUT/$name.txt"
    [ "$rc" -eq 0 ] || status=1
}

CHECK="import torch, simlab
cuda = torch.cuda.is_available()
print('torch', torch.__version__, 'cuda', cuda, torch.cuda.get_device_name(0) if cuda else '')
assert cuda or '$DEVICE' != 'cuda', 'DEVICE=cuda but torch sees no CUDA device'"
step device 60 "$PY" -c "$CHECK"
[ "$status" -eq 0 ] || exit 1  # without torch, simlab's dependencies or the GPU nothing below can run
step test_cuda 300 "$PY" -m pytest -m cuda -p no:cacheprovider tests -rs
if [ -n "${QUICK:-}" ]; then
    step bench_dlrm 300 "$PY" benchmarks/bench_dlrm.py --device "$DEVICE" --users 100 --candidates 100 --rounds 1
    step bench_vs_trecs_dlrm 300 "$PY" benchmarks/bench_vs_trecs.py --trecs-json \
        benchmarks/results/trecs_1000x1250x100.json --recommender dlrm --device "$DEVICE" --skip-memory \
        --steps 5 --repeats 1
    step bench_antidote 300 "$PY" benchmarks/bench_antidote.py --quick --part loop --device "$DEVICE"
    step step_1m 300 "$PY" benchmarks/bench_vs_trecs.py --simlab-only --recommender dlrm --device "$DEVICE" \
        --users 20000 --items 2000 --steps 2
else
    # 16k users x 1k candidates: enough pairs that kernel launches do not dominate a GPU timing
    step bench_dlrm 300 "$PY" benchmarks/bench_dlrm.py --device "$DEVICE" --users 16384 --candidates 1024
    step bench_vs_trecs_dlrm 300 "$PY" benchmarks/bench_vs_trecs.py --trecs-json \
        benchmarks/results/trecs_1000x1250x100.json --recommender dlrm --device "$DEVICE" --skip-memory
    step bench_antidote 300 "$PY" benchmarks/bench_antidote.py --part loop --device "$DEVICE"
    step step_1m 300 "$PY" benchmarks/bench_vs_trecs.py --simlab-only --recommender dlrm --device "$DEVICE" \
        --users 1000000 --items 100000 --steps 3
fi
exit $status
