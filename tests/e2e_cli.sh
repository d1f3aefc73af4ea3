#!/usr/bin/env bash
# End-to-end tests of the nnzoo program: training, resume, determinism,
# signals, divergence, evaluation, and a clear error (exit 2) for each kind
# of bad input. Needs Fashion-MNIST (Debian's dataset-fashion-mnist).
set -u
NNZOO=${NNZOO:-./nnzoo}
FMNIST=/usr/share/datasets/fashion-mnist
CFG=configs/lenet5_fashion_mnist.json
# $T, ok, bad, expect_error
. "$(dirname "${BASH_SOURCE[0]}")/lib_e2e.sh"

if [ ! -e "$FMNIST/train-images-idx3-ubyte.gz" ]; then
    echo "SKIPPED: e2e tests need $FMNIST (apt-get install dataset-fashion-mnist)"
    exit 0
fi

# Small, fast runs: 3000 training images, 500 of them for validation.
SMALL=(--set data.train_limit=3000 --set data.val_size=500 --set train.eval_batch_size=500)

# --- the CLI's own words
"$NNZOO" --version | grep -qE '^nnzoo [0-9]+\.[0-9]+' && ok "--version" || bad "--version"
for c in train eval bench; do
    "$NNZOO" $c --help | grep -q "usage: nnzoo $c" && ok "$c --help" || bad "$c --help"
done
expect_error "unknown command" 2 'unknown command "trian"' -- "$NNZOO" trian

# --- bad configs
printf '{\n  "model": {"name": "lenet5"},\n  "train": {"epochs": 3,, }\n}\n' >"$T/malformed.json"
expect_error "malformed JSON names file and line" 2 "malformed.json:3:[0-9]+: invalid JSON" -- "$NNZOO" train "$T/malformed.json" -o "$T/r0"
expect_error "unknown key with suggestion" 2 'unknown key `train.epoch`.*did you mean `train.epochs`' -- "$NNZOO" train $CFG -o "$T/r0" --set train.epoch=3
expect_error "wrong type" 2 'train.batch_size: expected an integer.*found "many"' -- "$NNZOO" train $CFG -o "$T/r0" --set train.batch_size='"many"'
expect_error "out of range" 2 'train.optimizer.momentum: expected a number in \[0, 1\]' -- "$NNZOO" train $CFG -o "$T/r0" --set train.optimizer.momentum=1.5
expect_error "unknown model" 2 'model.name: expected one of .*lenet5' -- "$NNZOO" train $CFG -o "$T/r0" --set model.name=lenet6
expect_error "missing config file" 2 'nope.json: cannot open' -- "$NNZOO" train "$T/nope.json"
expect_error "bad --set" 2 'expected dotted.path=value' -- "$NNZOO" train $CFG -o "$T/r0" --set train.epochs
[ ! -e "$T/r0" ] && ok "no run folder made for a bad config" || bad "no run folder made for a bad config"

# --- bad data
expect_error "missing dataset" 2 "$T/none/train-images-idx3-ubyte.gz: cannot open" -- "$NNZOO" train $CFG -o "$T/r0" --set data.root="$T/none"
mkdir -p "$T/trunc"
for f in train-images-idx3 train-labels-idx1 t10k-labels-idx1; do ln -s "$FMNIST/$f-ubyte.gz" "$T/trunc/"; done
head -c 200000 "$FMNIST/t10k-images-idx3-ubyte.gz" >"$T/trunc/t10k-images-idx3-ubyte.gz"
expect_error "truncated .gz" 2 "t10k-images-idx3-ubyte.gz: .*truncated" -- "$NNZOO" train $CFG -o "$T/r0" --set data.root="$T/trunc"

# --- a short real training run
"$NNZOO" train $CFG -o "$T/a" "${SMALL[@]}" --set train.epochs=2 --set train.log_every=10 2>"$T/a.log"
code=$?
if [ $code -eq 0 ] && [ -s "$T/a/last.safetensors" ] && [ -s "$T/a/best.safetensors" ] && [ -s "$T/a/config.json" ]; then
    ok "train writes config, last and best"
