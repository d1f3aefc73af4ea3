#!/usr/bin/env bash
# End-to-end tests of the data side of the nnzoo program: training on an
# image folder (PNG and JPEG) and on CIFAR-10 files, the same bytes on any
# thread count, with or without background loading, and across a resume;
# unreadable images (an error, or skipped with a warning); building without
# data; and `nnzoo predict` with its errors. The images are made here
# (python3's standard library writes the PNGs; JPEGs too when PIL is there).
set -u
NNZOO=${NNZOO:-./nnzoo}
# $T, ok, bad, expect_error
. "$(dirname "${BASH_SOURCE[0]}")/lib_e2e.sh"

# expect_train_error NAME PATTERN -- command...: a training run that fails
# once it reads the data: exit 2, its start line, then one error line.
expect_train_error() {
    local name=$1 pattern=$2
    shift 3
    "$@" >"$T/out" 2>"$T/err"
    local got=$?
    if [ "$got" -ne 2 ]; then bad "$name" "exit $got, expected 2: $(cat "$T/err")"
    elif [ "$(grep -vc '^nnzoo: training ' "$T/err")" -ne 1 ]; then bad "$name" "expected one error line: $(cat "$T/err")"
    elif ! tail -1 "$T/err" | grep -qE -- "$pattern"; then bad "$name" "message: $(tail -1 "$T/err") -- expected /$pattern/"
    else ok "$name"; fi
}

# same_weights A B: the tensors of two checkpoints are identical (their
# metadata holds the config, which may differ in data.workers).
same_weights() {
    $PY - "$1" "$2" <<'EOF'
import json, struct, sys
def tensors(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    h.pop("__metadata__", None)
    return {k: b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in h.items()}
sys.exit(0 if tensors(sys.argv[1]) == tensors(sys.argv[2]) else 1)
EOF
}

# Debian's python3 first: it may have PIL, which writes the JPEGs.
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
if ! command -v $PY >/dev/null 2>&1; then
    echo "SKIPPED: e2e data tests need python3 to write the test images"
    exit 0
fi

# --- an image folder: 3 classes told apart by colour, images of varying sizes
$PY - "$T/imf" <<'EOF'
import os, random, struct, sys, zlib
root = sys.argv[1]
try:
    from PIL import Image
except ImportError:
    Image = None

def png(path, w, h, rgb):
    raw = b"".join(b"\x00" + bytes(rgb(x, y)[c] for x in range(w) for c in range(3)) for y in range(h))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))

random.seed(1)
for split, n in (("train", 16), ("val", 4)):
    for ci, cls in enumerate(["blue", "green", "red"]):
        os.makedirs(f"{root}/{split}/{cls}", exist_ok=True)
        for i in range(n):
            w, h = random.randint(24, 48), random.randint(24, 48)
            base = [40, 40, 40]
            base[2 - ci] = 220
            noise = random.Random(i * 7 + ci)
            rgb = lambda x, y: tuple(max(0, min(255, v + noise.randint(-30, 30))) for v in base)
            if Image is not None and i % 3 == 0:
                im = Image.new("RGB", (w, h))
                im.putdata([rgb(x, y) for y in range(h) for x in range(w)])
                im.save(f"{root}/{split}/{cls}/img{i:02d}.jpg", quality=90)
            else:
                png(f"{root}/{split}/{cls}/img{i:02d}.png", w, h, rgb)
EOF
cat >"$T/imf.json" <<EOF
{"model": {"name": "lenet5"},
 "data": {"name": "image_folder", "root": "$T/imf", "val_size": 6,
          "transforms": {"train": [{"name": "random_resized_crop", "size": 32, "scale": [0.5, 1]},
                                   {"name": "random_horizontal_flip"}],
                         "eval": [{"name": "resize", "size": 36}, {"name": "center_crop", "size": 32}]}},
 "train": {"epochs": 3, "batch_size": 8, "eval_batch_size": 16, "seed": 3,
           "optimizer": {"name": "sgd", "lr": 0.05, "momentum": 0.9}}}
EOF
CFG=$T/imf.json

"$NNZOO" train "$CFG" -o "$T/a" 2>"$T/a.log"
code=$?
acc=$(grep '"epoch": 3,' "$T/a/metrics.jsonl" 2>/dev/null | sed -n 's/.*"test_accuracy": \([0-9.]*\).*/\1/p')
if [ $code -eq 0 ] && awk -v a="$acc" 'BEGIN { exit !(a >= 0.9) }'; then ok "image folder: trains, test accuracy $acc"
else bad "image folder: trains" "exit $code, test accuracy '$acc': $(tail -2 "$T/a.log")"; fi
grep -q '"random_resized_crop"' "$T/a/config.json" && grep -qE '"workers":[[:space:]]*1' "$T/a/config.json" \
    && ok "config.json shows the transforms and data.workers" || bad "config.json shows the transforms and data.workers"

