#!/usr/bin/env bash
# Accuracy curves side by side: ResNet-18 with the cifar stem on
# Fashion-MNIST padded to 32x32 and repeated to 3 channels, trained by nnzoo
# and by PyTorch (bench/torch_curve.py) with the same recipe, then the test
# accuracy of each epoch on both sides and the largest gap.
#
# The recipe, set on nnzoo with --set whatever CONFIG says, and given to
# torch_curve.py from the config nnzoo resolved (RUNDIR/config.json):
#   data    the first $TRAIN_IMAGES training images, no validation split
#           (data.val_size 0), the whole 10,000-image test set for accuracy;
#           pad 2 (zero bytes), 3 channels, nnzoo's Fashion-MNIST mean and
#           std; no augmentation (data.transforms.train and .eval empty)
#   train   batch 128 (the last batch of an epoch short), $EPOCHS epochs,
#           mean cross-entropy, SGD lr $LR momentum 0.9 weight decay 5e-4 on
#           every parameter, cosine schedule over all the steps (T_max =
#           steps per epoch x epochs, stepped after every optimizer step)
#   init    with INIT=nnzoo (the default), PyTorch loads the weights nnzoo
#           starts from (`nnzoo train --init-only`), so the curves differ only
#           by batch order and rounding; with INIT=torch each side draws its
#           own (torchvision's init, which nnzoo's copies in distribution)
#   order   SHUFFLE=0 (default): both in file order (the same batches);
#           SHUFFLE=1: each side reshuffles every epoch with its own seeded
#           generator
# Both sides run on 2 threads, one after the other.
#
# Environment:
#   NNZOO         the nnzoo binary (default ./nnzoo)
#   TORCH_PYTHON  Debian's python with python3-torch (default /usr/bin/python3)
#   CONFIG        the nnzoo config (default configs/resnet18_fashion_mnist.json)
#   TRAIN_IMAGES  training images (default 10000)
#   EPOCHS        epochs (default 3)
#   INIT          nnzoo or torch (default nnzoo)
#   SHUFFLE       1 or 0 (default 0)
#   LR            SGD's learning rate (default 0.02)
#   OUT           where the runs go (default runs/curve-<date>-<time>; must not exist)
#   BAR           the largest acceptable gap, in accuracy points (default 1)
#
# Prints a table (epoch, nnzoo and PyTorch test accuracy in %, gap in points)
# and the max gap. Exits 0 when the max gap is within BAR, 1 when it is not or
# a side failed, 2 on a bad variable; "SKIPPED: ..." and 0 without torch.
set -u -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NNZOO=${NNZOO:-./nnzoo}
TORCH_PYTHON=${TORCH_PYTHON:-/usr/bin/python3}
CONFIG=${CONFIG:-configs/resnet18_fashion_mnist.json}
TRAIN_IMAGES=${TRAIN_IMAGES:-10000}
EPOCHS=${EPOCHS:-3}
INIT=${INIT:-nnzoo}
SHUFFLE=${SHUFFLE:-0}
BAR=${BAR:-1}
LR=${LR:-0.02}
BATCH=128
THREADS=2
MODEL=resnet18

bad() {
    echo "curve.sh: $*" >&2
    exit 2
}
[[ $TRAIN_IMAGES =~ ^[1-9][0-9]*$ ]] && [ "$TRAIN_IMAGES" -le 60000 ] ||
    bad "TRAIN_IMAGES must be in 1..60000, not '$TRAIN_IMAGES'"
[[ $EPOCHS =~ ^[1-9][0-9]*$ ]] || bad "EPOCHS must be a positive integer, not '$EPOCHS'"
[ "$INIT" = nnzoo ] || [ "$INIT" = torch ] || bad "INIT must be nnzoo or torch, not '$INIT'"
[ "$SHUFFLE" = 1 ] || [ "$SHUFFLE" = 0 ] || bad "SHUFFLE must be 1 or 0, not '$SHUFFLE'"
[[ $BAR =~ ^[0-9]+([.][0-9]+)?$ ]] || bad "BAR must be a number of points, not '$BAR'"
[[ $LR =~ ^[0-9]*[.]?[0-9]+([eE]-?[0-9]+)?$ ]] || bad "LR must be a positive number, not '$LR'"

