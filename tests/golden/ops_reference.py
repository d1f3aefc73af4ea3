"""Golden values for the elementwise, activation, reduction and softmax ops
(tests/test_ops_catalogue.c), from PyTorch.

Run by hand from the repository root with Debian's python3-torch:

    /usr/bin/python3 tests/golden/ops_reference.py

For every case below it draws the inputs and an upstream gradient dy from a
seeded NumPy generator (float32), runs the op in PyTorch (float32) and
writes tests/golden/ops.safetensors with, per case:

    <case>.x0, <case>.x1   the inputs (x1 for binary ops only)
    <case>.dy              the upstream gradient, the output's shape
    <case>.y               the output
    <case>.dx0, <case>.dx1 the gradients of sum(y * dy) with respect to the inputs

The C test reads the inputs from the file, so nothing needs to be recomputed
identically on both sides. The metadata holds `cases` (the case names, in
order, separated by spaces) and, for each case, `case.<name>`: the op's name
as `nnzoo list` shows it, then its arguments as key=value words:

    axes=0,2 | axes=all   reduced axes (sum, mean, max)
    keepdim=0|1
    axis=N                softmax, log_softmax
    p=X                   leaky_relu slope, elu alpha, pow exponent
    tanh=1                gelu with approximate="tanh"
    nograd=1              not differentiable here (ties): no gradient check

Input domains: "any" uniform in [-2, 2); "pos" in [0.5, 2.5); "nonzero"
magnitudes in [0.5, 2) with random signs (divisors); "wide" uniform in
[-7, 7) with the activations' kinks -6, -3, 0, 3, 6 set exactly in the first
entries, so the gradients there are PyTorch's choices; "ties" integers 0..2
(max with many equal maxima: torch.amax shares the gradient among them);
"large" in [-100, 100) (softmax must not overflow).
"""

import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_writer import write  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ops.safetensors")
KINKS = [-6.0, -3.0, 0.0, 3.0, 6.0]


def draw(rng, shape, domain):
    if domain == "any":
        v = rng.uniform(-2, 2, shape)
    elif domain == "pos":
        v = rng.uniform(0.5, 2.5, shape)
    elif domain == "nonzero":
        v = rng.uniform(0.5, 2, shape) * rng.choice([-1.0, 1.0], shape)
    elif domain == "wide":
        v = rng.uniform(-7, 7, shape)
        v.flat[: len(KINKS)] = KINKS
    elif domain == "ties":
        v = rng.integers(0, 3, shape).astype(np.float64)
    elif domain == "large":
        v = rng.uniform(-100, 100, shape)
    else:
        raise ValueError(domain)
    return np.asarray(v, dtype=np.float32)


def dims_of(axes, ndim):
    return tuple(range(ndim)) if axes == "all" else tuple(axes)


def reduce_op(fn):
    def run(x, axes, keepdim):
        dims = dims_of(axes, x.dim())
        if fn == "sum":
            return x.sum(dim=dims, keepdim=keepdim)
        if fn == "mean":
            return x.mean(dim=dims, keepdim=keepdim)
        return torch.amax(x, dim=dims, keepdim=keepdim)
    return run


# op name -> function of the input tensors and the case's arguments
OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "neg": lambda x: -x,
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "pow": lambda x, p: torch.pow(x, p),
    "sum": reduce_op("sum"),
    "mean": reduce_op("mean"),
    "max": reduce_op("max"),
    "relu": F.relu,
    "relu6": F.relu6,
    "leaky_relu": lambda x, p: F.leaky_relu(x, p),
    "elu": lambda x, p: F.elu(x, p),
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "hardsigmoid": F.hardsigmoid,
    "hardswish": F.hardswish,
    "silu": F.silu,
    "gelu": lambda x, tanh: F.gelu(x, approximate="tanh" if tanh else "none"),
    "softmax": lambda x, axis: F.softmax(x, dim=axis),
    "log_softmax": lambda x, axis: F.log_softmax(x, dim=axis),
}