# --- the same bytes: threads, background loading, resume
"$NNZOO" train "$CFG" -o "$T/t1" --threads 1 2>/dev/null
"$NNZOO" train "$CFG" -o "$T/t2" --threads 2 2>/dev/null
cmp -s "$T/t1/last.safetensors" "$T/t2/last.safetensors" && ok "random transforms: --threads 1 and 2 give identical checkpoints" \
    || bad "random transforms: --threads 1 and 2 give identical checkpoints"
"$NNZOO" train "$CFG" -o "$T/w0" --set data.workers=0 2>/dev/null
"$NNZOO" train "$CFG" -o "$T/w3" --set data.workers=3 2>/dev/null
same_weights "$T/a/last.safetensors" "$T/w0/last.safetensors" && same_weights "$T/a/last.safetensors" "$T/w3/last.safetensors" \
    && ok "random transforms: identical weights with 0, 1 or 3 loading threads" \
    || bad "random transforms: identical weights with 0, 1 or 3 loading threads"
"$NNZOO" train "$CFG" -o "$T/r" --set train.epochs=1 2>/dev/null
"$NNZOO" train "$CFG" --resume "$T/r" 2>/dev/null
cmp -s "$T/a/last.safetensors" "$T/r/last.safetensors" && ok "random transforms: 1 epoch + resumed 2 == 3 epochs" \
    || bad "random transforms: 1 epoch + resumed 2 == 3 epochs"

# --- predict
"$NNZOO" predict "$CFG" --checkpoint "$T/a/last.safetensors" "$T"/imf/val/red/img01.png "$T"/imf/val/blue/img02.png --topk 2 >"$T/p.txt" 2>"$T/p.err"
code=$?
if [ $code -eq 0 ] && [ "$(wc -l <"$T/p.txt")" -eq 2 ] && grep -qE '^.*/red/img01.png: red [0-9.]+, (blue|green) [0-9.]+$' "$T/p.txt" \
    && grep -qE '/blue/img02.png: blue [0-9.]+, ' "$T/p.txt"; then ok "predict: top-2 folder names, one line per image"
else bad "predict: top-2 folder names" "exit $code: $(cat "$T/p.txt" "$T/p.err")"; fi
"$NNZOO" predict "$CFG" --checkpoint "$T/a/last.safetensors" "$T"/imf/val/green/img01.png --json >"$T/p.json"
grep -qE '^\{"image": ".*/green/img01.png", "predictions": \[\{"class": "green", "index": 1, "probability": [0-9.]+\}, \{"class": "[a-z]+", "index": [02], "probability": [0-9.]+\}, \{.*\}\]\}$' "$T/p.json" \
    && ok "predict --json: one line, classes with index and probability" || bad "predict --json" "$(cat "$T/p.json")"
printf 'not an image' >"$T/corrupt.png"
head -c 100 "$T/imf/val/red/img01.png" >"$T/cut.png"
expect_error "predict: missing image" 2 "nnzoo: $T/missing.png: cannot open: No such file or directory" \
    -- "$NNZOO" predict "$CFG" --checkpoint "$T/a/last.safetensors" "$T/missing.png"
expect_error "predict: corrupt image" 2 "corrupt.png: not a PNG or JPEG file" \
    -- "$NNZOO" predict "$CFG" --checkpoint "$T/a/last.safetensors" "$T/corrupt.png"
expect_error "predict: truncated image" 2 "cut.png: truncated at byte 100" \
    -- "$NNZOO" predict "$CFG" --checkpoint "$T/a/last.safetensors" "$T/cut.png"
expect_error "predict: no checkpoint" 2 "missing --checkpoint FILE" -- "$NNZOO" predict "$CFG" "$T/cut.png"
expect_error "predict: no image" 2 "missing IMAGE" -- "$NNZOO" predict "$CFG" --checkpoint "$T/a/last.safetensors"

# --- unreadable files while training: an error naming the file, or skipped
cp "$T/cut.png" "$T/imf/train/green/zz_cut.png"
expect_train_error "training on a truncated image stops with its name" "^nnzoo: .*imf/train/green/zz_cut.png: truncated at byte 100" \
    -- "$NNZOO" train "$CFG" -o "$T/c1"
