"""Golden values for the graph ops: spmm (CSR x dense), segment_sum,
segment_mean, segment_max and segment_softmax (tests/test_graph_ops.c),
from PyTorch.

Run by hand from the repository root with Debian's python3-torch:

    /usr/bin/python3 tests/golden/graph_reference.py

It writes tests/golden/graph_ops.safetensors with, per case:

    <case>.x                        the float input (x for spmm, scores for softmax)
    <case>.row_ptr, .col_idx, .val  spmm: the CSR matrix (indices as float32; exact)
    <case>.seg                      segment ops: the segment id of each row
    <case>.dy                       the upstream gradient, the output's shape
    <case>.y                        the output
    <case>.dx                       the gradient of sum(y * dy) with respect to x

The metadata holds `cases` (names separated by spaces) and, per case,
`case.<name>`: the op, then `rows=.. cols=..` (spmm) or `segments=..`.

References: torch.sparse.mm on a COO tensor built from the CSR (duplicate
columns add); index_add_ for sum; scatter_reduce(include_self=False) into
zeros for mean and amax (empty segments 0). Inputs of max are distinct, so
torch's tie split and nnzoo's first-index gradient agree.
"""

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_writer import write  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "graph_ops.safetensors")

rng = np.random.default_rng(20240603)
tensors, meta, names = {}, {"torch": torch.__version__}, []


def f32(a):
    return torch.tensor(np.asarray(a, dtype=np.float32))


def add_case(name, spec, x, fn, extra):
    x = x.clone().requires_grad_(True)
    y = fn(x)
    dy = f32(rng.uniform(-1, 1, size=tuple(y.shape)))
    (y * dy).sum().backward()
    tensors[name + ".x"] = x.detach()
    for k, v in extra.items():
        tensors[name + "." + k] = v
    tensors[name + ".dy"] = dy
    tensors[name + ".y"] = y.detach()
    tensors[name + ".dx"] = x.grad
    meta["case." + name] = spec
    names.append(name)


def spmm_case(name, rows, cols, feats, per_row):
    row_ptr, col_idx = [0], []
    for r in range(rows):
        n = int(per_row[r % len(per_row)])
        col_idx += [int(c) for c in rng.integers(0, cols, size=n)]
        row_ptr.append(len(col_idx))
    val = rng.uniform(-1, 1, size=len(col_idx)).astype(np.float32)
    row_of = np.repeat(np.arange(rows), np.diff(row_ptr))
    a = torch.sparse_coo_tensor(torch.tensor(np.stack([row_of, col_idx])), f32(val),
                                (rows, cols))
    x = f32(rng.uniform(-2, 2, size=(cols, feats)))
    add_case(name, "spmm rows=%d cols=%d" % (rows, cols), x, lambda x: torch.sparse.mm(a, x),
             {"row_ptr": f32(row_ptr), "col_idx": f32(col_idx), "val": f32(val)})


def seg_ids(e, s, skip):
    """e ids in [0, s), unsorted, none equal to skip (an empty segment)."""
    ids = rng.integers(0, s - 1, size=e)
    return np.where(ids >= skip, ids + 1, ids)


def segment_case(name, op, shape, s, skip):
    seg = seg_ids(shape[0], s, skip)
    idx = torch.tensor(seg, dtype=torch.int64)
    if op == "segment_max":
        x = f32(rng.permutation(int(np.prod(shape))).reshape(shape) * 0.25 - 3.0)
    else:
        x = f32(rng.uniform(-2, 2, size=shape))
    out_shape = (s,) + tuple(shape[1:])

    def expand(i, x):
        return i.view((-1,) + (1,) * (x.dim() - 1)).expand_as(x)

    def fn(x):
        if op == "segment_sum":
            return torch.zeros(out_shape).index_add(0, idx, x)
        if op == "segment_mean":
            return torch.zeros(out_shape).scatter_reduce(0, expand(idx, x), x, "mean",
                                                         include_self=False)
        if op == "segment_max":
            return torch.zeros(out_shape).scatter_reduce(0, expand(idx, x), x, "amax",
                                                         include_self=False)
        # segment_softmax
        m = torch.zeros(out_shape).scatter_reduce(0, expand(idx, x), x, "amax",
                                                  include_self=False)
        ex = torch.exp(x - m[idx])
        den = torch.zeros(out_shape).index_add(0, idx, ex)
        return ex / den[idx]

    add_case(name, "%s segments=%d" % (op, s), x, fn, {"seg": f32(seg)})


spmm_case("spmm_small", 6, 5, 3, [3, 0, 2, 4, 1])   # row 1 empty, columns repeat
spmm_case("spmm_wide", 9, 12, 7, [2, 5, 0, 3])
segment_case("sum_2d", "segment_sum", (11, 3), 5, 2)
segment_case("sum_1d", "segment_sum", (8,), 4, 3)
segment_case("mean_2d", "segment_mean", (11, 3), 5, 1)
segment_case("mean_3d", "segment_mean", (10, 2, 2), 4, 0)
segment_case("max_2d", "segment_max", (11, 3), 5, 4)
segment_case("max_1d", "segment_max", (9,), 3, 1)
segment_case("softmax_1d", "segment_softmax", (12,), 5, 2)
segment_case("softmax_2d", "segment_softmax", (13, 2), 4, 0)

meta["cases"] = " ".join(names)
write(OUT, tensors, meta)
print("wrote", OUT, os.path.getsize(OUT), "bytes,", len(names), "cases")
