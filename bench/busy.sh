#!/usr/bin/env bash
# Training speed on a busy machine: nnzoo's default thread setting against
# `--threads 1` (and PyTorch's best thread setting), with one other CPU-bound
# process pinned to one core at normal priority, as when a user trains next
# to other work (the issue: 2 threads spinning were 11-15x slower there).
#
# For each row it runs $ROUNDS interleaved rounds of
#   nnzoo:   $NNZOO bench CONFIG --steps S --warmup W --json --set train.batch_size=BATCH
#            (default threads: nnzoo's step governor chooses all cores or one)
#   nnzoo:   the same with --threads 1
#   base:    $BASE (an older nnzoo binary) the same way as the default, if BASE is set
#   PyTorch: bench/torch_train.py --model NAME --best --settings $PT_SETTINGS
# keeps each side's fastest round (noise only adds time) and prints a table
# with the ratio default / --threads 1 (the goal: at most 1.15).
#
# Environment:
#   NNZOO         the nnzoo binary (default ./nnzoo)
#   BASE          another nnzoo binary to time like the default (e.g. the
#                 commit before), or empty (default)
#   TORCH_PYTHON  the python with Debian's python3-torch (default
#                 /usr/bin/python3); PyTorch is skipped if it cannot import torch
#   PT_SETTINGS   PyTorch's T,B,policy settings to try (default: the ones that
#                 do not spin two threads; those take minutes here, as nnzoo's
#                 active threads did)
#   MODELS        rows to run: lenet5 mobilenet_v3_small (default both)
#   ROUNDS        interleaved rounds per row (default 3)
#   COMPETITOR    1: run the competing process (default); 0: a quiet-machine
#                 run of the same table, for A/B against BASE
#   CORE          the core the competitor is pinned to (default: the last)
#   TIME_LIMIT    seconds for the whole script (default 1500); each program
#                 gets at most 300, the competitor dies at the limit anyway
#
# Exits 2 on a bad variable, 1 if a run failed, else 0.
set -u -o pipefail

# The warm-up covers the step governor's first choice (2 steps that size the
# arena, 2 measured on all cores, a probe of one thread: 5-6 steps), so the
# timed steps show the steady state a training run lives in. With 3 warm-up
# steps, MobileNetV3-Small's 20 timed steps held 2 of those exploring steps
# on all cores: 80.6 ms a step against 69.1 on one thread, 1.17x.
ROWS=(
    # name              config                                        torch model        batch steps warmup
    "lenet5             configs/lenet5_fashion_mnist.json             lenet5             64    200   20"
    "mobilenet_v3_small configs/mobilenet_v3_small_fashion_mnist.json mobilenet_v3_small 32    20    8"
)

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NNZOO=${NNZOO:-./nnzoo}
BASE=${BASE:-}
TORCH_PYTHON=${TORCH_PYTHON:-/usr/bin/python3}
PT_SETTINGS=${PT_SETTINGS:-1,1,default/2,1,default/1,2,default/2,2,default/1,1,active}
MODELS=${MODELS:-lenet5 mobilenet_v3_small}
ROUNDS=${ROUNDS:-3}
COMPETITOR=${COMPETITOR:-1}
CORE=${CORE:-$(($(nproc) - 1))}
TIME_LIMIT=${TIME_LIMIT:-1500}

for v in ROUNDS TIME_LIMIT; do
    if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
        echo "busy.sh: $v must be a positive integer, not '${!v}'" >&2
        exit 2
    fi
done
if ! [[ $COMPETITOR =~ ^[01]$ ]] || ! [[ $CORE =~ ^[0-9]+$ ]]; then
    echo "busy.sh: COMPETITOR must be 0 or 1 and CORE a core number" >&2
    exit 2
fi
case $NNZOO in /*) ;; */*) NNZOO=$PWD/$NNZOO ;; esac
case $BASE in /* | "") ;; */*) BASE=$PWD/$BASE ;; esac
cd "$here/.." || exit 1
for b in "$NNZOO" $BASE; do
    if [ ! -x "$b" ]; then
        echo "busy.sh: nnzoo binary '$b' not found or not executable (run make)" >&2
        exit 2
    fi
done
have_torch=0
"$TORCH_PYTHON" -c 'import torch' >/dev/null 2>&1 && have_torch=1

# The competitor: a shell loop on one core, at normal priority. It is killed
# on any exit, and `timeout` ends it at the time limit even if this script
# is killed outright.
competitor=""
stop_competitor() {
    if [ -n "$competitor" ]; then
        kill "$competitor" 2>/dev/null
        wait "$competitor" 2>/dev/null
        competitor=""
    fi
}
trap stop_competitor EXIT
trap 'exit 130' INT TERM
if [ "$COMPETITOR" = 1 ]; then
    timeout "$TIME_LIMIT" taskset -c "$CORE" nice -n 0 sh -c 'while :; do :; done' &
    competitor=$!
    sleep 1
fi
deadline=$((SECONDS + TIME_LIMIT))

# left: seconds before the deadline, at most 300 (the bound of one program).
left() {
    local l=$((deadline - SECONDS))
    [ $l -gt 300 ] && l=300
    echo $l
}

