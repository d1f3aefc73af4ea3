#!/usr/bin/env bash
# `make bench`: training throughput of nnzoo against PyTorch, model by model.
#
# For each row below it times full training steps (forward, loss, backward,
# SGD update with momentum 0.9 and weight decay 5e-4) on a fixed random batch:
#   nnzoo:   $NNZOO bench CONFIG --threads 2 --steps S [--warmup W] --json
#            --set train.batch_size=BATCH (and the SGD hyperparameters)
#   PyTorch: bench/torch_train.py --model NAME --best --steps S --warmup W
#            --settings SETTINGS (the fastest of those torch/OpenBLAS thread
#            counts and OMP_WAIT_POLICY values; "all" is the eight of
#            1,1 / 2,2 / 1,2 / 2,1 x unset / active)
# Before its rounds, each row checks that both sides build the same model
# (bench/torch_models.py --check: input shape, classes, parameters, buffers,
# conv and linear MACs against `nnzoo summary`); a row whose models differ
# fails without being timed.
# The machine's speed drifts over minutes, so each row runs $ROUNDS
# interleaved rounds (nnzoo once, then PyTorch's --best once), keeps each
# side's best round and prints the ratio nnzoo/PyTorch of the bests in
# samples/s (= PyTorch ms/step over nnzoo ms/step).
#
# Environment:
#   NNZOO         the nnzoo binary (default ./nnzoo)
#   TORCH_PYTHON  the python with Debian's python3-torch (default /usr/bin/python3)
#   MODELS        the rows to run, by name, separated by spaces (default: all)
#   ROUNDS        interleaved rounds per row (default 3)
#   STEPS         timed steps on each side, for every row (default: the row's)
#   WARMUP        warm-up steps on each side, for every row (default: the row's)
#   PT_SETTINGS   PyTorch settings for every row, "all" or T,B,policy/...
#                 (default: the row's)
#   BATCH         batch size for every row (default: the row's, 64); for
#                 quick checks of the script, not for numbers
#
# Both sides take the environment as it is: to compare at the AVX2 level on
# an AVX-512 CPU, give nnzoo's x86-64-v3 build and cap both GEMM libraries
# and oneDNN at AVX2 (see bench/README.md):
#   OPENBLAS_CORETYPE=Haswell ONEDNN_MAX_CPU_ISA=AVX2 NNZOO=build-v3/nnzoo bench/run.sh
#
# Exits 0 with "SKIPPED: ..." if TORCH_PYTHON cannot import torch; 2 on a bad
# variable; non-zero if either side fails for any row.
set -u -o pipefail

# Rows: name, nnzoo config, model in bench/torch_models.py, batch, timed
# steps, warm-up steps, PyTorch settings. At least 2 warm-up steps: nnzoo's
# step arena settles in its second step (the first grows it chunk by chunk,
# the second replaces the chunks by one, whose fresh pages fault in), and
# one warm-up step left that second step's page faults in the timing. The steps keep a full run
# (ROUNDS=3) near 25 minutes on the 2-core VM; one step takes about
#   lenet5 2-4 ms, mobilenet_v3_small ~0.1-0.2 s, mobilenet_v2 ~0.3-0.6 s,
#   vgg16_bn and resnet18 (32x32) ~2-5 s, alexnet (224) ~5-8 s,
#   resnet50 (224) ~40-60 s.
# PyTorch's settings: where a step is short, the eight (which one wins
# depends on the model). Where it takes seconds, one OpenMP thread cannot
# win (the convolutions, in oneDNN, are nearly all of it) and the wait
# policy costs microseconds per parallel region, so only 2,1 and 2,2 are
# tried, each with the policy that suits it (with 2 OpenBLAS threads, spinning
# OpenMP threads would fight them for the cores); for resnet50, only 2,1.
ROWS=(
    "lenet5             configs/lenet5_fashion_mnist.json             lenet5             64 500 50 all"
    "mobilenet_v3_small configs/mobilenet_v3_small_fashion_mnist.json mobilenet_v3_small 64 20  3  all"
    "mobilenet_v2       configs/mobilenet_v2_fashion_mnist.json       mobilenet_v2       64 8   2  all"
    "resnet18           configs/resnet18_fashion_mnist.json           resnet18           64 3   2  2,1,active/2,2,default"
    "vgg16_bn           configs/vgg16_bn_fashion_mnist.json           vgg16_bn           64 3   2  2,1,active/2,2,default"
    "alexnet            configs/alexnet_imagenet.json                 alexnet            64 3   2  2,1,active/2,2,default"
    "resnet50           configs/resnet50_imagenet.json                resnet50           64 2   2  2,1,active"
)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NNZOO=${NNZOO:-./nnzoo}
TORCH_PYTHON=${TORCH_PYTHON:-/usr/bin/python3}
ROUNDS=${ROUNDS:-3}
MODELS=${MODELS:-}
STEPS=${STEPS:-}
WARMUP=${WARMUP:-}
PT_SETTINGS=${PT_SETTINGS:-}
BATCH=${BATCH:-}
THREADS=2

