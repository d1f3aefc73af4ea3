#!/usr/bin/env bash
# `make bench`: training throughput of nnzoo against PyTorch, model by model.
#
# For each row below it times full training steps (forward, loss, backward,
# SGD update) on a fixed random batch:
#   nnzoo:   $NNZOO bench CONFIG --threads 2 --steps $STEPS --json
#            (prints one JSON line with at least samples_per_s and ms_per_step)
#   PyTorch: bench/torch_train.py --model NAME --best --steps $STEPS
#            (fastest of torch/OpenBLAS threads 1,1 / 2,2 / 1,2 / 2,1)
# and prints the ratio nnzoo/PyTorch in samples/s.
#
# Environment:
#   NNZOO         the nnzoo binary (default ./nnzoo)
#   TORCH_PYTHON  the python with Debian's python3-torch (default /usr/bin/python3)
#   STEPS         timed steps on each side (default 500)
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
THREADS=2

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

status=0
summary=()
table=()

for row in "${ROWS[@]}"; do
    read -r name config tmodel batch <<<"$row"
    echo "== $name: nnzoo ($config, $THREADS threads, $STEPS steps)"

    # ---- nnzoo side
    nz_ok=0
    if [ ! -x "$NNZOO" ]; then
        echo "$name: FAILED: nnzoo binary '$NNZOO' not found or not executable (run make)" >&2
    else
        nz_out=$("$NNZOO" bench "$config" --threads "$THREADS" --steps "$STEPS" --json)
        rc=$?
        nz_json=$(last_json "$nz_out")
        if [ $rc -ne 0 ]; then
            echo "$name: FAILED: nnzoo bench exited $rc" >&2
        elif [ -z "$nz_json" ] ||
             ! nz_sps=$(json_get "$nz_json" samples_per_s 2>/dev/null) ||
             ! nz_ms=$(json_get "$nz_json" ms_per_step 2>/dev/null) ||
             ! positive "$nz_sps" || ! positive "$nz_ms"; then
            echo "$name: FAILED: nnzoo bench printed no JSON with samples_per_s and ms_per_step:" >&2
            printf '%s\n' "$nz_out" >&2
        else
            nz_ok=1
            nz_batch=$(json_get "$nz_json" batch_size 2>/dev/null) || nz_batch=""
            if [ -n "$nz_batch" ] && [ "$nz_batch" != "$batch" ]; then
                echo "$name: warning: nnzoo ran batch $nz_batch, pytorch runs batch $batch" >&2
            fi
            echo "nnzoo   $name threads=$THREADS: $(printf '%8.3f' "$nz_ms") ms/step $(printf '%9.1f' "$nz_sps") samples/s"
        fi
    fi

    # ---- PyTorch side: its per-setting lines go to stderr, the best to stdout
    echo "== $name: pytorch (batch $batch, best of T,B in 1,1 / 2,2 / 1,2 / 2,1, $STEPS steps)"
    pt_ok=0
    pt_out=$("$TORCH_PYTHON" bench/torch_train.py --model "$tmodel" --batch "$batch" \
             --best --steps "$STEPS")
    rc=$?
    pt_json=$(last_json "$pt_out")
    if [ $rc -ne 0 ]; then
        echo "$name: FAILED: bench/torch_train.py exited $rc" >&2
    elif [ -z "$pt_json" ] ||
         ! pt_sps=$(json_get "$pt_json" samples_per_s 2>/dev/null) ||
         ! pt_ms=$(json_get "$pt_json" ms_per_step 2>/dev/null) ||
         ! pt_t=$(json_get "$pt_json" torch_threads 2>/dev/null) ||
         ! pt_b=$(json_get "$pt_json" blas_threads 2>/dev/null) ||
         ! positive "$pt_sps"; then
        echo "$name: FAILED: bench/torch_train.py printed no usable JSON:" >&2
        printf '%s\n' "$pt_out" >&2
    else
        pt_ok=1
    fi

    # ---- row result
    if [ $nz_ok -eq 1 ] && [ $pt_ok -eq 1 ]; then
        ratio=$(awk -v a="$nz_sps" -v b="$pt_sps" 'BEGIN { printf "%.2f", a / b }')
        table+=("$(printf '%-10s %10.0f %9.3f %12.0f %9.3f %7s %7sx' \
            "$name" "$nz_sps" "$nz_ms" "$pt_sps" "$pt_ms" "$pt_t,$pt_b" "$ratio")")
        summary+=("$(printf '%s: nnzoo %.0f samples/s, pytorch (T=%s,B=%s) %.0f samples/s, ratio %sx' \
            "$name" "$nz_sps" "$pt_t" "$pt_b" "$pt_sps" "$ratio")")
    else
        status=1
        table+=("$(printf '%-10s %10s %9s %12s %9s %7s %8s' "$name" \
            "$([ $nz_ok -eq 1 ] && printf '%.0f' "$nz_sps" || echo FAILED)" \
            "$([ $nz_ok -eq 1 ] && printf '%.3f' "$nz_ms" || echo -)" \
            "$([ $pt_ok -eq 1 ] && printf '%.0f' "$pt_sps" || echo FAILED)" \
            "$([ $pt_ok -eq 1 ] && printf '%.3f' "$pt_ms" || echo -)" \
            "$([ $pt_ok -eq 1 ] && echo "$pt_t,$pt_b" || echo -)" -)")
        failed=""
        [ $nz_ok -eq 1 ] || failed="nnzoo"
        [ $pt_ok -eq 1 ] || failed="${failed:+$failed and }pytorch"
        summary+=("$name: FAILED ($failed)")
    fi
done

echo
echo "training throughput (samples/s), nnzoo on $THREADS threads, $STEPS timed steps"
printf '%-10s %10s %9s %12s %9s %7s %8s\n' model "nnzoo s/s" "ms/step" "pytorch s/s" "ms/step" "T,B" ratio
printf '%s\n' "${table[@]}"
echo
printf '%s\n' "${summary[@]}"
exit $status
