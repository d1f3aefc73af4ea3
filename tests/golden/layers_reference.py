"""Golden values for tests/test_layer_ops.c: average pooling (fixed,
adaptive, global), batch-norm 1d/2d (train and eval), layer-norm and
embedding, from PyTorch.

Run by hand with Debian's python3-torch (/usr/bin/python3, torch 1.13):
    /usr/bin/python3 tests/golden/layers_reference.py
Writes tests/golden/layer_ops.safetensors. Each case `<name>` stores its
inputs (`<name>.x`, `.w`, `.b`, `.idx` as float), the upstream gradient
`.dy`, the output `.y` and the gradients `.dx`, `.dw`, `.db`; batch-norm
also the running stats before (`.rm0`, `.rv0`) and after the training step
(`.rm`, `.rv`) and the eval-mode output `.y_eval` from those. Metadata
`case.<name>` holds the op and its arguments; `cases` lists the names.
"""

import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_writer import write  # noqa: E402

torch.manual_seed(0)
tensors, meta, names = {}, {"torch": torch.__version__}, []


def leaf(*shape):
    return (torch.rand(*shape) * 4 - 2).requires_grad_()


def store(name, spec, y, inputs, extra=None):
    dy = torch.rand(y.shape) * 2 - 1
    y.backward(dy)
    names.append(name)
    meta["case." + name] = spec
    for key, t in inputs.items():
        tensors[f"{name}.{key}"] = t.detach()
    tensors[f"{name}.y"] = y.detach()
    tensors[f"{name}.dy"] = dy
    for key, t in inputs.items():
        if t.requires_grad:
            tensors[f"{name}.d{key}"] = t.grad
    for key, t in (extra or {}).items():
        tensors[f"{name}.{key}"] = t.detach()


# avg-pool: kernel stride pad ceil count_include_pad
for i, (shape, k, s, p, ceil, cip) in enumerate([
        ((2, 3, 7, 6), 3, 2, 1, 0, 1),
        ((2, 3, 7, 6), 3, 2, 1, 0, 0),
        ((1, 2, 8, 7), 3, 2, 1, 1, 1),
        ((1, 2, 8, 7), 3, 2, 1, 1, 0),
        ((2, 2, 6, 6), 2, 2, 0, 0, 1),
        ((1, 3, 5, 9), 4, 3, 2, 1, 0)]):
    x = leaf(*shape)
    y = F.avg_pool2d(x, k, s, p, ceil_mode=bool(ceil), count_include_pad=bool(cip))
    store(f"avgpool{i}", f"avgpool2d k={k} s={s} p={p} ceil={ceil} cip={cip}", y, {"x": x})

for i, (shape, oh, ow) in enumerate([((2, 3, 7, 5), 3, 2), ((1, 2, 10, 9), 4, 4),
                                     ((2, 2, 5, 5), 1, 1), ((1, 2, 3, 4), 5, 6)]):
    x = leaf(*shape)
    y = F.adaptive_avg_pool2d(x, (oh, ow))
    store(f"adaptive{i}", f"adaptive_avgpool2d oh={oh} ow={ow}", y, {"x": x})

# batch-norm: 1d (N, C), 1d (N, C, L), 2d (N, C, H, W); one training step,
# then eval with the updated running stats.
for i, (shape, affine) in enumerate([((8, 5), 1), ((4, 3, 6), 1), ((3, 4, 5, 5), 1), ((2, 3, 4, 3), 0)]):
    c = shape[1]
    bn = torch.nn.BatchNorm2d(c, affine=bool(affine)) if len(shape) == 4 else \
        torch.nn.BatchNorm1d(c, affine=bool(affine))
    with torch.no_grad():
        bn.running_mean.copy_(torch.rand(c) - 0.5)
        bn.running_var.copy_(torch.rand(c) + 0.5)
        if affine:
            bn.weight.copy_(torch.rand(c) + 0.5)
            bn.bias.copy_(torch.rand(c) - 0.5)
    rm0, rv0 = bn.running_mean.clone(), bn.running_var.clone()
    x = leaf(*shape) + 0.7
    x = x.detach().requires_grad_()
    bn.train()
    y = bn(x)
    inputs = {"x": x}
    if affine:
        inputs.update({"w": bn.weight, "b": bn.bias})
    rm, rv = bn.running_mean.clone(), bn.running_var.clone()
    bn.eval()
    with torch.no_grad():
        y_eval = bn(x)
    store(f"batchnorm{i}", f"batchnorm affine={affine}", y, inputs,
          {"rm0": rm0, "rv0": rv0, "rm": rm, "rv": rv, "y_eval": y_eval})

# eval-mode batch-norm with gradients (running stats are constants).
bn = torch.nn.BatchNorm2d(3).eval()
with torch.no_grad():
    bn.running_mean.copy_(torch.rand(3) - 0.5)
    bn.running_var.copy_(torch.rand(3) + 0.5)
    bn.weight.copy_(torch.rand(3) + 0.5)
    bn.bias.copy_(torch.rand(3) - 0.5)
x = leaf(2, 3, 4, 4)
store("batchnorm_eval", "batchnorm affine=1 eval=1", bn(x), {"x": x, "w": bn.weight, "b": bn.bias},
      {"rm0": bn.running_mean, "rv0": bn.running_var})

for i, (shape, k, affine) in enumerate([((4, 10), 1, 1), ((2, 3, 4, 5), 2, 1), ((3, 7), 1, 0)]):
    x = leaf(*shape)
    ns = shape[-k:]
    w = (torch.rand(*ns) + 0.5).requires_grad_() if affine else None
    b = (torch.rand(*ns) - 0.5).requires_grad_() if affine else None
    y = F.layer_norm(x, ns, w, b, 1e-5)
    inputs = {"x": x}
    if affine:
        inputs.update({"w": w, "b": b})
    store(f"layernorm{i}", f"layernorm k={k} affine={affine}", y, inputs)

for i, (num, dim, ishape, pad) in enumerate([(10, 4, (3, 5), 2), (7, 3, (12,), -100), (6, 5, (2, 2, 3), 0)]):
    w = torch.randn(num, dim).requires_grad_()
    idx = torch.randint(0, num, ishape)
    if pad >= 0:
        idx.view(-1)[::4] = pad
    y = F.embedding(idx, w, padding_idx=pad if pad >= 0 else None)
    store(f"embedding{i}", f"embedding pad={pad}", y, {"w": w}, {"idx": idx.float()})

meta["cases"] = " ".join(names)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "layer_ops.safetensors")
write(out, tensors, meta)
print(f"wrote {out}: {len(names)} cases, {os.path.getsize(out)} bytes")