else bad "train writes config, last and best" "exit $code: $(tail -3 "$T/a.log")"; fi
epochs=$(grep -c '"epoch": [0-9]*, "step"' "$T/a/metrics.jsonl")
steps=$(grep -c '"step": [0-9]*, "epoch"' "$T/a/metrics.jsonl")
[ "$epochs" -eq 2 ] && [ "$steps" -ge 7 ] && ok "metrics.jsonl has epoch and step lines" || bad "metrics.jsonl has epoch and step lines" "$epochs epoch lines, $steps step lines"
grep -q '"test_accuracy"' "$T/a/metrics.jsonl" && grep -q '"val_accuracy"' "$T/a/metrics.jsonl" && grep -q '"seconds"' "$T/a/metrics.jsonl" \
    && ok "epoch lines carry accuracies and time" || bad "epoch lines carry accuracies and time"
acc=$("$NNZOO" eval $CFG "${SMALL[@]}" --checkpoint "$T/a/last.safetensors" --json | sed -n 's/.*"accuracy": \([0-9.]*\).*/\1/p')
last_test=$(grep '"epoch": 2,' "$T/a/metrics.jsonl" | sed -n 's/.*"test_accuracy": \([0-9.]*\).*/\1/p')
[ -n "$acc" ] && [ "$acc" = "$last_test" ] && ok "eval --json agrees with the run's last test accuracy ($acc)" || bad "eval agrees with the run" "eval $acc, metrics $last_test"

# --- learning: 2 epochs on 19000 images reach 0.83 test accuracy here (seeded,
# the same on any thread count); a broken gradient or loader stays far below.
"$NNZOO" train $CFG -o "$T/acc" --set data.train_limit=20000 --set data.val_size=1000 --set train.epochs=2 2>/dev/null
acc=$(grep '"epoch": 2,' "$T/acc/metrics.jsonl" | sed -n 's/.*"test_accuracy": \([0-9.]*\).*/\1/p')
if awk -v a="$acc" 'BEGIN { exit !(a >= 0.80) }'; then ok "2 epochs on 19000 images: test accuracy $acc >= 0.80"; else bad "test accuracy after 2 epochs" "got '$acc', expected >= 0.80"; fi
"$NNZOO" eval $CFG "${SMALL[@]}" --checkpoint "$T/a/last.safetensors" --split val --json | grep -q '"split": "val", "loss": [0-9.]*, "accuracy": [0-9.]*, "samples": 500' \
    && ok "eval --split val" || bad "eval --split val"
expect_error "refuses to train over a run" 2 "already holds a run" -- "$NNZOO" train $CFG -o "$T/a" "${SMALL[@]}"

# --- resume: 2 epochs at once == 1 epoch + resume for 1 more, bit for bit
"$NNZOO" train $CFG -o "$T/b" "${SMALL[@]}" --set train.epochs=1 2>/dev/null
"$NNZOO" train $CFG --resume "$T/b" "${SMALL[@]}" --set train.epochs=2 --set train.log_every=10 2>/dev/null
cmp -s "$T/a/last.safetensors" "$T/b/last.safetensors" && ok "2 epochs == 1 + resumed 1 (identical checkpoint)" || bad "2 epochs == 1 + resumed 1"

# --- threads: 1 and 2 threads give identical weights
"$NNZOO" train $CFG -o "$T/t1" "${SMALL[@]}" --set train.epochs=1 --threads 1 2>/dev/null
"$NNZOO" train $CFG -o "$T/t2" "${SMALL[@]}" --set train.epochs=1 --threads 2 2>/dev/null
cmp -s "$T/t1/last.safetensors" "$T/t2/last.safetensors" && ok "--threads 1 and 2 give identical weights" || bad "--threads 1 and 2 give identical weights"

# --- shuffle off, max_steps
"$NNZOO" train $CFG -o "$T/m" "${SMALL[@]}" --set train.max_steps=5 --set data.shuffle=false 2>/dev/null
grep -q '"step": 5' "$T/m/metrics.jsonl" && ! grep -q '"step": 6' "$T/m/metrics.jsonl" && ok "train.max_steps stops at 5" || bad "train.max_steps stops at 5"

# --- Ctrl-C: saves after the current step, exits 130; the run resumes to the same end
"$NNZOO" train $CFG -o "$T/s" --set train.epochs=1 --set data.val_size=500 2>"$T/s.log" &
pid=$!
for _ in $(seq 50); do grep -q 'batch\|samples/s' "$T/s.log" 2>/dev/null && break; sleep 0.1; done
sleep 0.3
kill -INT $pid
wait $pid
code=$?
if [ $code -eq 130 ] && [ -s "$T/s/last.safetensors" ] && grep -q "stopped at step" "$T/s.log"; then
    ok "SIGINT saves last.safetensors and exits 130"
