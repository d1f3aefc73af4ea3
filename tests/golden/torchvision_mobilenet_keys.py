"""Expected state_dict keys and shapes of the MobileNets (tests/test_models_mobilenet.c).

Run by hand from the repository root with Debian's python3-torch and
python3-torchvision (torch 1.13, torchvision 0.14), not another python:

    /usr/bin/python3 tests/golden/torchvision_mobilenet_keys.py

For each model, built with 1000 classes, 3 input channels and the default
width 1.0, it writes tests/golden/<model>_keys.txt: comment lines starting
with `#` (where the file comes from, the trainable parameter count), then one
line per state_dict entry in state_dict order:

    <key> <dim0> <dim1> ...

with no dims for a 0-d tensor (BatchNorm's num_batches_tracked). It also
writes tests/golden/mobilenet_width_counts.txt: `<model> <width_mult>
<trainable parameters>` for other widths (1000 classes), which pins the
channel rounding; and tests/golden/mobilenet_forward.safetensors, the
forward and backward of each model with the cifar stem (first conv stride
1), 10 classes and dropout 0, on a batch of 2 3x32x32 images, with every
state_dict entry set from a formula the C test computes identically:

    <model>.eval_logits              (2, 10)  eval mode (BN with the running stats)
    <model>.eval_loss                (1,)     their cross-entropy
    <model>.eval_grad.<param>                 its gradient, for the first conv's
                                              weight and the last Linear's weight
    <model>.train_logits             (2, 10)  train mode (batch statistics)
    <model>.train_loss               (1,)
    <model>.train_grad.<last Linear weight>

The reference is computed in float64, so it is the exact value to within
float32 rounding. In train mode, batch statistics over 2 x 2 x 2 values per
channel in the last stages make the gradient of the early layers
ill-conditioned (float32 torch itself is 1-5% off float64 there), so only
the last Linear's train-mode gradient is kept; eval mode checks the
backward through every layer.

The formula: entry number k of the state_dict (in order, buffers included),
element i (flat, row-major), s = sin(0.37 i + k) in double precision with the
C library's sin (Python's math.sin), then rounded to float32:
    weights of 2 or more dims      s / sqrt(fan_in), fan_in = numel / shape[0]
    1-d `weight` (BatchNorm)       1 + 0.25 s
    running_var                    1 + 0.25 s
    other 1-d (bias, running_mean) 0.1 s
    num_batches_tracked            0
The images: element i is sin(0.37 i - 1); the labels (3 j + 1) mod 10.

mobilenet_v2, mobilenet_v3_small and mobilenet_v3_large are torchvision's
own modules. torchvision has no MobileNetV1, so the MobileNetV1 below is
written here to fix the names models/mobilenet_v1.c uses: every conv + BN
(+ ReLU) is a Conv2dNormActivation-like Sequential (conv at .0, BN at .1),
each depthwise-separable block is Sequential(depthwise, pointwise).
"""

import math
import os
import sys

import numpy as np
import torch
import torchvision
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from safetensors_writer import write  # noqa: E402

BATCH, CLASSES, SIZE = 2, 10, 32

# (output channels, stride) of the 13 depthwise-separable blocks, Table 1 of
# Howard et al. 2017 with the last depthwise conv at stride 1 (the table's
# feature map sizes stay 7x7 there).
V1_BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
             (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]


