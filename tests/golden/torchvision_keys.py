"""Expected state_dict keys, shapes and parameter counts of the classic CNNs
(AlexNet, VGG, ResNet, ResNeXt, Wide ResNet) for tests/test_models_classic.c.

Run by hand from the repository root with Debian's python3-torch and
python3-torchvision (torch 1.13, torchvision 0.14), not another python:

    /usr/bin/python3 tests/golden/torchvision_keys.py

It writes, for each model in KEY_MODELS, tests/golden/<model>_keys.txt:
comment lines starting with `#` (where the file comes from, the trainable
parameter count), then one line per state_dict entry in state_dict order:

    <key> <dim0> <dim1> ...

with no dims for a 0-d tensor (BatchNorm's num_batches_tracked). The
ImageNet models are torchvision's own, with 1000 classes. The `_cifar`
files are the same modules with the 32x32 stem that models/resnet.c and
models/vgg.c build for `"stem": "cifar"` (10 classes): ResNet's conv1
replaced by a 3x3 stride-1 conv and its max-pool by nn.Identity (no state);
VGG's avgpool by nn.Identity and its classifier by one Linear(512, 10).

It also writes tests/golden/classic_counts.txt: `<model> <options>
<trainable parameters>` for every model of the three families and some
option variants, where <options> is the JSON text of the `model` options
(`{}` for none) the C test passes.

And tests/golden/classic_forward.safetensors: the forward and backward of
the models in FORWARD_CASES (10 classes, dropout 0) on a batch of 2 images,
with every state_dict entry set from a formula the C test computes the same
way:

    <case>.eval_logits             (2, 10)  eval mode (BN with the running stats)
    <case>.eval_loss               (1,)     their cross-entropy
    <case>.eval_grad.<param>                its gradient, for the first conv's
                                            weight and the last Linear's weight
    <case>.train_logits            (2, 10)  train mode (batch statistics)
    <case>.train_loss              (1,)
    <case>.train_grad.<param>               the same two gradients

The reference is computed in float64, so it is the exact value to within
float32 rounding of the inputs.

The values are pseudo-random, from an integer hash both sides compute
exactly: r(k, i) = 2 u - 1 in [-1, 1), u = splitmix64((k << 32) + i) >> 11
times 2^-53. Entry number k of the state_dict (in order, buffers included),
element i (flat, row-major), in double precision, then rounded to float32:
    weights of 2 or more dims      r sqrt(6 / fan_in), fan_in = numel / shape[0]
                                   (kaiming_uniform's bound for ReLU)
    1-d `weight` (BatchNorm)       1 + 0.25 r
    running_var                    1 + 0.25 r
    other 1-d (bias, running_mean) 0.1 r
    num_batches_tracked            0
The images: element i is r(2^20, i); the labels (3 j + 1) mod 10.
(Smooth values such as sin(0.37 i + k) make every filter a phase-shifted
copy of one sinusoid: the channels nearly cancel, and BatchNorm's batch
statistics then amplify float32 rounding until float32 torch itself is off
float64 by 10% in the logits. Random values keep train mode well
conditioned.)
"""

import json
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

BATCH, CLASSES = 2, 10

KEY_MODELS = ["alexnet", "vgg11", "vgg16_bn", "resnet18", "resnet50", "resnext50_32x4d"]

ALL_MODELS = ["alexnet",
              "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
              "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
              "resnext50_32x4d", "resnext101_32x8d", "wide_resnet50_2", "wide_resnet101_2"]


def cifar_resnet(name, num_classes=10):
    model = getattr(torchvision.models, name)(num_classes=num_classes)
    model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return model


def cifar_vgg(name, num_classes=10):
    model = getattr(torchvision.models, name)(num_classes=num_classes)
    model.avgpool = nn.Identity()
    model.classifier = nn.Linear(512, num_classes)
    return model


