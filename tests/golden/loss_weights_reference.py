"""Golden values for the class-weighted losses (tests/test_loss_weights.c), from PyTorch.

Run by hand from the repository root with Debian's python3-torch:

    /usr/bin/python3 tests/golden/loss_weights_reference.py

Every case draws its inputs from a NumPy generator seeded with the case's
position (float32), runs the loss in PyTorch (float32) and writes
tests/golden/loss_weights.safetensors with, per case:

    <case>.x0          the differentiated input (logits, log-probabilities,
                       or probabilities for bce)
    <case>.target      the target (float; class indices as floats)
    <case>.weight      the class weights, (C) (cases with weight=1)
    <case>.pos_weight  bce_with_logits' positive weights, (C) (pos_weight=1)
    <case>.dy          the upstream gradient, the output's shape
    <case>.y           the output (a 0-d output is stored as shape (1))
    <case>.dx0         the gradient of sum(y * dy) with respect to x0

The metadata holds `cases` (names separated by spaces) and `case.<name>`:
the loss's name, then key=value words: reduction=mean|sum|none, p=X
(cross_entropy label smoothing), ignore=N (ignore_index), weight=0|1,
pos_weight=0|1.

bce and bce_with_logits get weights of shape (C), broadcast over the last
dim of a (N, C) input: torch's usual per-class use, and the one nnzoo has.
"""

import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_writer import write  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "loss_weights.safetensors")
RED = ["mean", "sum", "none"]
N, C = 6, 5


def f32(v):
    return np.asarray(v, dtype=np.float32)


def labels_with(rng, ignore):
    lab = rng.integers(0, C, N)
    if ignore is not None:
        lab[1] = ignore
        lab[4] = ignore
    return lab


def long(t):
    return torch.as_tensor(t, dtype=torch.long)


def cases():
    """(name, loss, args, make(rng) -> (x, target, weight, pos_weight), fn(x, t, w, pw) -> y)"""
    out = []
    weights = lambda rng: f32(rng.uniform(0.2, 2.0, C))  # noqa: E731
    for r in RED:
        for ls in (0.0, 0.1):
            for ign in (None, 2):
                name = f"cross_entropy_{r}" + (f"_ls{ls:g}" if ls else "") + ("_ignore" if ign is not None else "")
                ii = -100 if ign is None else ign
                mk = (lambda rng, ign=ign: (f32(rng.uniform(-3, 3, (N, C))), f32(labels_with(rng, ign)),
                                            weights(rng), None))
                out.append((name, "cross_entropy", {"reduction": r, "p": ls, "ignore": ii, "weight": 1}, mk,
                            lambda x, t, w, pw, r=r, ls=ls, ii=ii: F.cross_entropy(
                                x, long(t), weight=w, reduction=r, ignore_index=ii, label_smoothing=ls)))
        for ign in (None, 3):
            ii = -100 if ign is None else ign
            mk = (lambda rng, ign=ign: (f32(np.log(rng.dirichlet(np.ones(C), N)) + rng.uniform(-0.1, 0.1, (N, C))),
                                        f32(labels_with(rng, ign)), weights(rng), None))
            out.append((f"nll_{r}" + ("_ignore" if ign is not None else ""), "nll",
                        {"reduction": r, "ignore": ii, "weight": 1}, mk,
                        lambda x, t, w, pw, r=r, ii=ii: F.nll_loss(x, long(t), weight=w, reduction=r,
                                                                   ignore_index=ii)))
        for with_w, with_pw in ((0, 1), (1, 0), (1, 1)):
            name = f"bce_with_logits_{r}" + ("_weight" if with_w else "") + ("_pos_weight" if with_pw else "")
            mk = (lambda rng, with_w=with_w, with_pw=with_pw: (
                f32(rng.uniform(-5, 5, (4, C))), f32(rng.uniform(0, 1, (4, C))),
                weights(rng) if with_w else None, f32(rng.uniform(0.2, 4.0, C)) if with_pw else None))
            out.append((name, "bce_with_logits", {"reduction": r, "weight": with_w, "pos_weight": with_pw}, mk,
                        lambda x, t, w, pw, r=r: F.binary_cross_entropy_with_logits(
                            x, t, weight=w, pos_weight=pw, reduction=r)))
        mk = (lambda rng: (f32(rng.uniform(0.1, 0.9, (4, C))), f32(rng.uniform(0, 1, (4, C))),
                           weights(rng), None))
        out.append((f"bce_{r}_weight", "bce", {"reduction": r, "weight": 1}, mk,
                    lambda x, t, w, pw, r=r: F.binary_cross_entropy(x, t, weight=w, reduction=r)))
    # A class weighted 0 (a common way to drop a class), smoothing on.
    def mk_zero(rng):
        w = weights(rng)
        w[3] = 0.0
        lab = labels_with(rng, None)
        lab[0] = 3
        return f32(rng.uniform(-3, 3, (N, C))), f32(lab), w, None
    out.append(("cross_entropy_mean_ls0.1_zero_weight", "cross_entropy",
                {"reduction": "mean", "p": 0.1, "ignore": -100, "weight": 1}, mk_zero,
                lambda x, t, w, pw: F.cross_entropy(x, long(t), weight=w, label_smoothing=0.1)))
    return out


def spec(loss, args):
    words = [loss]
    for key, value in args.items():
        if key == "p":
            value = repr(float(value))
        words.append(f"{key}={value}")
    return " ".join(words)


def main():
    torch.set_num_threads(1)
    tensors, meta, names = {}, {}, []
    for seed, (name, loss, args, make, fn) in enumerate(cases()):
        assert name not in names, name
        rng = np.random.default_rng(3000 + seed)
        x, target, weight, pos_weight = make(rng)
        xt = torch.from_numpy(x).requires_grad_(True)
        t = torch.from_numpy(target)
        w = torch.from_numpy(weight) if weight is not None else None
        pw = torch.from_numpy(pos_weight) if pos_weight is not None else None
        y = fn(xt, t, w, pw)
        dy = torch.from_numpy(f32(rng.uniform(-1, 1, tuple(y.shape))))
        (y * dy).sum().backward()
        names.append(name)
        meta[f"case.{name}"] = spec(loss, args)
        tensors[f"{name}.x0"] = xt.detach()
        tensors[f"{name}.target"] = t
        if w is not None:
            tensors[f"{name}.weight"] = w
        if pw is not None:
            tensors[f"{name}.pos_weight"] = pw
        tensors[f"{name}.dy"] = dy.reshape(-1) if y.dim() else dy.reshape(1)
        tensors[f"{name}.y"] = y.detach().reshape(-1) if y.dim() == 0 else y.detach()
        tensors[f"{name}.dx0"] = xt.grad
    meta["cases"] = " ".join(names)
    meta["torch"] = torch.__version__
    write(OUT, tensors, meta)
    print(f"{OUT}: {len(names)} cases, {os.path.getsize(OUT)} bytes")


if __name__ == "__main__":
    main()