else bad "SIGINT saves last.safetensors and exits 130" "exit $code: $(tail -2 "$T/s.log")"; fi
"$NNZOO" train $CFG -o "$T/s2" --set train.epochs=1 --set data.val_size=500 2>/dev/null
"$NNZOO" train $CFG --resume "$T/s" --set train.epochs=1 --set data.val_size=500 2>/dev/null
cmp -s "$T/s/last.safetensors" "$T/s2/last.safetensors" && ok "interrupted + resumed == uninterrupted" || bad "interrupted + resumed == uninterrupted"

# --- divergence: a NaN/Inf loss stops with the step named, exit 1, checkpoint kept
cp "$T/a/last.safetensors" "$T/a.keep"
"$NNZOO" train $CFG --resume "$T/a" "${SMALL[@]}" --set train.epochs=3 --set train.optimizer.lr=100000 >/dev/null 2>"$T/nan.log"
code=$?
if [ $code -eq 1 ] && grep -qE 'diverged: loss is (nan|-?inf) at step [0-9]+' "$T/nan.log" && cmp -s "$T/a/last.safetensors" "$T/a.keep"; then
    ok "divergence: exit 1, names the step, keeps last.safetensors"
else bad "divergence" "exit $code: $(tail -1 "$T/nan.log")"; fi

# --- lr schedules from the config
"$NNZOO" train $CFG -o "$T/cos" "${SMALL[@]}" --set train.epochs=2 --set train.log_every=10 \
    --set train.schedule.name=cosine --set train.schedule.T_max=2 2>/dev/null
lr1=$(grep -m1 '"step": 10, "epoch": 1' "$T/cos/metrics.jsonl" | sed -n 's/.*"lr": \([0-9.e-]*\).*/\1/p')
lr2=$(grep -m1 '"epoch": 2, "loss"' "$T/cos/metrics.jsonl" | sed -n 's/.*"lr": \([0-9.e-]*\).*/\1/p')
[ "$lr1" = "0.02" ] && [ "$lr2" = "0.01" ] && ok "cosine schedule: lr 0.02 then 0.01 (T_max 2)" || bad "cosine schedule" "lr $lr1 then $lr2"
expect_error "schedule needs its key" 2 'train.schedule.step_size: missing; the step schedule needs it' -- "$NNZOO" train $CFG -o "$T/r0" --set train.schedule.name=step
# A whole section replaced by one --set (the config's cosine keys would be unknown to plateau).
PLATEAU=(--set 'train.schedule={"name": "plateau", "patience": 0, "factor": 0.5, "threshold": 0.5}')
"$NNZOO" train $CFG -o "$T/p3" "${SMALL[@]}" "${PLATEAU[@]}" --set train.epochs=3 2>/dev/null
"$NNZOO" train $CFG -o "$T/p1" "${SMALL[@]}" "${PLATEAU[@]}" --set train.epochs=1 2>/dev/null
"$NNZOO" train $CFG --resume "$T/p1" "${SMALL[@]}" "${PLATEAU[@]}" --set train.epochs=3 2>/dev/null
lrs=$(grep '"epoch": [0-9]*, "step"' "$T/p3/metrics.jsonl" | sed -n 's/.*"lr": \([0-9.e-]*\).*/\1/p' | tr '\n' ' ')
cmp -s "$T/p3/last.safetensors" "$T/p1/last.safetensors" && [ "$lrs" != "0.02 0.02 0.02 " ] \
    && ok "plateau schedule resumes bit for bit (lr by epoch: $lrs)" || bad "plateau resume" "lr by epoch: $lrs"

# --- early stopping: val accuracy must gain more than 0.5 per epoch, so epoch 1
# sets the best and epochs 2 and 3 use up a patience of 2; a resume stays stopped.
ES=(--set train.early_stopping.patience=2 --set train.early_stopping.metric=val_accuracy --set train.early_stopping.min_delta=0.5)
"$NNZOO" train $CFG -o "$T/es" "${SMALL[@]}" "${ES[@]}" --set train.epochs=10 2>"$T/es.err"
epochs=$(grep -c '"epoch": [0-9]*, "step"' "$T/es/metrics.jsonl")
grep -q '"early_stop": {"epoch": 3, "metric": "val_accuracy"' "$T/es/metrics.jsonl" && [ "$epochs" -eq 3 ] \
    && grep -q "early stopping: val_accuracy has not improved by more than 0.5 for 2 epochs" "$T/es.err" \
    && ok "early stopping after 3 epochs (patience 2)" || bad "early stopping" "$epochs epochs: $(tail -1 "$T/es/metrics.jsonl")"
