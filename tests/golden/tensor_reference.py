"""Golden values for the tensor ops: matmul, permute/transpose, reshape,
concat, slice, split, where, masked_fill, gather, index_select and
scatter_add (tests/test_tensor_ops.c), from PyTorch.

Run by hand from the repository root with Debian's python3-torch:

    /usr/bin/python3 tests/golden/tensor_reference.py

For every case below it draws float32 inputs and an upstream gradient dy
from a seeded NumPy generator, runs the op in PyTorch and writes
tests/golden/tensor_ops.safetensors with, per case:

    <case>.x0, <case>.x1, ...  the float inputs
    <case>.idx                 the int32 index (as float32; small integers are exact)
    <case>.mask                the uint8 mask (as float32 0/1)
    <case>.dy                  the upstream gradient, the output's shape
    <case>.y                   the output
    <case>.dx0, <case>.dx1     the gradients of sum(y * dy) with respect to the inputs

The metadata holds `cases` (the names, in order, separated by spaces) and,
for each case, `case.<name>`: the op, then its arguments as key=value words
(lists comma-separated):

    matmul | permute perm=.. | transpose d0=.. d1=.. | reshape shape=..
    concat axis=.. | slice axis=.. start=.. end=.. | split axis=.. sizes=..
    where | masked_fill value=.. | gather axis=.. | index_select axis=..
    scatter_add axis=..

split has several outputs; the case's y is them concatenated back in reverse
order along the axis, so one tensor carries all of them and their gradients.
"""

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_writer import write  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tensor_ops.safetensors")


def ints(v):
    return [int(s) for s in str(v).split(",")]


def run(op, xs, idx, mask, args):
    if op == "matmul":
        return torch.matmul(xs[0], xs[1])
    if op == "permute":
        return xs[0].permute(*ints(args["perm"]))
    if op == "transpose":
        return xs[0].transpose(int(args["d0"]), int(args["d1"]))
    if op == "reshape":
        return xs[0].reshape(*ints(args["shape"]))
    if op == "concat":
        return torch.cat(xs, dim=int(args["axis"]))
    if op == "slice":
        a = int(args["axis"])
        return xs[0].narrow(a, int(args["start"]), int(args["end"]) - int(args["start"]))
    if op == "split":
        a = int(args["axis"])
        return torch.cat(list(reversed(torch.split(xs[0], ints(args["sizes"]), dim=a))), dim=a)
    if op == "where":
        return torch.where(mask.bool(), xs[0], xs[1])
    if op == "masked_fill":
        return xs[0].masked_fill(mask.bool(), float(args["value"]))
    if op == "gather":
        return torch.gather(xs[0], int(args["axis"]), idx.long())
    if op == "index_select":
        return torch.index_select(xs[0], int(args["axis"]), idx.long())
    if op == "scatter_add":
        return xs[0].scatter_add(int(args["axis"]), idx.long(), xs[1])
    raise ValueError(op)


def cases(rng):
    """(name, op, [input shapes], idx or None, mask shape or None, args)"""
    c = [
        ("matmul_2d", "matmul", [(3, 4), (4, 5)], None, None, {}),
        ("matmul_batched", "matmul", [(2, 3, 4), (2, 4, 5)], None, None, {}),
        ("matmul_bcast_rhs", "matmul", [(2, 3, 4), (4, 5)], None, None, {}),
        ("matmul_bcast_lhs", "matmul", [(3, 4), (2, 4, 5)], None, None, {}),
        ("matmul_bcast_4d", "matmul", [(2, 1, 3, 4), (3, 4, 2)], None, None, {}),
        ("permute_3d", "permute", [(2, 3, 4)], None, None, {"perm": "2,0,1"}),
        ("permute_4d", "permute", [(2, 3, 4, 5)], None, None, {"perm": "1,3,0,2"}),
        ("transpose_last", "transpose", [(2, 3, 4)], None, None, {"d0": -1, "d1": -2}),
        ("reshape", "reshape", [(2, 3, 4)], None, None, {"shape": "4,-1"}),
        ("concat_1", "concat", [(2, 3, 4), (2, 1, 4), (2, 2, 4)], None, None, {"axis": 1}),
        ("concat_last", "concat", [(3, 2), (3, 5)], None, None, {"axis": -1}),
        ("slice_mid", "slice", [(3, 6, 2)], None, None, {"axis": 1, "start": 1, "end": 4}),
        ("slice_0", "slice", [(5, 3)], None, None, {"axis": 0, "start": 2, "end": 5}),
        ("split", "split", [(2, 5, 3)], None, None, {"axis": 1, "sizes": "2,1,2"}),
        ("where_same", "where", [(3, 4), (3, 4)], None, (3, 4), {}),
        ("where_bcast", "where", [(2, 3, 4), (3, 1)], None, (2, 3, 4), {}),
        ("masked_fill", "masked_fill", [(4, 5)], None, (4, 5), {"value": -1.5}),
        ("gather_1", "gather", [(3, 4)], rng.integers(0, 4, (3, 6)), None, {"axis": 1}),
        ("gather_0", "gather", [(4, 3, 2)], rng.integers(0, 4, (5, 2, 2)), None, {"axis": 0}),
        ("index_select_0", "index_select", [(4, 3)], np.array([2, 0, 2, 3, 1]), None, {"axis": 0}),
        ("index_select_1", "index_select", [(2, 5, 3)], np.array([4, 4, 0]), None, {"axis": 1}),
        ("scatter_add_1", "scatter_add", [(3, 5), (3, 4)], rng.integers(0, 5, (3, 4)), None,
         {"axis": 1}),
        ("scatter_add_0", "scatter_add", [(4, 3), (6, 2)], rng.integers(0, 4, (6, 2)), None,
         {"axis": 0}),
    ]
    return c


def main():
    rng = np.random.default_rng(20240613)
    tensors, meta, names = {}, {"torch": torch.__version__}, []
    for name, op, shapes, idx, mask_shape, args in cases(rng):
        names.append(name)
        meta[f"case.{name}"] = " ".join([op] + [f"{k}={v}" for k, v in args.items()])
        xs = [torch.tensor(rng.uniform(-2, 2, s).astype(np.float32), requires_grad=True)
              for s in shapes]
        it = torch.tensor(np.asarray(idx, dtype=np.int64)) if idx is not None else None
        mt = torch.tensor(rng.integers(0, 2, mask_shape).astype(np.uint8)) if mask_shape else None
        y = run(op, xs, it, mt, args)
        dy = torch.tensor(rng.uniform(-1, 1, tuple(y.shape)).astype(np.float32))
        (y * dy).sum().backward()
        for i, x in enumerate(xs):
            tensors[f"{name}.x{i}"] = x
        if it is not None:
            tensors[f"{name}.idx"] = it.float()
        if mt is not None:
            tensors[f"{name}.mask"] = mt.float()
        tensors[f"{name}.dy"] = dy
        tensors[f"{name}.y"] = y
        for i, x in enumerate(xs):
            tensors[f"{name}.dx{i}"] = x.grad
    meta["cases"] = " ".join(names)
    write(OUT, tensors, meta)
    print(f"wrote {OUT}: {len(names)} cases")


if __name__ == "__main__":
    main()
