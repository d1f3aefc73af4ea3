#!/usr/bin/python3
"""PyTorch side of bench/curve.sh: train a model of bench/torch_models.py on
Fashion-MNIST with nnzoo's recipe and print the test accuracy of each epoch.

The recipe is given in full on the command line (curve.sh takes it from the
config nnzoo resolved, RUNDIR/config.json), so both sides run the same one:

  data     the first --train-images images of train-images-idx3-ubyte.gz (no
           validation split), the whole t10k set for the test accuracy; each
           image padded by --pad zero bytes on every side, scaled and
           normalized as nnzoo does it, (byte / 255 - mean[c]) / std[c] in
           float32, the grey channel repeated to --channels; no augmentation
  order    reshuffled each epoch (torch.Generator seeded by --seed and the
           epoch; nnzoo's own permutations differ, the distribution is the
           same) or, with --no-shuffle, file order on both sides (the same
           batches), the last batch short
  model    --model from bench/torch_models.py, in train mode; with --init,
           its state_dict loaded from nnzoo's init.safetensors (`nnzoo train
           --init-only`) so both sides start from the same weights
  step     zero_grad, mean cross-entropy, backward, SGD (--lr, --momentum,
           --weight-decay, on every parameter, as torch.optim and nnzoo do)
  lr       CosineAnnealingLR(T_max = --t-max, eta_min 0) stepped after every
           optimizer step (--interval step) or every epoch (--interval epoch)
  eval     after each epoch: eval mode, no grad, batches of 1000

Fashion-MNIST is read from Debian's dataset-fashion-mnist files
(/usr/share/datasets/fashion-mnist/*.gz, IDX format) with gzip and numpy, so
nothing is downloaded. Output: one JSON line per epoch on stdout (`epoch`
from 1, `train_loss` and `train_accuracy` over the epoch's steps, `test_loss`, `test_accuracy`, `lr` of the epoch's last
step, `seconds` of training and evaluation), and the same to --out if given.

Run with Debian's /usr/bin/python3 (torch 1.13, torchvision 0.14).
"""

import argparse
import gzip
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import torch_models  # noqa: E402
from torch_train import openblas_lib  # noqa: E402