cp "$T/es/last.safetensors" "$T/es_before.safetensors"
"$NNZOO" train $CFG --resume "$T/es" "${SMALL[@]}" "${ES[@]}" --set train.epochs=10 2>/dev/null
cmp -s "$T/es/last.safetensors" "$T/es_before.safetensors" && ok "a resumed early-stopped run stays stopped" || bad "early stop resume"
expect_error "early stopping on val needs a val split" 2 'train.early_stopping.metric: val_loss needs a validation split' -- "$NNZOO" train $CFG -o "$T/r0" --set data.val_size=0 --set train.early_stopping.patience=1

# --- L-BFGS, full batch, resumed bit for bit
LB=(--set data.train_limit=1000 --set data.val_size=0 --set train.batch_size=1000 --set train.eval_batch_size=1000
    --set 'train.optimizer={"name": "lbfgs", "max_iter": 4, "history_size": 5, "line_search_fn": "strong_wolfe"}'
    --set 'train.schedule={"name": "constant"}')
"$NNZOO" train $CFG -o "$T/lb3" "${LB[@]}" --set train.epochs=3 2>/dev/null
"$NNZOO" train $CFG -o "$T/lb1" "${LB[@]}" --set train.epochs=1 2>/dev/null
"$NNZOO" train $CFG --resume "$T/lb1" "${LB[@]}" --set train.epochs=3 2>/dev/null
l1=$(grep -m1 '"epoch": 1, "step"' "$T/lb3/metrics.jsonl" | sed -n 's/.*"train_loss": \([0-9.]*\).*/\1/p')
l3=$(grep -m1 '"epoch": 3, "step"' "$T/lb3/metrics.jsonl" | sed -n 's/.*"train_loss": \([0-9.]*\).*/\1/p')
cmp -s "$T/lb3/last.safetensors" "$T/lb1/last.safetensors" && awk "BEGIN{exit !($l3 < $l1)}" \
    && ok "L-BFGS trains (loss $l1 -> $l3) and resumes bit for bit" || bad "L-BFGS" "loss $l1 -> $l3"
expect_error "L-BFGS line search name" 2 'train.optimizer.line_search_fn: expected one of none, strong_wolfe; found "wolfe"' -- "$NNZOO" train $CFG -o "$T/r0" --set train.optimizer.name=lbfgs --set train.optimizer.line_search_fn=wolfe

# --- init-only
"$NNZOO" train $CFG -o "$T/i" --init-only >/dev/null && [ -s "$T/i/init.safetensors" ] && [ ! -e "$T/i/last.safetensors" ] \
    && ok "--init-only writes init.safetensors only" || bad "--init-only"

# --- corrupt checkpoints: refused with a clear error, exit 2
ck="$T/a/best.safetensors"
head -c 1000 "$ck" >"$T/trunc.safetensors"
expect_error "truncated checkpoint" 2 'trunc.safetensors: .*' -- "$NNZOO" eval $CFG "${SMALL[@]}" --checkpoint "$T/trunc.safetensors"
cp "$ck" "$T/flip.safetensors"
printf '\xff\xff\xff\xff\xff\xff\x00\x00' | dd of="$T/flip.safetensors" bs=1 seek=0 conv=notrunc 2>/dev/null
expect_error "corrupt header length" 2 'flip.safetensors: .*' -- "$NNZOO" eval $CFG "${SMALL[@]}" --checkpoint "$T/flip.safetensors"
expect_error "missing checkpoint" 2 'absent.safetensors: cannot open' -- "$NNZOO" eval $CFG "${SMALL[@]}" --checkpoint "$T/absent.safetensors"
expect_error "resume without a run" 2 'no last.safetensors there' -- "$NNZOO" train $CFG --resume "$T/none"

echo "e2e: $pass passed, $fail failed"
[ $fail -eq 0 ]
