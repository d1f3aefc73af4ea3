"""Golden values for the optimizers (tests/test_optim.c), from PyTorch.

Run by hand from the repository root with Debian's python3-torch:

    /usr/bin/python3 tests/golden/optim_reference.py

The problem: two parameters, w (3, 4) and b (5,), and per element fixed
coefficients a, k > 0 and a target c; the loss and its gradient are

    u = p - c
    loss = sum(0.5 * a * u * u + 0.25 * k * u * u * u * u)
    grad = a * u + k * u * u * u

computed elementwise in float32 in this order (left to right), which the C
test repeats operation for operation. Each parameter starts on the same side
of zero as its target and further out, so the trajectories stay away from
zero and relative errors mean something.

It writes tests/golden/optim_trajectories.safetensors with:

    x0.w, x0.b, a.w, a.b, k.w, k.b, c.w, c.b   the problem
    traj.<variant>.w  (20, 3, 4)   parameters after each of 20 steps of
    traj.<variant>.b  (20, 5)      the optimizer in VARIANTS
    clip_norm.w, clip_norm.b       the gradient at x0 after
                                   clip_grad_norm_(max_norm=CLIP_NORM)
    clip_norm.total   (1,)         the norm it returned
    clip_value.w, clip_value.b     the gradient at x0 after
                                   clip_grad_value_(CLIP_VALUE)
    l1.x.w, l1.x.b                 x0 with some elements set to 0
    l1.w, l1.b                     the gradient at x0 plus that of
                                   L1 * sum |l1.x| (autograd: sign, 0 at 0)

For L-BFGS a "step" is one LBFGS.step(closure), several evaluations; the
metadata has each L-BFGS variant's total iterations and closure calls
(<variant>.n_iter, <variant>.func_evals). The metadata also names the torch
version.
"""

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_writer import write  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "optim_trajectories.safetensors")
STEPS = 20
SHAPES = {"w": (3, 4), "b": (5,)}
CLIP_NORM, CLIP_VALUE, L1 = 1.0, 0.5, 0.01

# name -> (torch.optim class name, keyword arguments). The same table, with
# the same names, is in tests/test_optim.c.
VARIANTS = {
    "sgd": ("SGD", dict(lr=0.05)),
    "sgd_momentum": ("SGD", dict(lr=0.02, momentum=0.8, dampening=0.1, weight_decay=0.01)),
    "sgd_nesterov": ("SGD", dict(lr=0.02, momentum=0.9, nesterov=True, weight_decay=0.001)),
    "adagrad": ("Adagrad", dict(lr=0.3)),
    "adagrad_decay": ("Adagrad", dict(lr=0.3, lr_decay=0.05, weight_decay=0.01,
                                      initial_accumulator_value=0.1, eps=1e-6)),
    "adadelta": ("Adadelta", dict(lr=1.0)),
    "adadelta_wd": ("Adadelta", dict(lr=5.0, rho=0.8, eps=1e-4, weight_decay=0.01)),
    "rmsprop": ("RMSprop", dict(lr=0.01)),
    "rmsprop_momentum": ("RMSprop", dict(lr=0.01, momentum=0.5)),
    "rmsprop_centered": ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.01,
                                         momentum=0.9, centered=True)),
    "adam": ("Adam", dict(lr=0.05)),
    "adam_amsgrad": ("Adam", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.01,
                                  amsgrad=True)),
    "adamw": ("AdamW", dict(lr=0.05, weight_decay=0.1)),
    "adamw_amsgrad": ("AdamW", dict(lr=0.05, betas=(0.85, 0.995), weight_decay=0.05,
                                    amsgrad=True)),
    "adamax": ("Adamax", dict(lr=0.05)),
    "adamax_wd": ("Adamax", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.01)),
    # NAdam with foreach=True: PyTorch 1.13's default (single-tensor) NAdam
    # multiplies mu_t into the next product twice, a bug fixed in 2.0
    # (pytorch/pytorch#92699); its multi-tensor NAdam has the right formula.
    "nadam": ("NAdam", dict(lr=0.05, foreach=True)),
    "nadam_wd": ("NAdam", dict(lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.01,
                               momentum_decay=0.01, foreach=True)),
    "rprop": ("Rprop", dict(lr=0.05)),
    "rprop_etas": ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2))),
    "asgd": ("ASGD", dict(lr=0.05)),
    "asgd_t0": ("ASGD", dict(lr=0.05, lambd=1e-3, alpha=0.6, t0=5, weight_decay=0.01)),
    "lbfgs": ("LBFGS", dict(lr=1.0, max_iter=3, history_size=10)),
    "lbfgs_damped": ("LBFGS", dict(lr=0.2, max_iter=2, history_size=3)),
    "lbfgs_wolfe": ("LBFGS", dict(lr=1.0, max_iter=2, history_size=5,
                                  line_search_fn="strong_wolfe")),
}