DEFAULT_ROOT = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    """A gzipped IDX file (unsigned bytes) as a numpy uint8 array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    if len(data) < 4:
        sys.exit("torch_curve.py: %s: too short for an IDX header" % path)
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        sys.exit("torch_curve.py: %s: not an unsigned-byte IDX file (magic %02x %02x)"
                 % (path, zero, dtype))
    dims = struct.unpack(">%dI" % ndim, data[4:4 + 4 * ndim])
    count = int(np.prod(dims))
    if len(data) != 4 + 4 * ndim + count:
        sys.exit("torch_curve.py: %s: %d bytes, the header %s says %d"
                 % (path, len(data), dims, 4 + 4 * ndim + count))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def per_channel(text, channels, what):
    values = [float(v) for v in str(text).strip("[]").split(",") if v.strip()]
    if len(values) == 1:
        values *= channels
    if len(values) != channels:
        sys.exit("torch_curve.py: --%s: expected 1 or %d values, got %s" % (what, channels, text))
    return values


def prepare(images, pad, channels, mean, std):
    """uint8 (N, H, W) -> float32 (N, channels, H + 2 pad, W + 2 pad), padded
    with byte 0 and normalized through a per-channel table, as nnzoo's
    transforms do."""
    if pad:
        images = np.pad(images, ((0, 0), (pad, pad), (pad, pad)))
    out = np.empty((images.shape[0], channels) + images.shape[1:], dtype=np.float32)
    v = np.arange(256, dtype=np.float32) / np.float32(255.0)
    for c in range(channels):
        lut = (v - np.float32(mean[c])) / np.float32(std[c])
        out[:, c] = lut[images]
    return torch.from_numpy(out)


def read_safetensors(path):
    """name -> torch tensor (F32 and I64) of a safetensors file."""
    dtypes = {"F32": np.float32, "I64": np.int64}
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in dtypes:
            sys.exit("torch_curve.py: %s: %s has dtype %s" % (path, name, info["dtype"]))
        a, b = info["data_offsets"]
        arr = np.frombuffer(blob[base + a:base + b], dtype=dtypes[info["dtype"]])
        out[name] = torch.from_numpy(arr.reshape(info["shape"]).copy())
    return out


def load_init(model, path):
    """Loads nnzoo's initial weights; every state_dict entry must be there
    (num_batches_tracked may be missing: it starts at 0 on both sides)."""
    state = {k: v for k, v in read_safetensors(path).items() if not k.startswith("optimizer.")}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        sys.exit("torch_curve.py: %s does not fit the model: missing %s, unexpected %s"
                 % (path, missing[:5], unexpected[:5]))


def evaluate(model, x, y, batch):
    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(y), batch):
            logits = model(x[i:i + batch])
            loss += float(nn.functional.cross_entropy(logits, y[i:i + batch], reduction="sum"))
            correct += int((logits.argmax(1) == y[i:i + batch]).sum())
    model.train()
    return loss / len(y), correct / len(y)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--root", default=DEFAULT_ROOT)
    ap.add_argument("--train-images", type=int, default=10000)
    ap.add_argument("--pad", type=int, default=2)
    ap.add_argument("--channels", type=int, default=3, choices=(1, 3))
    ap.add_argument("--mean", required=True, help="one value or one per channel, comma-separated")
    ap.add_argument("--std", required=True, help="one value or one per channel, comma-separated")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--eval-batch", type=int, default=1000)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--t-max", type=int, required=True, help="cosine T_max, in --interval units")
    ap.add_argument("--interval", choices=("step", "epoch"), default="step")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--no-shuffle", action="store_true")
    ap.add_argument("--init", help="nnzoo's init.safetensors to start from")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", help="also write the JSON lines here")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    blas, _ = openblas_lib()
    if blas is not None:
        blas.openblas_set_num_threads(1)
    torch.manual_seed(args.seed)

    mean = per_channel(args.mean, args.channels, "mean")
    std = per_channel(args.std, args.channels, "std")
    tr_x = read_idx(os.path.join(args.root, "train-images-idx3-ubyte.gz"))
    tr_y = read_idx(os.path.join(args.root, "train-labels-idx1-ubyte.gz"))
    te_x = read_idx(os.path.join(args.root, "t10k-images-idx3-ubyte.gz"))
    te_y = read_idx(os.path.join(args.root, "t10k-labels-idx1-ubyte.gz"))
    if not 0 < args.train_images <= len(tr_y):
        sys.exit("torch_curve.py: --train-images must be in 1..%d" % len(tr_y))
    n = args.train_images
    x_train = prepare(tr_x[:n], args.pad, args.channels, mean, std)
    y_train = torch.from_numpy(tr_y[:n].astype(np.int64))
    x_test = prepare(te_x, args.pad, args.channels, mean, std)
    y_test = torch.from_numpy(te_y.astype(np.int64))

    model, shape, classes = torch_models.build(args.model)
    if tuple(x_train.shape[1:]) != tuple(shape):
        sys.exit("torch_curve.py: the data is %s, %s takes %s"
                 % (tuple(x_train.shape[1:]), args.model, tuple(shape)))
    if args.init:
        load_init(model, args.init)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                          weight_decay=args.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.t_max)
    out = open(args.out, "w") if args.out else None
    steps_per_epoch = math.ceil(n / args.batch)
    print("torch_curve.py: %s, %d training images (%d steps of %d per epoch), %d test images, "
          "%d epochs, torch %s" % (args.model, n, steps_per_epoch, args.batch, len(y_test),
                                   args.epochs, torch.__version__), file=sys.stderr, flush=True)

    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        if args.no_shuffle:
            order = torch.arange(n)
        else:
            g = torch.Generator()
            g.manual_seed(args.seed * 1000003 + epoch)
            order = torch.randperm(n, generator=g)
        total, seen, correct = 0.0, 0, 0
        for i in range(0, n, args.batch):
            idx = order[i:i + args.batch]
            opt.zero_grad()
            logits = model(x_train[idx])
            loss = nn.functional.cross_entropy(logits, y_train[idx])
            loss.backward()
            lr = opt.param_groups[0]["lr"]  # the rate of the epoch's last step, as nnzoo logs
            opt.step()
            if args.interval == "step":
                sched.step()
            total += float(loss) * len(idx)
            seen += len(idx)
            correct += int((logits.detach().argmax(1) == y_train[idx]).sum())
            if not math.isfinite(float(loss)):
                sys.exit("torch_curve.py: the loss is %s at epoch %d" % (float(loss), epoch + 1))
        if args.interval == "epoch":
            sched.step()
        test_loss, test_acc = evaluate(model, x_test, y_test, args.eval_batch)
        rec = {"epoch": epoch + 1, "train_loss": round(total / seen, 6),
               "train_accuracy": round(correct / seen, 6),
               "test_loss": round(test_loss, 6), "test_accuracy": round(test_acc, 6),
               "lr": lr, "seconds": round(time.perf_counter() - t0, 2)}
        line = json.dumps(rec)
        print(line, flush=True)
        if out:
            out.write(line + "\n")
            out.flush()
    if out:
        out.close()


if __name__ == "__main__":
    main()
