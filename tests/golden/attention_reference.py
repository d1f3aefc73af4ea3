"""Golden values for the fused attention op nn_attention (tests/test_attention.c):
softmax(q k^T * scale + mask) v with masked scores filled with -inf, as
PyTorch's masked_fill (torch 1.13 has no scaled_dot_product_attention).

Run by hand from the repository root with Debian's python3-torch:

    /usr/bin/python3 tests/golden/attention_reference.py

Inputs and the upstream gradient are float32 draws from a seeded NumPy
generator; PyTorch runs in float64 on those values. A query row whose keys
are all masked (NaN in PyTorch) is defined, as in nnzoo, to output zeros and
to pass no gradient. Causal masking is top-left aligned: query i sees keys
j <= i (torch.ones(Lq, Lk).tril()). Writes tests/golden/attention.safetensors
with, per case (prefix `<case>.`):

    q (B, H, Lq, D), k (B, H, Lk, D), v (B, H, Lk, Dv)
    pad (B, Lk)   key padding, 1 = padded (cases with padding only)
    dy (B, H, Lq, Dv)   upstream gradient
    y, dq, dk, dv       output and gradients of sum(y dy)

and metadata `cases` (names, space-separated) and `case.<name>` ("causal=0|1").
"""

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_writer import write  # noqa: E402


def draw(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def attention(q, k, v, causal, pad):
    lq, lk = q.shape[2], k.shape[2]
    scores = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5
    mask = torch.zeros(q.shape[0], 1, lq, lk, dtype=torch.bool)
    if causal:
        mask |= ~torch.ones(lq, lk, dtype=torch.bool).tril()
    if pad is not None:
        mask |= pad.bool()[:, None, None, :]
    dead = mask.all(-1, keepdim=True)          # rows with every key masked
    # Unmask dead rows for the softmax (avoiding NaN) and zero them after.
    p = torch.softmax(scores.masked_fill(mask & ~dead, float("-inf")), -1)
    p = p * (~dead).to(p.dtype)
    return p @ v


# name: B, H, Lq, Lk, D, Dv, causal, padded keys per batch (None: no padding)
CASES = [
    ("plain", 2, 2, 4, 4, 3, 3, False, None),
    ("causal", 2, 2, 5, 5, 4, 3, True, None),
    # batch 1 has every key padded: all its rows are dead.
    ("padding", 3, 2, 4, 5, 3, 2, False, [[4], [0, 1, 2, 3, 4], [1, 3]]),
    # batch 0 pads key 0, so causal query 0 sees nothing (a dead row).
    ("causal_padding", 2, 2, 5, 5, 3, 4, True, [[0, 3], [4]]),
    ("lq_ne_lk", 2, 1, 3, 6, 4, 5, False, None),
    ("causal_lq_gt_lk", 1, 2, 6, 4, 3, 3, True, [[2]]),
]


def main():
    rng = np.random.default_rng(20240603)
    tensors, meta = {}, {"torch": torch.__version__, "generator": "tests/golden/attention_reference.py"}
    for name, b, h, lq, lk, d, dv, causal, padded in CASES:
        q, k, v = draw(rng, b, h, lq, d), draw(rng, b, h, lk, d), draw(rng, b, h, lk, dv)
        dy = draw(rng, b, h, lq, dv)
        pad = None
        if padded is not None:
            pad = np.zeros((b, lk), np.float32)
            for i, keys in enumerate(padded):
                pad[i, keys] = 1
        tq, tk, tv = (torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in (q, k, v))
        y = attention(tq, tk, tv, causal, None if pad is None else torch.tensor(pad))
        (y * torch.tensor(dy, dtype=torch.float64)).sum().backward()
        assert torch.isfinite(y).all() and torch.isfinite(tq.grad).all()
        tensors.update({f"{name}.q": q, f"{name}.k": k, f"{name}.v": v, f"{name}.dy": dy})
        if pad is not None:
            tensors[f"{name}.pad"] = pad
        tensors.update({f"{name}.y": y, f"{name}.dq": tq.grad, f"{name}.dk": tk.grad,
                        f"{name}.dv": tv.grad})
        meta[f"case.{name}"] = f"causal={int(causal)}"
    meta["cases"] = " ".join(c[0] for c in CASES)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "attention.safetensors")
    write(out, tensors, meta)


if __name__ == "__main__":
    main()