def problem():
    gen = torch.Generator().manual_seed(2024)
    out = {}
    for name, shape in SHAPES.items():
        def uniform(lo, hi):
            return lo + (hi - lo) * torch.rand(shape, generator=gen, dtype=torch.float32)
        sign = torch.where(torch.rand(shape, generator=gen) < 0.5, -1.0, 1.0)
        c = sign * uniform(0.5, 1.5)
        out["x0." + name] = c + sign * uniform(0.5, 1.5)
        out["a." + name] = uniform(0.5, 2.0)
        out["k." + name] = uniform(0.1, 1.0)
        out["c." + name] = c
    return out


def grad_of(p, a, k, c):
    u = p - c
    return a * u + k * u * u * u


def loss_of(p, a, k, c):
    u = p - c
    return (0.5 * a * u * u + 0.25 * k * u * u * u * u).sum()


def trajectory(prob, cls, kwargs, meta, variant):
    params = {n: prob["x0." + n].clone().requires_grad_(True) for n in SHAPES}
    opt = getattr(torch.optim, cls)(list(params.values()), **kwargs)

    def closure():
        loss = 0.0
        with torch.no_grad():
            for n, p in params.items():
                coef = (prob["a." + n], prob["k." + n], prob["c." + n])
                p.grad = grad_of(p, *coef)
                loss = loss + loss_of(p, *coef)
        return loss

    out = {n: [] for n in SHAPES}
    for _ in range(STEPS):
        if cls == "LBFGS":
            opt.step(closure)
        else:
            closure()
            opt.step()
        for n, p in params.items():
            out[n].append(p.detach().clone())
    if cls == "LBFGS":
        state = opt.state[params["w"]]
        meta[variant + ".n_iter"] = state["n_iter"]
        meta[variant + ".func_evals"] = state["func_evals"]
    return {n: torch.stack(v) for n, v in out.items()}


def gradients(prob):
    return {n: grad_of(prob["x0." + n], prob["a." + n], prob["k." + n], prob["c." + n])
            for n in SHAPES}


def main():
    torch.set_num_threads(1)
    prob = problem()
    tensors = dict(prob)
    meta = {"torch": torch.__version__, "numpy": np.__version__,
            "generator": "tests/golden/optim_reference.py"}
    for variant, (cls, kwargs) in VARIANTS.items():
        for n, t in trajectory(prob, cls, kwargs, meta, variant).items():
            tensors["traj.%s.%s" % (variant, n)] = t

    params = {n: prob["x0." + n].clone().requires_grad_(True) for n in SHAPES}
    for n, g in gradients(prob).items():
        params[n].grad = g.clone()
    total = torch.nn.utils.clip_grad_norm_(list(params.values()), CLIP_NORM)
    for n, p in params.items():
        tensors["clip_norm." + n] = p.grad.clone()
    tensors["clip_norm.total"] = total.reshape(1)

    for n, g in gradients(prob).items():
        params[n].grad = g.clone()
    torch.nn.utils.clip_grad_value_(list(params.values()), CLIP_VALUE)
    for n, p in params.items():
        tensors["clip_value." + n] = p.grad.clone()

    for n, g in gradients(prob).items():
        x = prob["x0." + n].clone()
        x.view(-1)[::3] = 0.0
        x.requires_grad_(True)
        (L1 * x.abs().sum()).backward()
        tensors["l1.x." + n] = x.detach()
        tensors["l1." + n] = g + x.grad

    write(OUT, tensors, meta)
    print("wrote %s (%d tensors, %d bytes)" % (OUT, len(tensors), os.path.getsize(OUT)))


if __name__ == "__main__":
    main()
