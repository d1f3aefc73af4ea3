#!/usr/bin/python3
"""PyTorch twins of the models bench/run.sh and bench/curve.sh time and train.

Each entry of MODELS is built as nnzoo's builder in models/ builds it:
torchvision 0.14's own module, with the `"stem": "cifar"` changes applied
exactly as models/*.c apply them for 32x32 inputs:

  resnet*      conv1 becomes a 3x3 stride-1 conv (padding 1, no bias) and the
               max-pool goes (nn.Identity)
  vgg*         no avgpool (nn.Identity) and the classifier is one
               Linear(512, classes) named `classifier`
  mobilenet_*  the first conv (features.0.0) has stride 1

(as tests/golden/torchvision_keys.py and torchvision_mobilenet_keys.py, which
pin nnzoo's state_dict keys). A replaced layer is initialized as torchvision
initializes that kind of layer (kaiming_normal_ fan_out for convs, normal(0,
0.01) for VGG's Linear), so a freshly built twin is distributed as nnzoo's.

  torch_models.py                      # parameters and MACs of every model
  torch_models.py --check NAME CONFIG [--nnzoo BIN]
      # compare NAME's twin with `nnzoo summary CONFIG --json`: input shape,
      # classes, trainable parameters, buffer values, conv + linear MACs;
      # exits 1 (and says what differs) if anything does

Run with Debian's /usr/bin/python3 (torch 1.13, torchvision 0.14).
"""

import argparse
import json
import subprocess
import sys

import torch
import torchvision
from torch import nn

CIFAR = (3, 32, 32)
IMAGENET = (3, 224, 224)


def lenet5(classes=10):
    """nnzoo's LeNet-5 (models/lenet.c): 1x28x28 in."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, classes),
    )


def cifar_resnet(name, classes=10):
    """torchvision's ResNet/ResNeXt/Wide ResNet `name` with the cifar stem."""
    model = getattr(torchvision.models, name)(num_classes=classes)
    model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    model.maxpool = nn.Identity()
    return model


def cifar_vgg(name, classes=10):
    """torchvision's VGG `name` with the cifar stem: 512x1x1 features into
    one Linear(512, classes)."""
    model = getattr(torchvision.models, name)(num_classes=classes)
    model.avgpool = nn.Identity()
    model.classifier = nn.Linear(512, classes)
    nn.init.normal_(model.classifier.weight, 0, 0.01)
    nn.init.zeros_(model.classifier.bias)
    return model


def cifar_mobilenet(name, classes=10):
    """torchvision's MobileNetV2/V3 `name` with the cifar stem (first conv
    stride 1); width 1.0 and dropout 0.2, as configs/ use them."""
    model = getattr(torchvision.models, name)(num_classes=classes)
    model.features[0][0].stride = (1, 1)
    return model


def imagenet(name, classes=1000):
    return getattr(torchvision.models, name)(num_classes=classes)


# name -> (builder(classes), input shape without the batch, classes)
MODELS = {
    "lenet5": (lenet5, (1, 28, 28), 10),
    "resnet18": (lambda c: cifar_resnet("resnet18", c), CIFAR, 10),
    "vgg16_bn": (lambda c: cifar_vgg("vgg16_bn", c), CIFAR, 10),
    "mobilenet_v2": (lambda c: cifar_mobilenet("mobilenet_v2", c), CIFAR, 10),
    "mobilenet_v3_small": (lambda c: cifar_mobilenet("mobilenet_v3_small", c), CIFAR, 10),
    "alexnet": (lambda c: imagenet("alexnet", c), IMAGENET, 1000),
    "resnet50": (lambda c: imagenet("resnet50", c), IMAGENET, 1000),
}


def build(name, classes=None):
    """(model, input shape without the batch, classes) for MODELS[name]."""
    builder, shape, default_classes = MODELS[name]
    classes = default_classes if classes is None else classes
    return builder(classes), shape, classes


def trainable_params(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def buffer_values(model):
    return sum(b.numel() for b in model.buffers())


def macs(model, shape):
    """Multiply-adds of the Conv2d and Linear layers for one image, counted
    as nnzoo summary counts them: conv numel(out) * C_in/groups * kh * kw,
    linear numel(out) * in_features."""
    total = [0]

    def hook(module, inputs, output):
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            total[0] += output.numel() * (module.in_channels // module.groups) * kh * kw
        else:
            total[0] += output.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *shape))
    for h in handles:
        h.remove()
    return total[0]


def nnzoo_summary(nnzoo, config):
    """`nnzoo summary CONFIG --json` as a dict, or exit with its message."""
    out = subprocess.run([nnzoo, "summary", config, "--json"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, check=False)
    if out.returncode != 0:
        sys.exit("torch_models.py: %s summary %s failed (exit %d): %s"
                 % (nnzoo, config, out.returncode, out.stderr.decode().strip()))
    return json.loads(out.stdout.decode().strip().splitlines()[-1])


def check(name, config, nnzoo):
    """Compare MODELS[name] with nnzoo's model for CONFIG; print one line per
    quantity and return the number that differ."""
    s = nnzoo_summary(nnzoo, config)
    model, shape, classes = build(name)
    layers = s.get("layers", [])
    nz_macs = sum(l["macs"] for l in layers if l["op"].startswith("conv") or l["op"] == "linear")
    rows = [
        ("input shape", list(s["input"][1:]), list(shape)),
        ("classes", layers[-1]["shape"][-1] if layers else None, classes),
        ("trainable parameters", s["trainable_params"], trainable_params(model)),
        ("buffer values", s["buffers"], buffer_values(model)),
        ("conv+linear MACs/image", nz_macs, macs(model, shape)),
    ]
    bad = 0
    for what, a, b in rows:
        ok = a == b
        bad += not ok
        print("%-18s %-22s nnzoo %-14s torch %-14s %s"
              % (name, what, a, b, "ok" if ok else "DIFFERENT"))
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", nargs=2, metavar=("NAME", "CONFIG"),
                    help="compare NAME's twin with nnzoo's model for CONFIG")
    ap.add_argument("--nnzoo", default="./nnzoo", help="the nnzoo binary (default ./nnzoo)")
    args = ap.parse_args()
    if args.check:
        name, config = args.check
        if name not in MODELS:
            ap.error("unknown model %s (have %s)" % (name, ", ".join(sorted(MODELS))))
        sys.exit(1 if check(name, config, args.nnzoo) else 0)
    for name in MODELS:
        model, shape, classes = build(name)
        print("%-20s input %-14s classes %5d  params %11d  buffers %7d  conv+linear MACs/image %13d"
              % (name, "x".join(map(str, shape)), classes, trainable_params(model),
                 buffer_values(model), macs(model, shape)))


if __name__ == "__main__":
    main()