def cases():
    """(name, op, [(shape, domain), ...], args) for every case."""
    out = []
    binary_shapes = [
        ("same", (2, 3, 4), (2, 3, 4)),
        ("bcast_3x1", (2, 3, 4), (3, 1)),
        ("bcast_4", (4,), (2, 3, 4)),
        ("scalar", (2, 3, 4), (1,)),
        ("outer", (3, 1), (1, 4)),
        ("5d", (2, 1, 3, 1, 2), (4, 1, 2, 1)),
    ]
    for op in ["add", "sub", "mul", "div"]:
        for tag, sa, sb in binary_shapes:
            out.append((f"{op}_{tag}", op, [(sa, "any"), (sb, "nonzero" if op == "div" else "any")], {}))

    act = (4, 65)
    for op in ["relu", "relu6", "sigmoid", "tanh", "hardsigmoid", "hardswish", "silu"]:
        out.append((op, op, [(act, "wide")], {}))
    out.append(("leaky_relu", "leaky_relu", [(act, "wide")], {"p": 0.01}))
    out.append(("leaky_relu_0.2", "leaky_relu", [(act, "wide")], {"p": 0.2}))
    out.append(("elu", "elu", [(act, "wide")], {"p": 1.0}))
    out.append(("elu_0.5", "elu", [(act, "wide")], {"p": 0.5}))
    out.append(("gelu", "gelu", [(act, "wide")], {"tanh": 0}))
    out.append(("gelu_tanh", "gelu", [(act, "wide")], {"tanh": 1}))

    math_shape = (3, 4, 5)
    out.append(("neg", "neg", [(math_shape, "any")], {}))
    out.append(("exp", "exp", [(math_shape, "any")], {}))
    out.append(("log", "log", [(math_shape, "pos")], {}))
    out.append(("sqrt", "sqrt", [(math_shape, "pos")], {}))
    for p, domain in [(2.0, "any"), (3.0, "any"), (0.5, "pos"), (-1.5, "pos")]:
        out.append((f"pow_{p:g}", "pow", [(math_shape, domain)], {"p": p}))

    red_shape = (2, 3, 4, 5)
    axis_sets = ["all", (0,), (1,), (-1,), (0, 2), (1, 3), (0, 1, 2)]
    for op in ["sum", "mean", "max"]:
        for axes in axis_sets:
            for keepdim in (0, 1):
                tag = "all" if axes == "all" else "_".join(str(a) for a in axes)
                name = f"{op}_{tag}" + ("_keepdim" if keepdim else "")
                out.append((name, op, [(red_shape, "any")], {"axes": axes, "keepdim": keepdim}))
    out.append(("sum_5d_1_3", "sum", [((2, 3, 2, 2, 3), "any")], {"axes": (1, 3), "keepdim": 0}))
    out.append(("max_5d_0_4_keepdim", "max", [((2, 3, 2, 2, 3), "any")], {"axes": (0, 4), "keepdim": 1}))
    out.append(("max_ties_1_keepdim", "max", [(red_shape, "ties")], {"axes": (1,), "keepdim": 1, "nograd": 1}))
    out.append(("max_ties_0_2", "max", [(red_shape, "ties")], {"axes": (0, 2), "keepdim": 0, "nograd": 1}))
    out.append(("max_ties_all", "max", [(red_shape, "ties")], {"axes": "all", "keepdim": 0, "nograd": 1}))

    for op in ["softmax", "log_softmax"]:
        for axis in (0, 1, -1):
            out.append((f"{op}_{axis}", op, [((3, 4, 5), "any")], {"axis": axis}))
        out.append((f"{op}_large", op, [((4, 6), "large")], {"axis": -1}))
    return out


def spec(op, args):
    words = [op]
    for key, value in args.items():
        if key == "axes":
            value = "all" if value == "all" else ",".join(str(a) for a in value)
        elif key == "p":
            value = repr(float(value))
        words.append(f"{key}={value}")
    return " ".join(words)


def call(op, inputs, args):
    fn = OPS[op]
    if op in ("sum", "mean", "max"):
        return fn(*inputs, args["axes"], bool(args["keepdim"]))
    if op in ("softmax", "log_softmax"):
        return fn(*inputs, args["axis"])
    if op == "gelu":
        return fn(*inputs, args["tanh"])
    if "p" in args:
        return fn(*inputs, args["p"])
    return fn(*inputs)


def main():
    torch.set_num_threads(1)
    tensors, meta, names = {}, {}, []
    for seed, (name, op, inputs, args) in enumerate(cases()):
        assert name not in names, name
        rng = np.random.default_rng(1000 + seed)
        xs = [torch.from_numpy(draw(rng, shape, domain)).requires_grad_(True) for shape, domain in inputs]
        y = call(op, xs, args)
        dy = torch.from_numpy(np.asarray(rng.uniform(-1, 1, tuple(y.shape)), dtype=np.float32))
        y.backward(dy)
        for i, x in enumerate(xs):
            tensors[f"{name}.x{i}"] = x.detach()
        tensors[f"{name}.dy"] = dy
        tensors[f"{name}.y"] = y.detach()
        for i, x in enumerate(xs):
            tensors[f"{name}.dx{i}"] = x.grad
        meta[f"case.{name}"] = spec(op, args)
        names.append(name)
    meta.update({
        "cases": " ".join(names),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "generator": "tests/golden/ops_reference.py",
    })
    write(OUT, tensors, meta)
    print(f"torch {torch.__version__}: {len(names)} cases, {len(tensors)} tensors, "
          f"{os.path.getsize(OUT)} bytes -> {OUT}")


if __name__ == "__main__":
    main()
