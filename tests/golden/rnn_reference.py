"""Golden values for the fused recurrent cells nn_lstm_cell and nn_gru_cell
(tests/test_rnn_cells.c), from torch.nn.LSTMCell and torch.nn.GRUCell.

Run by hand from the repository root with Debian's python3-torch:

    /usr/bin/python3 tests/golden/rnn_reference.py

Inputs, weights and upstream gradients are float32 draws from a seeded NumPy
generator; PyTorch runs in float64 on those values so the stored outputs and
gradients carry no float32 rounding of their own. Writes
tests/golden/rnn_cells.safetensors with, per cell (prefix `lstm.`, `gru.`):

    x (N, I), h (N, H), c (N, H, LSTM only)
    w_ih (G H, I), w_hh (G H, H), b_ih (G H), b_hh (G H)   G = 4 (LSTM), 3 (GRU)
    dh1, dc1 (LSTM only)   upstream gradients on h' and c'
    h1, c1 (LSTM only)     the outputs
    dx, dh, dc (LSTM only), dw_ih, dw_hh, db_ih, db_hh
                           gradients of sum(h' dh1) (+ sum(c' dc1)) w.r.t. the inputs
"""

import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_writer import write  # noqa: E402

N, I, H = 3, 5, 4


def draw(rng, *shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def run(kind, rng):
    g = 4 if kind == "lstm" else 3
    vals = {"x": draw(rng, N, I), "h": draw(rng, N, H)}
    if kind == "lstm":
        vals["c"] = draw(rng, N, H)
    for name, shape in (("w_ih", (g * H, I)), ("w_hh", (g * H, H)), ("b_ih", (g * H,)),
                        ("b_hh", (g * H,))):
        vals[name] = draw(rng, *shape, scale=0.5)
    vals["dh1"] = draw(rng, N, H)
    if kind == "lstm":
        vals["dc1"] = draw(rng, N, H)

    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=not k.startswith("d"))
         for k, v in vals.items()}
    cell = (torch.nn.LSTMCell if kind == "lstm" else torch.nn.GRUCell)(I, H).double()
    with torch.no_grad():
        for name in ("w_ih", "w_hh", "b_ih", "b_hh"):
            getattr(cell, {"w_ih": "weight_ih", "w_hh": "weight_hh", "b_ih": "bias_ih",
                           "b_hh": "bias_hh"}[name]).copy_(t[name])
    out = {}
    if kind == "lstm":
        h1, c1 = cell(t["x"], (t["h"], t["c"]))
        loss = (h1 * t["dh1"]).sum() + (c1 * t["dc1"]).sum()
        out["h1"], out["c1"] = h1, c1
        inputs = ["x", "h", "c"]
    else:
        h1 = cell(t["x"], t["h"])
        loss = (h1 * t["dh1"]).sum()
        out["h1"] = h1
        inputs = ["x", "h"]
    loss.backward()
    grads = {"d" + k: t[k].grad for k in inputs}
    grads.update({"dw_ih": cell.weight_ih.grad, "dw_hh": cell.weight_hh.grad,
                  "db_ih": cell.bias_ih.grad, "db_hh": cell.bias_hh.grad})
    res = {kind + "." + k: v for k, v in vals.items()}
    res.update({kind + "." + k: v.detach().float() for k, v in out.items()})
    res.update({kind + "." + k: v.detach().float() for k, v in grads.items()})
    return res


def main():
    rng = np.random.default_rng(3)
    tensors = {}
    tensors.update(run("lstm", rng))
    tensors.update(run("gru", rng))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rnn_cells.safetensors")
    write(path, tensors, {"torch": torch.__version__, "N": N, "I": I, "H": H})
    print("wrote", path)


if __name__ == "__main__":
    main()
