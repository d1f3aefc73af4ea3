#!/usr/bin/env bash
# `make bench`: training throughput of nnzoo against PyTorch, model by model.
#
# For each row below it times full training steps (forward, loss, backward,
# SGD update) on a fixed random batch:
#   nnzoo:   $NNZOO bench CONFIG --threads 2 --steps $STEPS --json
#            (prints one JSON line with at least samples_per_s and ms_per_step)
#   PyTorch: bench/torch_train.py --model NAME --best --steps $STEPS
#            (fastest of torch/OpenBLAS threads 1,1 / 2,2 / 1,2 / 2,1, each
#            with OMP_WAIT_POLICY unset and =active)
# The machine's speed drifts over minutes, so each row runs $ROUNDS
# interleaved rounds (nnzoo once, then PyTorch's --best once), keeps each
# side's best round and prints the ratio nnzoo/PyTorch of the bests in
# samples/s.
#
# Environment:
#   NNZOO         the nnzoo binary (default ./nnzoo)
#   TORCH_PYTHON  the python with Debian's python3-torch (default /usr/bin/python3)
#   STEPS         timed steps on each side (default 500)
#   ROUNDS        interleaved rounds per row (default 3)
#
# Exits 0 with "SKIPPED: ..." if TORCH_PYTHON cannot import torch; non-zero if
# either side fails for any row.
set -u -o pipefail

# Rows: name, nnzoo config, model name in bench/torch_train.py, batch size
# (must match the config's). To add a model, add a row here and its
# definition to MODELS in torch_train.py.
ROWS=(
    "lenet5 configs/lenet5_fashion_mnist.json lenet5 64"
)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NNZOO=${NNZOO:-./nnzoo}
TORCH_PYTHON=${TORCH_PYTHON:-/usr/bin/python3}
STEPS=${STEPS:-500}
ROUNDS=${ROUNDS:-3}
THREADS=2

if ! [[ $ROUNDS =~ ^[1-9][0-9]*$ ]]; then
    echo "run.sh: ROUNDS must be a positive integer, not '$ROUNDS'" >&2
    exit 2
fi

# A relative NNZOO path is taken from where we were started; then work from
# the repository root so the config paths resolve.
case $NNZOO in
    /*) ;;
    */*) NNZOO=$PWD/$NNZOO ;;
esac
cd "$here/.." || exit 1

if ! "$TORCH_PYTHON" -c 'import torch' >/dev/null 2>&1; then
    echo "SKIPPED: python3-torch not installed"
    exit 0
fi

# json_get JSON KEY: print a top-level field of a one-line JSON object.
json_get() {
    "$TORCH_PYTHON" -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"
}

# last_json TEXT: the last line of TEXT that looks like a JSON object.
last_json() {
    printf '%s\n' "$1" | grep '^[[:space:]]*{' | tail -n 1
}

# positive NUMBER: true if NUMBER parses as a number > 0.
positive() {
    awk -v v="$1" 'BEGIN { exit !(v ~ /^[0-9.eE+-]+$/ && v + 0 > 0) }'
}

# greater A B: true if number A > number B (B may be empty: no best yet).
greater() {
    [ -z "$2" ] || awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b) }'
}

# table_row MODEL NNZOO_SPS NNZOO_MS PT_SPS PT_MS PT_SETTING RATIO: one line
# of the result table.
table_row() {
    printf '%-10s %10s %9s %12s %9s %-12s %8s' "$@"
}

# bench_nnzoo NAME CONFIG BATCH: one nnzoo run. Sets nz_sps and nz_ms and
# prints the result; on failure says why on stderr and returns 1.
bench_nnzoo() {
    local name=$1 config=$2 batch=$3 out json rc nz_batch
    if [ ! -x "$NNZOO" ]; then
        echo "$name: FAILED: nnzoo binary '$NNZOO' not found or not executable (run make)" >&2
        return 1
    fi
    out=$("$NNZOO" bench "$config" --threads "$THREADS" --steps "$STEPS" --json)
    rc=$?
    json=$(last_json "$out")
    if [ $rc -ne 0 ]; then
        echo "$name: FAILED: nnzoo bench exited $rc" >&2
        return 1
    fi
    if [ -z "$json" ] ||
       ! nz_sps=$(json_get "$json" samples_per_s 2>/dev/null) ||
       ! nz_ms=$(json_get "$json" ms_per_step 2>/dev/null) ||
       ! positive "$nz_sps" || ! positive "$nz_ms"; then
        echo "$name: FAILED: nnzoo bench printed no JSON with samples_per_s and ms_per_step:" >&2
        printf '%s\n' "$out" >&2
        return 1
    fi
    nz_batch=$(json_get "$json" batch_size 2>/dev/null) || nz_batch=""
    if [ -n "$nz_batch" ] && [ "$nz_batch" != "$batch" ]; then
        echo "$name: warning: nnzoo ran batch $nz_batch, pytorch runs batch $batch" >&2
    fi
    printf 'nnzoo   %s threads=%s: %8.3f ms/step %9.1f samples/s\n' \
        "$name" "$THREADS" "$nz_ms" "$nz_sps"
}

