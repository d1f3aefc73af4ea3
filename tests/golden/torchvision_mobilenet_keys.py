"""Expected state_dict keys and shapes of the MobileNets (tests/test_models_mobilenet.c).

Run by hand from the repository root with Debian's python3-torch and
python3-torchvision (torch 1.13, torchvision 0.14), not another python:

    /usr/bin/python3 tests/golden/torchvision_mobilenet_keys.py

For each model, built with 1000 classes, 3 input channels and the default
width 1.0, it writes tests/golden/<model>_keys.txt: comment lines starting
with `#` (where the file comes from, the trainable parameter count), then one
line per state_dict entry in state_dict order:

    <key> <dim0> <dim1> ...

with no dims for a 0-d tensor (BatchNorm's num_batches_tracked).

mobilenet_v2, mobilenet_v3_small and mobilenet_v3_large are torchvision's
own modules. torchvision has no MobileNetV1, so the MobileNetV1 below is
written here to fix the names models/mobilenet_v1.c uses: every conv + BN
(+ ReLU) is a Conv2dNormActivation-like Sequential (conv at .0, BN at .1),
each depthwise-separable block is Sequential(depthwise, pointwise).
"""

import os

import torch
import torchvision
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))

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
    def __init__(self, num_classes=1000):
        super().__init__()
        layers = [conv_bn_relu(3, 32, 3, 2)]
        cin = 32
        for cout, stride in V1_BLOCKS:
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


def main():
    models = torchvision.models
    write_keys("mobilenet_v1", MobileNetV1())
    write_keys("mobilenet_v2", models.mobilenet_v2())
    write_keys("mobilenet_v3_small", models.mobilenet_v3_small())
    write_keys("mobilenet_v3_large", models.mobilenet_v3_large())


if __name__ == "__main__":
    main()