# Relative paths are taken from where we were started; then work from the
# repository root.
case $NNZOO in
    /*) ;;
    */*) NNZOO=$PWD/$NNZOO ;;
esac
case $CONFIG in /*) ;; *) CONFIG=$PWD/$CONFIG ;; esac
OUT=${OUT:-runs/curve-$(date +%Y%m%d-%H%M%S)}
case $OUT in /*) ;; *) OUT=$PWD/$OUT ;; esac
cd "$here/.." || exit 1

if ! "$TORCH_PYTHON" -c 'import torch' >/dev/null 2>&1; then
    echo "SKIPPED: python3-torch not installed"
    exit 0
fi
[ -x "$NNZOO" ] || bad "nnzoo binary '$NNZOO' not found or not executable (run make)"
[ -f "$CONFIG" ] || bad "no config $CONFIG"
[ -e "$OUT" ] && bad "$OUT exists; set OUT to a new folder"
mkdir -p "$OUT" || exit 1

steps_per_epoch=$(( (TRAIN_IMAGES + BATCH - 1) / BATCH ))
t_max=$(( steps_per_epoch * EPOCHS ))
shuffle_json=$([ "$SHUFFLE" = 1 ] && echo true || echo false)
recipe=(
    --set model.stem=cifar
    --set data.name=fashion_mnist --set data.pad=2 --set data.channels=3 --set data.resize=0
    --set "data.train_limit=$TRAIN_IMAGES" --set data.val_size=0 --set "data.shuffle=$shuffle_json"
    --set 'data.transforms.train=[]' --set 'data.transforms.eval=[]'
    --set "train.epochs=$EPOCHS" --set "train.batch_size=$BATCH" --set train.max_steps=0
    --set train.loss.name=cross_entropy --set train.loss.label_smoothing=0
    --set train.optimizer.name=sgd --set "train.optimizer.lr=$LR" --set train.optimizer.momentum=0.9
    --set train.optimizer.weight_decay=0.0005 --set train.optimizer.nesterov=false
    --set train.optimizer.dampening=0
    --set train.schedule.name=cosine --set "train.schedule.T_max=$t_max"
    --set train.schedule.interval=step --set train.schedule.eta_min=0
    --set train.schedule.warmup_steps=0
    --set train.l1=0 --set train.clip_grad_value=0 --set train.clip_grad_norm=0
)

echo "== ResNet-18 (cifar stem) on Fashion-MNIST 32x32x3: $TRAIN_IMAGES training images," \
     "$EPOCHS epochs of $steps_per_epoch steps (batch $BATCH), 10000 test images;" \
     "lr $LR, init $INIT, shuffle $SHUFFLE; runs in $OUT"

init_args=()
if [ "$INIT" = nnzoo ]; then
    if ! "$NNZOO" train "$CONFIG" "${recipe[@]}" --init-only -o "$OUT/init" >"$OUT/init.log" 2>&1; then
        echo "curve.sh: FAILED: nnzoo train --init-only (see $OUT/init.log):" >&2
        tail -n 5 "$OUT/init.log" >&2
        exit 1
    fi
    init_args=(--init "$OUT/init/init.safetensors")
fi

echo "-- nnzoo: $NNZOO train $CONFIG --threads $THREADS -o $OUT/nnzoo (log: $OUT/nnzoo.log)"
t0=$SECONDS
if ! "$NNZOO" train "$CONFIG" "${recipe[@]}" --threads "$THREADS" -o "$OUT/nnzoo" >"$OUT/nnzoo.log" 2>&1; then
    echo "curve.sh: FAILED: nnzoo train (see $OUT/nnzoo.log):" >&2
    tail -n 5 "$OUT/nnzoo.log" >&2
    exit 1
fi
nnzoo_s=$((SECONDS - t0))

# The recipe as nnzoo resolved it: what PyTorch must use.
read -r mean std pad channels resize < <("$TORCH_PYTHON" - "$OUT/nnzoo/config.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))["data"]
fmt = lambda v: ",".join(repr(float(x)) for x in (v if isinstance(v, list) else [v]))
print(fmt(d["mean"]), fmt(d["std"]), d.get("pad", 0), d.get("channels", 1), d.get("resize", 0))
EOF
)
if [ -z "${resize:-}" ] || [ "$resize" != 0 ] || [ "$pad" != 2 ] || [ "$channels" != 3 ]; then
    echo "curve.sh: FAILED: $OUT/nnzoo/config.json has data.pad $pad, data.channels $channels," \
         "data.resize $resize; expected 2, 3, 0" >&2
    exit 1
fi

echo "-- pytorch: bench/torch_curve.py (mean $mean, std $std; log: $OUT/torch.log)"
t0=$SECONDS
shuffle_args=()
[ "$SHUFFLE" = 1 ] || shuffle_args=(--no-shuffle)
if ! OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-active} "$TORCH_PYTHON" bench/torch_curve.py --model "$MODEL" \
        --train-images "$TRAIN_IMAGES" --pad "$pad" --channels "$channels" --mean "$mean" --std "$std" \
        --epochs "$EPOCHS" --batch "$BATCH" --lr "$LR" --momentum 0.9 --weight-decay 0.0005 \
        --t-max "$t_max" --interval step --seed 42 --threads "$THREADS" \
        "${shuffle_args[@]}" "${init_args[@]}" --out "$OUT/torch.jsonl" >"$OUT/torch.log" 2>&1; then
    echo "curve.sh: FAILED: bench/torch_curve.py (see $OUT/torch.log):" >&2
    tail -n 5 "$OUT/torch.log" >&2
    exit 1
fi
torch_s=$((SECONDS - t0))

# Side by side. nnzoo's epoch lines are those of metrics.jsonl with a
# test_accuracy.
"$TORCH_PYTHON" - "$OUT/nnzoo/metrics.jsonl" "$OUT/torch.jsonl" "$BAR" "$nnzoo_s" "$torch_s" <<'EOF'
import json, sys
nz = [r for r in map(json.loads, open(sys.argv[1])) if "test_accuracy" in r]
pt = [json.loads(l) for l in open(sys.argv[2])]
bar, nz_s, pt_s = float(sys.argv[3]), sys.argv[4], sys.argv[5]
if len(nz) != len(pt) or not nz:
    sys.exit("curve.sh: nnzoo has %d epochs of metrics, pytorch %d" % (len(nz), len(pt)))
print("%5s %12s %12s %10s %12s %12s" % ("epoch", "nnzoo acc %", "torch acc %", "gap (pts)",
                                         "nnzoo loss", "torch loss"))
gaps = []
for e, (a, b) in enumerate(zip(nz, pt), 1):
    gap = 100.0 * (a["test_accuracy"] - b["test_accuracy"])
    gaps.append(abs(gap))
    print("%5d %12.2f %12.2f %+10.2f %12.4f %12.4f" % (e, 100 * a["test_accuracy"],
          100 * b["test_accuracy"], gap, a.get("train_loss", float("nan")), b["train_loss"]))
worst = max(gaps)
print("max per-epoch gap %.2f points (bar %g): %s; nnzoo %s s, pytorch %s s (training and evaluation)"
      % (worst, bar, "within" if worst <= bar else "NOT within", nz_s, pt_s))
sys.exit(0 if worst <= bar else 1)
EOF