def alexnet_variant(channels, hidden, num_classes=1000):
    """torchvision's AlexNet layout with other widths (the same module
    indices, so the same keys)."""
    c1, c2, c3, c4, c5 = channels
    model = torchvision.models.AlexNet(num_classes=num_classes)
    model.features = nn.Sequential(
        nn.Conv2d(3, c1, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(c1, c2, kernel_size=5, padding=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(c2, c3, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(c3, c4, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.Conv2d(c4, c5, kernel_size=3, padding=1), nn.ReLU(inplace=True),
        nn.MaxPool2d(kernel_size=3, stride=2),
    )
    model.classifier = nn.Sequential(
        nn.Dropout(p=0.5), nn.Linear(c5 * 6 * 6, hidden), nn.ReLU(inplace=True),
        nn.Dropout(p=0.5), nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
        nn.Linear(hidden, num_classes),
    )
    return model


def vgg_from_cfg(cfg, batch_norm, num_classes=1000):
    """torchvision's VGG with a layer list of our own (its make_layers)."""
    features = torchvision.models.vgg.make_layers(cfg, batch_norm=batch_norm)
    last = [v for v in cfg if v != "M"][-1]
    model = torchvision.models.VGG(features, num_classes=num_classes)
    model.classifier[0] = nn.Linear(last * 7 * 7, 4096)
    return model


def trainable(model):
    return sum(p.numel() for p in model.parameters())


def write_keys(name, model):
    path = os.path.join(HERE, name + "_keys.txt")
    with open(path, "w") as f:
        f.write("# %s state_dict keys and shapes, from tests/golden/torchvision_keys.py\n" % name)
        f.write("# torch %s, torchvision %s\n" % (torch.__version__, torchvision.__version__))
        f.write("# params %d\n" % trainable(model))
        for key, value in model.state_dict().items():
            f.write(" ".join([key] + [str(d) for d in value.shape]) + "\n")
    print("%s: %d entries, %d parameters -> %s" % (name, len(model.state_dict()), trainable(model), path))


def write_counts():
    rows = [(name, {}, getattr(torchvision.models, name)()) for name in ALL_MODELS]
    half = [48, 128, 192, 192, 128]
    rows.append(("alexnet", {"channels": half, "hidden": 2048}, alexnet_variant(half, 2048)))
    small = [16, "M", 32, "M", 64, 64, "M"]
    rows.append(("vgg11", {"cfg": small}, vgg_from_cfg(small, False)))
    rows.append(("vgg11", {"cfg": small, "batch_norm": True}, vgg_from_cfg(small, True)))
    rows.append(("vgg16", {"batch_norm": True}, torchvision.models.vgg16_bn()))
    for name in ["resnet18", "resnet50", "resnext50_32x4d", "wide_resnet50_2"]:
        rows.append((name, {"stem": "cifar"}, cifar_resnet(name, 1000)))
    for name in ["vgg11_bn", "vgg16", "vgg16_bn", "vgg19_bn"]:
        rows.append((name, {"stem": "cifar"}, cifar_vgg(name, 1000)))
    path = os.path.join(HERE, "classic_counts.txt")
    with open(path, "w") as f:
        f.write("# model options trainable-parameters (1000 classes, 3 channels), from "
                "tests/golden/torchvision_keys.py\n")
        for name, options, model in rows:
            f.write("%s %s %d\n" % (name, json.dumps(options, separators=(",", ":")), trainable(model)))
    print("%d counts -> %s" % (len(rows), path))


def alexnet_no_dropout():
    model = torchvision.models.alexnet(num_classes=CLASSES, dropout=0.0)
    return model


# (case name, builder, input size, first conv weight, last Linear weight);
# the C test builds the same case from its name and options.
FORWARD_CASES = [
    ("resnet18_cifar", lambda: cifar_resnet("resnet18"), 32, "conv1.weight", "fc.weight"),
    ("resnext50_32x4d_cifar", lambda: cifar_resnet("resnext50_32x4d"), 32, "conv1.weight", "fc.weight"),
    ("vgg11_bn_cifar", lambda: cifar_vgg("vgg11_bn"), 32, "features.0.weight", "classifier.weight"),
    ("alexnet", alexnet_no_dropout, 64, "features.0.weight", "classifier.6.weight"),
]


def hashes(n, k):
    """r(k, i) for i < n: 2 u - 1, u from splitmix64 of (k << 32) + i."""
    with np.errstate(over="ignore"):
        z = (np.uint64(k) << np.uint64(32)) + np.arange(n, dtype=np.uint64)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0 ** -53 * 2.0 - 1.0


def formula_value(key, shape, k):
    n = int(np.prod(shape)) if len(shape) else 1
    if len(shape) == 0:
        return np.zeros(shape, dtype=np.float32)
    r = hashes(n, k)
    if len(shape) >= 2:
        v = r * math.sqrt(6.0 / (n // shape[0]))
    elif key.endswith(".weight") or key.endswith(".running_var"):
        v = 1.0 + 0.25 * r
    else:
        v = 0.1 * r
    return v.astype(np.float32).reshape(shape)


def write_forward(path):
    out = {}
    y = torch.tensor([(3 * j + 1) % CLASSES for j in range(BATCH)])
    for name, build, size, first_conv, last_linear in FORWARD_CASES:
        x = torch.from_numpy(hashes(BATCH * 3 * size * size, 1 << 20).astype(np.float32)
                             .reshape(BATCH, 3, size, size))
        model = build()
        with torch.no_grad():
            for k, (key, value) in enumerate(model.state_dict().items()):
                value.copy_(torch.from_numpy(formula_value(key, tuple(value.shape), k)))
        model.double()
        params = dict(model.named_parameters())
        # Eval first: a train forward moves the running stats.
        for mode in ("eval", "train"):
            model.train(mode == "train")
            model.zero_grad()
            logits = model(x.double())
            loss = nn.functional.cross_entropy(logits, y)
            loss.backward()
            out["%s.%s_logits" % (name, mode)] = logits.detach().clone()
            out["%s.%s_loss" % (name, mode)] = loss.detach().reshape(1)
            for key in (first_conv, last_linear):
                out["%s.%s_grad.%s" % (name, mode, key)] = params[key].grad.clone()
            print("%s: %s loss %.6f" % (name, mode, loss.item()), flush=True)
    write(path, out, {"torch": torch.__version__, "torchvision": torchvision.__version__})
    print("forward -> %s" % path)


def main():
    for name in KEY_MODELS:
        write_keys(name, getattr(torchvision.models, name)())
    write_keys("resnet18_cifar", cifar_resnet("resnet18"))
    write_keys("vgg16_bn_cifar", cifar_vgg("vgg16_bn"))
    write_counts()
    torch.set_num_threads(1)
    write_forward(os.path.join(HERE, "classic_forward.safetensors"))


if __name__ == "__main__":
    main()
