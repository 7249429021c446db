#!/usr/bin/env bash
# The GPU check, one prepared script: on a machine with an NVIDIA GPU and the package installed
# with `pip install -e ".[cuda]"`, run the simulation and training benchmarks at paper size and
# the tiny DAG (tests/configs/tiny.yaml) on the GPU, the same again on the CPU of that machine
# (JAX_PLATFORMS=cpu) for the ratio, and print one table:
#   benchmark, size, device, rate, unit, GPU rate / CPU rate (the DAG: CPU wall time / GPU wall time)
# Cases: benchmarks/device_rates.py (polymer FENE N = 300 x 64 and x 1024 chains, RBC 128 x 48
# batch 8 and 100, OnsagerNet and S-OnsagerNet training). About 5-8 minutes in all; a budget
# (GPU_CHECK_BUDGET seconds, default 540) caps it below 10: a step that would pass it is
# skipped and shown as such.
#
#   bash scripts/gpu_check.sh                      # on the GPU machine, from anywhere
#   GPU_CHECK_DRY_RUN=1 bash scripts/gpu_check.sh  # on a CPU: every step at a small size, to
#                                                  # check the script (its "GPU" rows run on the CPU)
#
# Exit status: 0 the table was printed, or there is no GPU (a message says so and nothing is
# run); 1 the table was printed but a step failed or was skipped; 2 python/JAX are missing.
# Results (one JSON per step, DAG logs) are kept in GPU_CHECK_OUT (default: a new temp folder);
# GPU_CHECK_CASES="polymer rbc ..." runs a subset (names: benchmarks/device_rates.py, tiny_dag).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
PY="${PYTHON:-python}"
BUDGET="${GPU_CHECK_BUDGET:-540}"
OUT="${GPU_CHECK_OUT:-$(mktemp -d -t onsagerflow-gpu-check-XXXXXX)}"
mkdir -p "$OUT"
START=$SECONDS

device="$("$PY" -c 'import jax; d = jax.devices()[0]; print(d.platform, d.device_kind)' 2>/dev/null)" || {
    echo "gpu_check: python with JAX not found (pip install -e \".[cuda]\" first)" >&2
    exit 2
}
SMALL=()
if [[ "${device%% *}" != "gpu" && "${device%% *}" != "cuda" ]]; then
    if [[ -z "${GPU_CHECK_DRY_RUN:-}" ]]; then
        echo "gpu_check: no GPU: JAX's default device is '$device'. Nothing was run."
        echo "  On a machine with an NVIDIA GPU: pip install -e \".[cuda]\" && bash scripts/gpu_check.sh"
        echo "  To check this script on a CPU: GPU_CHECK_DRY_RUN=1 bash scripts/gpu_check.sh"
        exit 0
    fi
    echo "gpu_check: dry run on '$device' (no GPU): small sizes, the 'GPU' rows run on the CPU"
    SMALL=(--small)
fi
echo "gpu_check: device '$device'; results in $OUT; budget ${BUDGET}s"
failed=0

left() { echo $((BUDGET - (SECONDS - START))); }

# step NAME WHERE CAP -- command...: run with a timeout of min(CAP, time left); note a skip or failure
step() {
    local name=$1 where=$2 cap=$3
    shift 4
    local t
    t=$(left)
    ((t > cap)) && t=$cap
    if ((t < 10)); then
        echo "  $name ($where): skipped, out of time budget"
        printf '{"case": "%s", "where": "%s", "device": "-", "size": "", "rate": 0, "unit": "", "error": "skipped: time budget"}\n' \
            "$name" "$where" >"$OUT/${where}_$name.json"
        failed=1
        return
    fi
    echo "  $name ($where), at most ${t}s ..."
    if ! timeout "$t" "$@" >"$OUT/${where}_$name.log" 2>&1; then
        failed=1
        tail -n 3 "$OUT/${where}_$name.log" | sed 's/^/    /'
        [[ -s "$OUT/${where}_$name.json" ]] ||
            printf '{"case": "%s", "where": "%s", "device": "-", "size": "", "rate": 0, "unit": "", "error": "failed or timed out (see %s)"}\n' \
                "$name" "$where" "$OUT/${where}_$name.log" >"$OUT/${where}_$name.json"
    fi
}

dag() {  # the tiny DAG from scratch, wall time into a JSON
    local where=$1 res="$OUT/dag-$1"
    rm -rf "$res"
    local t0=$SECONDS
    snakemake --cores 2 --configfile tests/configs/tiny.yaml --config "results=$res" --quiet rules \
        >"$OUT/dag_$where.snakemake.log" 2>&1 || return 1
    local dev
    dev="$("$PY" -c 'import jax; d = jax.devices()[0]; print(f"{d.platform}: {d.device_kind}"[:28])')"
    printf '{"case": "tiny_dag", "where": "%s", "device": "%s", "size": "tests/configs/tiny.yaml, --cores 2", "rate": %s, "unit": "s (wall)"}\n' \
        "$where" "$dev" $((SECONDS - t0)) >"$OUT/${where}_tiny_dag.json"
}

export -f dag
export OUT PY
read -r -a CASES <<<"${GPU_CHECK_CASES:-polymer polymer_wide rbc rbc_wide train train_sde tiny_dag}"
for where in gpu cpu; do
    if [[ $where == gpu ]]; then
        echo "on the default device:"
        run=()
    else
        echo "on the CPU (JAX_PLATFORMS=cpu), for the ratios:"
        run=(env JAX_PLATFORMS=cpu)
    fi
    for c in "${CASES[@]}"; do
        if [[ $c == tiny_dag ]]; then
            step tiny_dag "$where" 180 -- "${run[@]}" bash -c "dag $where"
        else
            step "$c" "$where" 120 -- "${run[@]}" "$PY" benchmarks/device_rates.py "$c" "${SMALL[@]}" \
                --where "$where" --json "$OUT/${where}_$c.json"
        fi
    done
done

echo
echo "gpu_check: $(nproc) CPUs; $((SECONDS - START)) s in all"
"$PY" benchmarks/device_rates.py table "$OUT"
exit $failed