"$NNZOO" train "$CFG" -o "$T/c2" --set data.skip_corrupt=true >/dev/null 2>"$T/c2.log"
code=$?
warnings=$(grep -c 'warning: .*zz_cut.png: truncated at byte 100.*; skipped (data.skip_corrupt)' "$T/c2.log")
[ $code -eq 0 ] && [ "$warnings" -eq 1 ] && ok "data.skip_corrupt: trains, one warning for the file over 3 epochs" \
    || bad "data.skip_corrupt" "exit $code, $warnings warnings: $(grep -v '^epoch' "$T/c2.log" | tail -3)"
rm "$T/imf/train/green/zz_cut.png"

# --- building without the data: ImageNet-shaped configs need only data.num_classes
cat >"$T/inet.json" <<EOF
{"model": {"name": "lenet5"}, "data": {"name": "image_folder", "num_classes": 1000, "image_size": 64}}
EOF
# LeNet-5 at 3x64x64 with 1000 classes has 474476 parameters.
"$NNZOO" train "$T/inet.json" -o "$T/i" --init-only 2>"$T/i.log" | grep -q "(474476 parameters)" \
    && ok "image_folder without data: --init-only from data.num_classes and data.image_size" \
    || bad "image_folder without data" "$(cat "$T/i.log")"
expect_error "image_folder without data or num_classes" 2 "data.num_classes: image_folder finds its classes in the data" \
    -- "$NNZOO" train "$T/inet.json" -o "$T/i2" --init-only --set data.num_classes=0

# --- CIFAR-10 files in the exact layout (sparse: label 0, black), a few steps
mkdir -p "$T/cifar"
for f in data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5 test_batch; do truncate -s 30730000 "$T/cifar/$f.bin"; done
cat >"$T/cifar.json" <<EOF
{"model": {"name": "lenet5"},
 "data": {"name": "cifar10", "root": "$T/cifar", "val_size": 1000,
          "transforms": {"train": [{"name": "random_crop", "size": 32, "padding": 4}, {"name": "random_horizontal_flip"}]}},
 "train": {"epochs": 1, "max_steps": 3, "batch_size": 32, "eval_batch_size": 1000}}
EOF
"$NNZOO" train "$T/cifar.json" -o "$T/cf" >/dev/null 2>"$T/cf.log" && grep -q '"step": 3' "$T/cf/metrics.jsonl" \
    && grep -qE '"mean":[[:space:]]*\[0.4914,' "$T/cf/config.json" \
    && ok "cifar10: 3 steps with random crop and flip; per-channel mean in config.json" || bad "cifar10 training" "$(tail -2 "$T/cf.log")"
"$NNZOO" predict "$T/cifar.json" --checkpoint "$T/cf/last.safetensors" "$T/imf/val/red/img01.png" --topk 1 \
    | grep -qE ': (airplane|automobile|bird|cat|deer|dog|frog|horse|ship|truck) [0-9.]+$' \
    && ok "predict with a cifar10 config: CIFAR-10 class names" || bad "predict with a cifar10 config"
truncate -s 30729000 "$T/cifar/data_batch_2.bin"
expect_train_error "cifar10: truncated batch file" "cifar10: $T/cifar/data_batch_2.bin: truncated at byte 30729000: expected 30730000 bytes" \
    -- "$NNZOO" train "$T/cifar.json" -o "$T/cf2"

# --- Fashion-MNIST: predict turns a colour image grey and 28x28
FMNIST=/usr/share/datasets/fashion-mnist
if [ -e "$FMNIST/train-images-idx3-ubyte.gz" ]; then
    "$NNZOO" train configs/lenet5_fashion_mnist.json -o "$T/fm" --set data.train_limit=2000 --set data.val_size=200 \
        --set train.epochs=1 --set train.eval_batch_size=500 >/dev/null 2>&1
    "$NNZOO" predict configs/lenet5_fashion_mnist.json --checkpoint "$T/fm/last.safetensors" "$T"/imf/val/red/img01.png --topk 3 \
        | grep -qE ': (T-shirt/top|Trouser|Pullover|Dress|Coat|Sandal|Shirt|Sneaker|Bag|Ankle boot) [0-9.]+, ' \
        && ok "predict with a fashion_mnist config: Fashion-MNIST class names" || bad "predict with a fashion_mnist config"
    "$NNZOO" train configs/lenet5_fashion_mnist.json -o "$T/fm3" --set data.pad=2 --set data.channels=3 --init-only >/dev/null \
        && ok "fashion_mnist with data.pad=2, data.channels=3 builds (3x32x32)" || bad "fashion_mnist padded to 3x32x32"
else
    echo "skipped: Fashion-MNIST predict ($FMNIST not installed)"
fi

echo "e2e data: $pass passed, $fail failed"
[ $fail -eq 0 ]