def conv_bn_relu(cin, cout, kernel, stride, groups=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class MobileNetV1(nn.Module):
    def __init__(self, num_classes=1000, width_mult=1.0):
        super().__init__()

        # The authors' TF-Slim rounding: max(int(c * alpha), min_depth 8).
        def depth(c):
            return max(int(c * width_mult), 8)

        cin = depth(32)
        layers = [conv_bn_relu(3, cin, 3, 2)]
        for cout, stride in V1_BLOCKS:
            cout = depth(cout)
            layers.append(nn.Sequential(conv_bn_relu(cin, cin, 3, stride, groups=cin),
                                        conv_bn_relu(cin, cout, 1, 1)))
            cin = cout
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = nn.functional.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(torch.flatten(x, 1))


def write_keys(name, model):
    trainable = sum(p.numel() for p in model.parameters())
    path = os.path.join(HERE, name + "_keys.txt")
    with open(path, "w") as f:
        f.write("# %s state_dict keys and shapes, from tests/golden/torchvision_mobilenet_keys.py\n" % name)
        f.write("# torch %s, torchvision %s\n" % (torch.__version__, torchvision.__version__))
        f.write("# params %d\n" % trainable)
        for key, value in model.state_dict().items():
            f.write(" ".join([key] + [str(d) for d in value.shape]) + "\n")
    print("%s: %d entries, %d parameters -> %s" % (name, len(model.state_dict()), trainable, path))


def write_width_counts():
    builders = {
        "mobilenet_v1": MobileNetV1,
        "mobilenet_v2": torchvision.models.mobilenet_v2,
        "mobilenet_v3_small": torchvision.models.mobilenet_v3_small,
        "mobilenet_v3_large": torchvision.models.mobilenet_v3_large,
    }
    widths = [0.25, 0.35, 0.5, 0.75, 1.3, 1.4]
    path = os.path.join(HERE, "mobilenet_width_counts.txt")
    with open(path, "w") as f:
        f.write("# model width_mult trainable-parameters (1000 classes), from "
                "tests/golden/torchvision_mobilenet_keys.py\n")
        for name, build in builders.items():
            for w in widths:
                model = build(width_mult=w)
                f.write("%s %g %d\n" % (name, w, sum(p.numel() for p in model.parameters())))
    print("width counts -> %s" % path)


def sines(n, k):
    return np.array([math.sin(0.37 * i + k) for i in range(n)], dtype=np.float64)


def formula_value(key, shape, k):
    n = int(np.prod(shape)) if len(shape) else 1
    if len(shape) == 0:
        return np.zeros(shape, dtype=np.float32)
    s = sines(n, k)
    if len(shape) >= 2:
        v = s / math.sqrt(n // shape[0])
    elif key.endswith(".weight") or key.endswith(".running_var"):
        v = 1.0 + 0.25 * s
    else:
        v = 0.1 * s
    return v.astype(np.float32).reshape(shape)


def write_forward(path):
    builders = {
        "mobilenet_v1": lambda: MobileNetV1(num_classes=CLASSES),
        "mobilenet_v2": lambda: torchvision.models.mobilenet_v2(num_classes=CLASSES, dropout=0.0),
        "mobilenet_v3_small": lambda: torchvision.models.mobilenet_v3_small(num_classes=CLASSES, dropout=0.0),
        "mobilenet_v3_large": lambda: torchvision.models.mobilenet_v3_large(num_classes=CLASSES, dropout=0.0),
    }
    x = torch.from_numpy(sines(BATCH * 3 * SIZE * SIZE, -1).astype(np.float32).reshape(BATCH, 3, SIZE, SIZE))
    y = torch.tensor([(3 * j + 1) % CLASSES for j in range(BATCH)])
    out = {}
    for name, build in builders.items():
        model = build()
        model.features[0][0].stride = (1, 1)    # the cifar stem
        state = model.state_dict()
        with torch.no_grad():
            for k, (key, value) in enumerate(state.items()):
                value.copy_(torch.from_numpy(formula_value(key, tuple(value.shape), k)))
        model.double()
        params = dict(model.named_parameters())
        last_linear = [key for key, p in params.items() if key.endswith(".weight") and p.dim() == 2][-1]
        for mode in ("eval", "train"):
            model.train(mode == "train")
            model.zero_grad()
            logits = model(x.double())
            loss = nn.functional.cross_entropy(logits, y)
            loss.backward()
            out["%s.%s_logits" % (name, mode)] = logits.detach().clone()
            out["%s.%s_loss" % (name, mode)] = loss.detach().reshape(1)
            for key in ("features.0.0.weight", last_linear) if mode == "eval" else (last_linear,):
                out["%s.%s_grad.%s" % (name, mode, key)] = params[key].grad.clone()
            print("%s: %s loss %.6f" % (name, mode, loss.item()))
    write(path, out, {"torch": torch.__version__, "torchvision": torchvision.__version__})
    print("forward -> %s" % path)


def main():
    torch.set_num_threads(1)
    models = torchvision.models
    write_keys("mobilenet_v1", MobileNetV1())
    write_keys("mobilenet_v2", models.mobilenet_v2())
    write_keys("mobilenet_v3_small", models.mobilenet_v3_small())
    write_keys("mobilenet_v3_large", models.mobilenet_v3_large())
    write_width_counts()
    write_forward(os.path.join(HERE, "mobilenet_forward.safetensors"))


if __name__ == "__main__":
    main()