if ! [[ $ROUNDS =~ ^[1-9][0-9]*$ ]]; then
    echo "run.sh: ROUNDS must be a positive integer, not '$ROUNDS'" >&2
    exit 2
fi
if [ -n "$STEPS" ] && ! [[ $STEPS =~ ^[1-9][0-9]*$ ]]; then
    echo "run.sh: STEPS must be a positive integer, not '$STEPS'" >&2
    exit 2
fi
if [ -n "$BATCH" ] && ! [[ $BATCH =~ ^[1-9][0-9]*$ ]]; then
    echo "run.sh: BATCH must be a positive integer, not '$BATCH'" >&2
    exit 2
fi
if [ -n "$WARMUP" ] && ! [[ $WARMUP =~ ^[0-9]+$ ]]; then
    echo "run.sh: WARMUP must be a non-negative integer, not '$WARMUP'" >&2
    exit 2
fi

# The rows to run, in table order.
all_names=()
for row in "${ROWS[@]}"; do
    read -r name _ <<<"$row"
    all_names+=("$name")
done
selected=()
if [ -z "$MODELS" ]; then
    selected=("${ROWS[@]}")
else
    for want in $MODELS; do
        found=""
        for row in "${ROWS[@]}"; do
            read -r name _ <<<"$row"
            [ "$name" = "$want" ] && found=$row
        done
        if [ -z "$found" ]; then
            echo "run.sh: MODELS: no row '$want' (have: ${all_names[*]})" >&2
            exit 2
        fi
        selected+=("$found")
    done
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

# nnzoo bench warms up max(steps / 10, 10) steps unless it takes --warmup;
# on the models whose steps take seconds that matters.
nz_warmup_opt=0
if [ -x "$NNZOO" ] && "$NNZOO" bench --help 2>/dev/null | grep -q -- '--warmup'; then
    nz_warmup_opt=1
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

# table_row MODEL NNZOO_MS PT_MS NNZOO_SPS PT_SPS PT_SETTING RATIO: one line
# of the result table.
table_row() {
    printf '%-18s %11s %11s %10s %10s %-12s %7s' "$@"
}

# bench_nnzoo NAME CONFIG BATCH STEPS WARMUP: one nnzoo run. Sets nz_sps and
# nz_ms and prints the result; on failure says why on stderr and returns 1.
bench_nnzoo() {
    local name=$1 config=$2 batch=$3 steps=$4 warmup=$5 out json rc nz_batch
    local args=(bench "$config" --threads "$THREADS" --steps "$steps" --json
                --set "train.batch_size=$batch" --set train.optimizer.name=sgd
                --set train.optimizer.momentum=0.9 --set train.optimizer.weight_decay=0.0005)
    [ $nz_warmup_opt -eq 1 ] && args+=(--warmup "$warmup")
    if [ ! -x "$NNZOO" ]; then
        echo "$name: FAILED: nnzoo binary '$NNZOO' not found or not executable (run make)" >&2
        return 1
    fi
    out=$("$NNZOO" "${args[@]}")
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
        echo "$name: FAILED: nnzoo ran batch $nz_batch, pytorch runs batch $batch" >&2
        return 1
    fi
    printf 'nnzoo   %s threads=%s: %10.3f ms/step %9.1f samples/s\n' \
        "$name" "$THREADS" "$nz_ms" "$nz_sps"
}

# bench_pytorch NAME MODEL BATCH STEPS WARMUP SETTINGS: one torch_train.py
# --best run (its per-setting lines go to stderr). Sets pt_sps, pt_ms and
# pt_setting (T,B,policy) and prints the best; on failure says why on stderr
# and returns 1.
bench_pytorch() {
    local name=$1 model=$2 batch=$3 steps=$4 warmup=$5 settings=$6 out json rc t b policy
    out=$("$TORCH_PYTHON" bench/torch_train.py --model "$model" --batch "$batch" \
          --best --steps "$steps" --warmup "$warmup" --settings "$settings")
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
    printf 'pytorch %s best (%s): %10.3f ms/step %9.1f samples/s\n' \
        "$name" "$pt_setting" "$pt_ms" "$pt_sps"
}

# check_models NAME MODEL CONFIG: true if nnzoo's and PyTorch's models agree
# (bench/torch_models.py --check prints what it compared).
check_models() {
    local name=$1 model=$2 config=$3
    if [ ! -f "$config" ]; then
        echo "$name: FAILED: no config $config" >&2
        return 1
    fi
    if [ ! -x "$NNZOO" ]; then
        echo "$name: FAILED: nnzoo binary '$NNZOO' not found or not executable (run make)" >&2
        return 1
    fi
    if ! "$TORCH_PYTHON" bench/torch_models.py --check "$model" "$config" --nnzoo "$NNZOO"; then
        echo "$name: FAILED: nnzoo's model for $config and bench/torch_models.py's $model differ" >&2
        return 1
    fi
}

status=0
summary=()
table=()
start=$SECONDS
if [ $nz_warmup_opt -eq 0 ]; then
    echo "note: $NNZOO bench has no --warmup; it warms up max(steps/10, 10) steps," \
         "so the rows with multi-second steps take longer than planned"
