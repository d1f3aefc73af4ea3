"""Golden values for LeNet-5 (tests/test_lenet_golden.c), from PyTorch.

Run by hand from the repository root with Debian's python3-torch:

    /usr/bin/python3 tests/golden/lenet_reference.py

It builds LeNet-5 as models/lenet.c does, sets every parameter, a batch of 8
images and its labels from a formula the C test computes identically, and
writes tests/golden/lenet5_sgd.safetensors with:

    logits                 (8, 10)  initial model on the batch
    loss                   (1,)     mean cross-entropy
    grad.<param>                    gradients of that loss
    step3.<param>                   parameters after 3 steps of
                                    SGD(lr=0.05, momentum=0.9, weight_decay=5e-4)
    check.<param>, check.x, check.y (3,)  [bit checksum, first, last] of the
                                    inputs, so the C side can prove it
                                    started from bit-identical values

The formula: element i (flat, row-major) of tensor number k is
float32(scale * sin(0.37 * i + k)), evaluated in double precision with the C
library's sin (Python's math.sin), which is what the C test does too.
"""

import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_writer import write  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lenet5_sgd.safetensors")
BATCH = 8
LR, MOMENTUM, WEIGHT_DECAY, STEPS = 0.05, 0.9, 5e-4, 3

# (name, shape, scale, k): the same table is in tests/test_lenet_golden.c.
# Scales are about 1/sqrt(fan_in), PyTorch's default init range.
PARAMS = [
    ("conv1.weight", (6, 1, 5, 5), 0.2, 1),
    ("conv1.bias", (6,), 0.2, 2),
    ("conv2.weight", (16, 6, 5, 5), 0.08, 3),
    ("conv2.bias", (16,), 0.08, 4),
    ("fc1.weight", (120, 400), 0.05, 5),
    ("fc1.bias", (120,), 0.05, 6),
    ("fc2.weight", (84, 120), 0.09, 7),
    ("fc2.bias", (84,), 0.09, 8),
    ("fc3.weight", (10, 84), 0.1, 9),
    ("fc3.bias", (10,), 0.1, 10),
]
X_SCALE, X_K = 1.0, 0


def formula(shape, scale, k):
    n = int(np.prod(shape))
    values = [scale * math.sin(0.37 * i + k) for i in range(n)]
    return np.array(values, dtype=np.float64).astype(np.float32).reshape(shape)


def check(array):
    """[sum of the float32 bit patterns mod 2^24, first, last]: all exact in F32."""
    bits = np.ascontiguousarray(array, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return np.array([float(int(bits.sum()) % (1 << 24)), array.flat[0], array.flat[-1]],
                    dtype=np.float32)


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def pool_margin(a):
    """Smallest gap between the largest and second-largest value of a 2x2
    pooling window whose max is positive: how far the reference is from a tie
    that rounding could flip."""
    n, c, h, w = a.shape
    win = a[:, :, : h // 2 * 2, : w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2)
    win = win.permute(0, 1, 2, 4, 3, 5).reshape(-1, 4)
    top = torch.topk(win, 2, dim=1).values
    positive = top[:, 0] > 0
    return (top[positive, 0] - top[positive, 1]).min().item()


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = LeNet5()
    state = dict(model.named_parameters())
    assert list(state) == [p[0] for p in PARAMS]
    out, checks = {}, {}
    with torch.no_grad():
        for name, shape, scale, k in PARAMS:
            value = formula(shape, scale, k)
            state[name].copy_(torch.from_numpy(value))
            checks["check." + name] = check(value)
    x_np = formula((BATCH, 1, 28, 28), X_SCALE, X_K)
    y_np = np.array([(3 * j + 1) % 10 for j in range(BATCH)], dtype=np.int64)
    checks["check.x"] = check(x_np)
    checks["check.y"] = y_np.astype(np.float32)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)

    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    margins = [math.inf, math.inf]
    for step in range(STEPS):
        # How close each step's forward comes to a maxpool tie, for the record.
        with torch.no_grad():
            a1 = F.relu(model.conv1(x))
            a2 = F.relu(model.conv2(F.max_pool2d(a1, 2)))
            margins = [min(margins[0], pool_margin(a1)), min(margins[1], pool_margin(a2))]
        opt.zero_grad()
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        if step == 0:
            out["logits"] = logits.detach().clone()
            out["loss"] = loss.detach().reshape(1).clone()
            for name, p in model.named_parameters():
                out["grad." + name] = p.grad.detach().clone()
        opt.step()
    for name, p in model.named_parameters():
        out["step3." + name] = p.detach().clone()
    out.update(checks)

    meta = {
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "generator": "tests/golden/lenet_reference.py",
        "formula": "float32(scale * sin(0.37 * i + k)) in double precision",
        "optimizer": f"SGD(lr={LR}, momentum={MOMENTUM}, weight_decay={WEIGHT_DECAY}), {STEPS} steps",
        "pool_margin": f"{margins[0]:.3g} {margins[1]:.3g}",
    }
    write(OUT, out, meta)
    print(f"torch {torch.__version__}: loss {out['loss'].item():.6f}, "
          f"min maxpool margins {margins[0]:.3g} (pool1) {margins[1]:.3g} (pool2), "
          f"{os.path.getsize(OUT)} bytes -> {OUT}")


if __name__ == "__main__":
    main()
