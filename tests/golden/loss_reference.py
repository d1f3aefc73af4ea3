"""Golden values for the losses (tests/test_losses.c), from PyTorch.

Run by hand from the repository root with Debian's python3-torch:

    /usr/bin/python3 tests/golden/loss_reference.py

Every case draws its inputs from a NumPy generator seeded with the case's
position (float32), runs the loss in PyTorch (float32) and writes
tests/golden/losses.safetensors with, per case:

    <case>.x0, <case>.x1   the differentiated inputs (x1: cosine_embedding, sce)
    <case>.target          the target (float; class indices and +-1 labels as floats)
    <case>.dy              the upstream gradient, the output's shape
    <case>.y               the output (a 0-d output is stored as shape (1))
    <case>.dx0, <case>.dx1 the gradients of sum(y * dy) with respect to the inputs

The metadata holds `cases` (names separated by spaces) and `case.<name>`:
the loss's name, then key=value words: reduction=mean|sum|none|batchmean,
p=X (smooth_l1 beta, huber delta, cosine margin, sce alpha, cross_entropy
label smoothing), ignore=N (ignore_index), log_target=0|1, nograd=1 (no
finite-difference check: values on the BCE clamp).

SCE is GraphMAE's scaled cosine error, (1 - cos(x, y))^alpha per row with
F.normalize; GraphMAE takes the mean, the other reductions are added here.
"""

import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_writer import write  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "losses.safetensors")
RED = ["mean", "sum", "none"]


def sce(x, y, alpha, reduction):
    x = F.normalize(x, p=2, dim=-1)
    y = F.normalize(y, p=2, dim=-1)
    loss = (1 - (x * y).sum(dim=-1)).pow(alpha)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def f32(v):
    return np.asarray(v, dtype=np.float32)


def labels_with(rng, n, c, ignore):
    lab = rng.integers(0, c, n)
    if ignore is not None:
        lab[1] = ignore
        lab[4] = ignore
    return lab


