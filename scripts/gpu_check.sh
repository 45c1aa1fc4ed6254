#!/usr/bin/env bash
# One lease of a GPU machine (the `device` tool), one call: the machine, the CUDA checks (scripts/gpu_check.py),
# the bench's GPU rows, then the decoding ratios on that machine's cores. Results land under $OUT: log.txt and
# one JSON per step. PyAV is not in that machine's image: carry its wheel in .whl/ (docs/BENCHMARKS.md, GPU).
set -u
out=${OUT:-/tmp/gpu-check}
mkdir -p "$out"
log=$out/log.txt
export PYTHONUNBUFFERED=1 PYTHONPATH=.
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo "error: could not install the carried wheels"; exit 2; }
    export PYTHONPATH=.:/tmp/site
fi
videos=/tmp/vtn-bench
steps=" ${STEPS:-checks bench_gpu bench_quick bench_full} "  # a subset, e.g. STEPS="checks bench_gpu"
# CHECKS: a subset of gpu_check.py's checks, comma-separated (e.g. CHECKS=golden_on_cuda,graph_and_pinned)

step() {  # step NAME SECONDS COMMAND...: run with a time limit, log it, show its end
    local name=$1 limit=$2 started=$SECONDS
    shift 2
    [[ $steps == *" $name "* ]] || return 0
    echo "== $name (limit ${limit} s)" >>"$log"
    timeout "$limit" "$@" >"$out/$name.out" 2>&1
    local rc=$?
    cat "$out/$name.out" >>"$log" && rm -f "$out/$name.out"
    echo "== $name: rc=$rc in $((SECONDS - started)) s" | tee -a "$log"
}

{
    date -u; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv; echo "cores: $(nproc)"
    ldconfig -p | grep -i -E "nvcuvid|libcuda\.so" || echo "no libnvcuvid / libcuda in ldconfig"
    python3 -c "import sys, torch, av, numba, transformers, timm; print(sys.version.split()[0], torch.__version__, \
av.__version__, numba.__version__, transformers.__version__, timm.__version__)"
} >>"$log" 2>&1
cat "$log"
step checks 240 python3 scripts/gpu_check.py --out "$out/checks.json" --videos "$videos" --only "${CHECKS:-}"
step bench_gpu 120 python3 -m vtn_core bench --only gpu --cache-dir "$videos" --json "$out/bench_gpu.json"
step bench_quick 120 python3 -m vtn_core bench --quick --only decoding,overhead --cache-dir "$videos" \
    --json "$out/bench_quick.json"
step bench_full 150 python3 -m vtn_core bench --only decoding,overhead --cache-dir "$videos" \
    --json "$out/bench_full.json"
grep -v '^ ' "$log" | tail -n 120