# bench_pytorch NAME MODEL BATCH: one torch_train.py --best run (its
# per-setting lines go to stderr). Sets pt_sps, pt_ms and pt_setting (T,B,policy)
# and prints the best; on failure says why on stderr and returns 1.
bench_pytorch() {
    local name=$1 model=$2 batch=$3 out json rc t b policy
    out=$("$TORCH_PYTHON" bench/torch_train.py --model "$model" --batch "$batch" \
          --best --steps "$STEPS")
    rc=$?
    json=$(last_json "$out")
    if [ $rc -ne 0 ]; then
        echo "$name: FAILED: bench/torch_train.py exited $rc" >&2
        return 1
    fi
    if [ -z "$json" ] ||
       ! pt_sps=$(json_get "$json" samples_per_s 2>/dev/null) ||
       ! pt_ms=$(json_get "$json" ms_per_step 2>/dev/null) ||
       ! t=$(json_get "$json" torch_threads 2>/dev/null) ||
       ! b=$(json_get "$json" blas_threads 2>/dev/null) ||
       ! policy=$(json_get "$json" omp_wait_policy 2>/dev/null) ||
       ! positive "$pt_sps" || ! positive "$pt_ms"; then
        echo "$name: FAILED: bench/torch_train.py printed no usable JSON:" >&2
        printf '%s\n' "$out" >&2
        return 1
    fi
    pt_setting="$t,$b,$policy"
    printf 'pytorch %s best (%s): %8.3f ms/step %9.1f samples/s\n' \
        "$name" "$pt_setting" "$pt_ms" "$pt_sps"
}

status=0
summary=()
table=()

for row in "${ROWS[@]}"; do
    read -r name config tmodel batch <<<"$row"
    echo "== $name: $ROUNDS interleaved rounds of nnzoo ($config, $THREADS threads)"
    echo "   then pytorch --best (batch $batch; T,B in 1,1 / 2,2 / 1,2 / 2,1"
    echo "   x OMP_WAIT_POLICY unset / active), $STEPS timed steps each"

    # Best round of each side. A side that fails is not run again; stop when
    # both have failed.
    nz_ok=1 pt_ok=1
    nz_best_sps="" nz_best_ms="" pt_best_sps="" pt_best_ms="" pt_best_setting=""
    for ((round = 1; round <= ROUNDS && (nz_ok || pt_ok); round++)); do
        echo "-- $name round $round/$ROUNDS"
        if [ $nz_ok -eq 1 ]; then
            if bench_nnzoo "$name" "$config" "$batch"; then
                if greater "$nz_sps" "$nz_best_sps"; then
                    nz_best_sps=$nz_sps nz_best_ms=$nz_ms
                fi
            else
                nz_ok=0
            fi
        fi
        if [ $pt_ok -eq 1 ]; then
            if bench_pytorch "$name" "$tmodel" "$batch"; then
                if greater "$pt_sps" "$pt_best_sps"; then
                    pt_best_sps=$pt_sps pt_best_ms=$pt_ms pt_best_setting=$pt_setting
                fi
            else
                pt_ok=0
            fi
        fi
    done

    # ---- row result
    if [ $nz_ok -eq 1 ] && [ $pt_ok -eq 1 ]; then
        ratio=$(awk -v a="$nz_best_sps" -v b="$pt_best_sps" 'BEGIN { printf "%.2f", a / b }')
        table+=("$(table_row "$name" \
            "$(printf '%.0f' "$nz_best_sps")" "$(printf '%.3f' "$nz_best_ms")" \
            "$(printf '%.0f' "$pt_best_sps")" "$(printf '%.3f' "$pt_best_ms")" \
            "$pt_best_setting" "${ratio}x")")
        summary+=("$(printf '%s: nnzoo %.0f samples/s, pytorch (T,B,policy %s) %.0f samples/s, ratio %sx (best of %s rounds each)' \
            "$name" "$nz_best_sps" "$pt_best_setting" "$pt_best_sps" "$ratio" "$ROUNDS")")
    else
        status=1
        table+=("$(table_row "$name" \
            "$([ $nz_ok -eq 1 ] && printf '%.0f' "$nz_best_sps" || echo FAILED)" \
            "$([ $nz_ok -eq 1 ] && printf '%.3f' "$nz_best_ms" || echo -)" \
            "$([ $pt_ok -eq 1 ] && printf '%.0f' "$pt_best_sps" || echo FAILED)" \
            "$([ $pt_ok -eq 1 ] && printf '%.3f' "$pt_best_ms" || echo -)" \
            "$([ $pt_ok -eq 1 ] && echo "$pt_best_setting" || echo -)" -)")
        failed=""
        [ $nz_ok -eq 1 ] || failed="nnzoo"
        [ $pt_ok -eq 1 ] || failed="${failed:+$failed and }pytorch"
        summary+=("$name: FAILED ($failed)")
    fi
done

echo
echo "training throughput (samples/s), best of $ROUNDS rounds each side," \
     "nnzoo on $THREADS threads, $STEPS timed steps"
table_row model "nnzoo s/s" "ms/step" "pytorch s/s" "ms/step" "T,B,policy" ratio
echo
printf '%s\n' "${table[@]}"
echo
printf '%s\n' "${summary[@]}"
exit $status