def cases():
    """(name, loss, args, make(rng) -> (inputs, target), fn(inputs, target) -> y)"""
    out = []
    pair = lambda lo, hi, tlo, thi, shape=(4, 5): (  # noqa: E731
        lambda rng: ([f32(rng.uniform(lo, hi, shape))], f32(rng.uniform(tlo, thi, shape))))
    for r in RED:
        out.append((f"mse_{r}", "mse", {"reduction": r}, pair(-2, 2, -2, 2),
                    lambda i, t, r=r: F.mse_loss(i[0], t, reduction=r)))
        out.append((f"l1_{r}", "l1", {"reduction": r}, pair(-2, 2, -2, 2),
                    lambda i, t, r=r: F.l1_loss(i[0], t, reduction=r)))
        for beta in (1.0, 0.5):
            out.append((f"smooth_l1_{beta:g}_{r}", "smooth_l1", {"reduction": r, "p": beta},
                        pair(-2, 2, -2, 2),
                        lambda i, t, r=r, b=beta: F.smooth_l1_loss(i[0], t, reduction=r, beta=b)))
        for delta in (1.0, 0.7):
            out.append((f"huber_{delta:g}_{r}", "huber", {"reduction": r, "p": delta},
                        pair(-2, 2, -2, 2),
                        lambda i, t, r=r, d=delta: F.huber_loss(i[0], t, reduction=r, delta=d)))
        out.append((f"bce_{r}", "bce", {"reduction": r}, pair(0.1, 0.9, 0, 1),
                    lambda i, t, r=r: F.binary_cross_entropy(i[0], t, reduction=r)))
        out.append((f"bce_with_logits_{r}", "bce_with_logits", {"reduction": r}, pair(-5, 5, 0, 1),
                    lambda i, t, r=r: F.binary_cross_entropy_with_logits(i[0], t, reduction=r)))
        for ls in (0.0, 0.1):
            for ign in (None, 2):
                name = f"cross_entropy_{r}" + (f"_ls{ls:g}" if ls else "") + ("_ignore" if ign is not None else "")
                ii = -100 if ign is None else ign
                mk = (lambda rng, ign=ign: ([f32(rng.uniform(-3, 3, (6, 5)))],
                                            f32(labels_with(rng, 6, 5, ign))))
                out.append((name, "cross_entropy", {"reduction": r, "p": ls, "ignore": ii}, mk,
                            lambda i, t, r=r, ls=ls, ii=ii: F.cross_entropy(
                                i[0], torch.as_tensor(t, dtype=torch.long), reduction=r,
                                ignore_index=ii, label_smoothing=ls)))
        for ign in (None, 3):
            ii = -100 if ign is None else ign
            mk = (lambda rng, ign=ign: ([f32(np.log(np.random.default_rng(0).dirichlet(np.ones(5), 6))
                                             + rng.uniform(-0.1, 0.1, (6, 5)))],
                                        f32(labels_with(rng, 6, 5, ign))))
            out.append((f"nll_{r}" + ("_ignore" if ign is not None else ""), "nll",
                        {"reduction": r, "ignore": ii}, mk,
                        lambda i, t, r=r, ii=ii: F.nll_loss(i[0], torch.as_tensor(t, dtype=torch.long),
                                                            reduction=r, ignore_index=ii)))
        for margin in (0.0, 0.2):
            mk = (lambda rng: ([f32(rng.uniform(-2, 2, (6, 4))), f32(rng.uniform(-2, 2, (6, 4)))],
                               f32(rng.choice([-1.0, 1.0], 6))))
            out.append((f"cosine_embedding_{margin:g}_{r}", "cosine_embedding",
                        {"reduction": r, "p": margin}, mk,
                        lambda i, t, r=r, m=margin: F.cosine_embedding_loss(
                            i[0], i[1], torch.as_tensor(t), margin=m, reduction=r)))
        for alpha in (1.0, 2.0, 3.0):
            mk = (lambda rng: ([f32(rng.uniform(-2, 2, (6, 4))), f32(rng.uniform(-2, 2, (6, 4)))],
                               f32(np.zeros(1))))
            out.append((f"sce_{alpha:g}_{r}", "sce", {"reduction": r, "p": alpha}, mk,
                        lambda i, t, r=r, a=alpha: sce(i[0], i[1], a, r)))
    for r in RED + ["batchmean"]:
        for lt in (0, 1):
            def mk(rng, lt=lt):
                x = np.log(rng.dirichlet(np.ones(5), 4))
                t = rng.dirichlet(np.ones(5), 4)
                t[0, 2] = 0.0  # 0 * log 0 = 0
                return [f32(x)], f32(np.log(t + 0.05) if lt else t)
            out.append((f"kl_div_{r}_log_target{lt}", "kl_div", {"reduction": r, "log_target": lt}, mk,
                        lambda i, t, r=r, lt=lt: F.kl_div(i[0], torch.as_tensor(t), reduction=r,
                                                          log_target=bool(lt))))
    # Inputs on BCE's clamp: log(0) counts as -100.
    def mk_clamp(rng):
        x = rng.uniform(0.1, 0.9, (2, 4))
        x[0, 0], x[0, 1], x[1, 0] = 0.0, 1.0, 1.0
        t = rng.uniform(0, 1, (2, 4))
        t[1, 0] = 1.0
        return [f32(x)], f32(t)
    for r in RED:
        out.append((f"bce_clamp_{r}", "bce", {"reduction": r, "nograd": 1}, mk_clamp,
                    lambda i, t, r=r: F.binary_cross_entropy(i[0], torch.as_tensor(t), reduction=r)))
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
        rng = np.random.default_rng(2000 + seed)
        inputs, target = make(rng)
        xs = [torch.from_numpy(v).requires_grad_(True) for v in inputs]
        t = torch.from_numpy(target)
        y = fn(xs, t)
        dy = torch.from_numpy(f32(rng.uniform(-1, 1, tuple(y.shape))))
        (y * dy).sum().backward()
        names.append(name)
        meta[f"case.{name}"] = spec(loss, args)
        for k, x in enumerate(xs):
            tensors[f"{name}.x{k}"] = x.detach()
        tensors[f"{name}.target"] = t
        tensors[f"{name}.dy"] = dy.reshape(-1) if y.dim() else dy.reshape(1)
        tensors[f"{name}.y"] = y.detach().reshape(-1) if y.dim() == 0 else y.detach()
        for k, x in enumerate(xs):
            tensors[f"{name}.dx{k}"] = x.grad
    meta["cases"] = " ".join(names)
    meta["torch"] = torch.__version__
    write(OUT, tensors, meta)
    print(f"{OUT}: {len(names)} cases, {os.path.getsize(OUT)} bytes")


if __name__ == "__main__":
    main()