# field JSON KEY: a top-level number or word of a one-line JSON object.
field() {
    printf '%s\n' "$1" | sed -n "s/.*\"$2\": \"\{0,1\}\([^,\"}]*\).*/\1/p"
}

# nz BINARY CONFIG BATCH STEPS WARMUP [ARGS...]: one nnzoo bench run; prints
# "ms steps_at_1_thread" or nothing on failure.
nz() {
    local bin=$1 config=$2 batch=$3 steps=$4 warmup=$5 out
    shift 5
    out=$(timeout "$(left)" "$bin" bench "$config" --steps "$steps" --warmup "$warmup" --json \
          --set "train.batch_size=$batch" "$@" | tail -n 1) || return 1
    [ -n "$(field "$out" ms_per_step)" ] || return 1
    echo "$(field "$out" ms_per_step) $(field "$out" steps_at_1_thread)"
}

# pt MODEL BATCH STEPS WARMUP: PyTorch's best of $PT_SETTINGS; prints
# "ms T,B,policy" or nothing on failure.
pt() {
    local out
    out=$(timeout "$(left)" "$TORCH_PYTHON" bench/torch_train.py --model "$1" --batch "$2" \
          --steps "$3" --warmup "$4" --best --settings "$PT_SETTINGS" 2>/dev/null | tail -n 1) || return 1
    [ -n "$(field "$out" ms_per_step)" ] || return 1
    echo "$(field "$out" ms_per_step) $(field "$out" torch_threads),$(field "$out" blas_threads),$(field "$out" omp_wait_policy)"
}

# lower A B: A if B is empty or A < B, else B.
lower() {
    if [ -z "$2" ] || awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; then echo "$1"; else echo "$2"; fi
}

# ratio A B: A / B to two places, or "-" if either is missing.
ratio() {
    if [ -n "$1" ] && [ -n "$2" ]; then awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; else echo "-"; fi
}

echo "busy.sh: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores;" \
     "competitor: $([ "$COMPETITOR" = 1 ] && echo "a CPU-bound loop on core $CORE" || echo none);" \
     "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
table=()
for row in "${ROWS[@]}"; do
    read -r name config tmodel batch steps warmup <<<"$row"
    [[ " $MODELS " == *" $name "* ]] || continue
    best_def="" best_one="" best_base="" best_pt="" pt_setting="" at1=""
    for r in $(seq "$ROUNDS"); do
        if [ $((deadline - SECONDS)) -le 0 ]; then
            echo "busy.sh: TIME_LIMIT reached, stopping" >&2
            status=1
            break 2
        fi
        if res=$(nz "$NNZOO" "$config" "$batch" "$steps" "$warmup"); then
            read -r ms one <<<"$res"
            echo "$name round $r: nnzoo default      $ms ms/step ($one of $steps steps on 1 thread)"
            [ "$(lower "$ms" "$best_def")" = "$ms" ] && at1=$one
            best_def=$(lower "$ms" "$best_def")
        else echo "$name: FAILED: nnzoo default" >&2; status=1; fi
        if res=$(nz "$NNZOO" "$config" "$batch" "$steps" "$warmup" --threads 1); then
            read -r ms _ <<<"$res"
            echo "$name round $r: nnzoo --threads 1  $ms ms/step"
            best_one=$(lower "$ms" "$best_one")
        else echo "$name: FAILED: nnzoo --threads 1" >&2; status=1; fi
        if [ -n "$BASE" ]; then
            if res=$(nz "$BASE" "$config" "$batch" "$steps" "$warmup"); then
                read -r ms _ <<<"$res"
                echo "$name round $r: base default       $ms ms/step"
                best_base=$(lower "$ms" "$best_base")
            else echo "$name: FAILED: base default" >&2; status=1; fi
        fi
        if [ $have_torch = 1 ]; then
            if res=$(pt "$tmodel" "$batch" "$steps" "$warmup"); then
                read -r ms setting <<<"$res"
                echo "$name round $r: pytorch best      $ms ms/step ($setting)"
                [ "$(lower "$ms" "$best_pt")" = "$ms" ] && pt_setting=$setting
                best_pt=$(lower "$ms" "$best_pt")
            else echo "$name: FAILED: pytorch" >&2; status=1; fi
        fi
    done
    table+=("$(printf '%-19s %5s %10s %10s %7s %9s %10s %7s %10s %-17s' "$name" "$batch" \
        "${best_def:--}" "${best_one:--}" "$(ratio "$best_def" "$best_one")" "${at1:--}/$steps" \
        "${best_base:--}" "$(ratio "$best_base" "$best_one")" "${best_pt:--}" "${pt_setting:--}")")
done
stop_competitor

echo
echo "best of $ROUNDS rounds, ms/step; $([ "$COMPETITOR" = 1 ] && echo "busy: one CPU-bound process on core $CORE" || echo "no competitor");" \
     "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-19s %5s %10s %10s %7s %9s %10s %7s %10s %-17s\n' model batch default threads=1 ratio "on 1 thr" base base/t1 pytorch "pytorch T,B,wait"
for line in "${table[@]}"; do echo "$line"; done
exit $status