fi

for row in "${selected[@]}"; do
    read -r name config tmodel batch steps warmup settings <<<"$row"
    steps=${STEPS:-$steps}
    warmup=${WARMUP:-$warmup}
    settings=${PT_SETTINGS:-$settings}
    batch=${BATCH:-$batch}
    nz_warm=$warmup
    [ $nz_warmup_opt -eq 1 ] || nz_warm="max($((steps / 10)),10)"
    echo "== $name: $ROUNDS interleaved rounds, batch $batch, $steps timed steps each side"
    echo "   nnzoo ($config, $THREADS threads, $nz_warm warm-up steps), then"
    echo "   pytorch --best ($tmodel; $warmup warm-up steps; settings $settings)"
    row_start=$SECONDS

    nz_best_sps="" nz_best_ms="" pt_best_sps="" pt_best_ms="" pt_best_setting=""
    nz_ok=1 pt_ok=1 check_ok=1
    if ! check_models "$name" "$tmodel" "$config"; then
        nz_ok=0 pt_ok=0 check_ok=0
    fi
    # Best round of each side. A side that fails is not run again; stop when
    # both have failed.
    for ((round = 1; round <= ROUNDS && (nz_ok || pt_ok); round++)); do
        echo "-- $name round $round/$ROUNDS"
        if [ $nz_ok -eq 1 ]; then
            if bench_nnzoo "$name" "$config" "$batch" "$steps" "$warmup"; then
                if greater "$nz_sps" "$nz_best_sps"; then
                    nz_best_sps=$nz_sps nz_best_ms=$nz_ms
                fi
            else
                nz_ok=0
            fi
        fi
        if [ $pt_ok -eq 1 ]; then
            if bench_pytorch "$name" "$tmodel" "$batch" "$steps" "$warmup" "$settings"; then
                if greater "$pt_sps" "$pt_best_sps"; then
                    pt_best_sps=$pt_sps pt_best_ms=$pt_ms pt_best_setting=$pt_setting
                fi
            else
                pt_ok=0
            fi
        fi
    done
    echo "   ($name took $((SECONDS - row_start)) s)"

    # ---- row result
    if [ $nz_ok -eq 1 ] && [ $pt_ok -eq 1 ]; then
        ratio=$(awk -v a="$nz_best_sps" -v b="$pt_best_sps" 'BEGIN { printf "%.2f", a / b }')
        table+=("$(table_row "$name" \
            "$(printf '%.3f' "$nz_best_ms")" "$(printf '%.3f' "$pt_best_ms")" \
            "$(printf '%.1f' "$nz_best_sps")" "$(printf '%.1f' "$pt_best_sps")" \
            "$pt_best_setting" "${ratio}x")")
        summary+=("$(printf '%s: nnzoo %.3f ms/step, pytorch (T,B,policy %s) %.3f ms/step, ratio %sx (best of %s rounds each)' \
            "$name" "$nz_best_ms" "$pt_best_setting" "$pt_best_ms" "$ratio" "$ROUNDS")")
    else
        status=1
        table+=("$(table_row "$name" \
            "$([ $nz_ok -eq 1 ] && printf '%.3f' "$nz_best_ms" || echo FAILED)" \
            "$([ $pt_ok -eq 1 ] && printf '%.3f' "$pt_best_ms" || echo FAILED)" \
            "$([ $nz_ok -eq 1 ] && printf '%.1f' "$nz_best_sps" || echo -)" \
            "$([ $pt_ok -eq 1 ] && printf '%.1f' "$pt_best_sps" || echo -)" \
            "$([ $pt_ok -eq 1 ] && echo "$pt_best_setting" || echo -)" -)")
        if [ $check_ok -eq 0 ]; then
            failed="the model check: the models differ or one side could not build them"
        else
            failed=""
            [ $nz_ok -eq 1 ] || failed="nnzoo"
            [ $pt_ok -eq 1 ] || failed="${failed:+$failed and }pytorch"
        fi
        summary+=("$name: FAILED ($failed; see above)")
    fi
done

echo
# Name the machine and the kernels beside the figures.
echo "CPU: $(lscpu | sed -n 's/^Model name: *//p'); nnzoo $("$NNZOO" --version | sed -n 's/^kernels: //p' | cut -d' ' -f1) kernels," \
     "$("$NNZOO" --version | sed -n 's/^gemm: //p'); OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}," \
     "ONEDNN_MAX_CPU_ISA=${ONEDNN_MAX_CPU_ISA:-unset}"
echo "training step time, best of $ROUNDS rounds each side, nnzoo on $THREADS threads;" \
     "ratio = nnzoo samples/s over PyTorch's (> 1: nnzoo is faster); $((SECONDS - start)) s in all"
table_row model "nnzoo ms" "pytorch ms" "nnzoo s/s" "pytorch s/s" "T,B,policy" ratio
echo
printf '%s\n' "${table[@]}"
echo
printf '%s\n' "${summary[@]}"
exit $status
