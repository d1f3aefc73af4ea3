"""Golden values for tests/test_transforms.c: torchvision's resize, center
crop and resized crop of a fixed small image, on the uint8 tensor path.

Run by hand with Debian's python3-torch and python3-torchvision
(/usr/bin/python3: torch 1.13, torchvision 0.14):
    /usr/bin/python3 tests/golden/transforms_reference.py
Writes tests/golden/transforms.safetensors:
  image          the input, uint8 values stored as float, (3, 13, 17)
  <case>         torchvision's output for each case below, as float
  <case>.pil     for the resize cases with antialias: PIL's bilinear resize
                 of the same image (what ImageFolder + Resize do on PIL
                 images), to measure how far the tensor path is from it
  grey           PIL's convert("L") of the image, (13, 17)
Metadata `cases` lists the case names; `case.<name>` its arguments.
"""

import os
import sys

import numpy as np
import torch
import torchvision
import torchvision.transforms.functional as F
from PIL import Image
from torchvision.transforms import InterpolationMode

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_writer import write  # noqa: E402

# A fixed image with edges, gradients and noise: values from a formula, so
# the C test could rebuild it, but it reads it from the file.
c, h, w = 3, 13, 17
yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
image = np.stack([
    (xx * 15 + yy * 7) % 256,
    ((xx - 8) ** 2 + (yy - 6) ** 2) * 5 % 256,
    np.where((xx // 3 + yy // 4) % 2 == 0, 250, 5) ^ ((xx * 31 + yy * 17) % 29),
]).astype(np.uint8)
img = torch.from_numpy(image)
pil = Image.fromarray(np.transpose(image, (1, 2, 0)), "RGB")

tensors = {"image": img.float()}
meta = {"torch": torch.__version__, "torchvision": torchvision.__version__}
cases = []

BIL = InterpolationMode.BILINEAR


def add(name, spec, out, pil_out=None):
    cases.append(name)
    meta["case." + name] = spec
    tensors[name] = out.float()
    if pil_out is not None:
        tensors[name + ".pil"] = torch.from_numpy(
            np.transpose(np.asarray(pil_out), (2, 0, 1)).copy()).float()


# resize: size (int: shorter side, [h, w]: exact), antialias
for size in (7, 5, 29, [9, 23], [13, 8], [20, 17]):
    for aa in (False, True):
        tag = size if isinstance(size, int) else f"{size[0]}x{size[1]}"
        name = f"resize_{tag}_aa{int(aa)}"
        out = F.resize(img, size, interpolation=BIL, antialias=aa)
        pil_out = None
        if aa:
            oh, ow = out.shape[-2:]
            pil_out = pil.resize((ow, oh), Image.BILINEAR)
        add(name, f"resize size={size} antialias={aa}", out, pil_out)

# center crop: smaller, odd offsets, larger than the image (zero padded)
for size in (8, [5, 10], [12, 16], [20, 9], [16, 21]):
    tag = size if isinstance(size, int) else f"{size[0]}x{size[1]}"
    add(f"center_crop_{tag}", f"center_crop size={size}", F.center_crop(img, size))

# resized crop (RandomResizedCrop's resample once its box is drawn):
# top, left, height, width, size, antialias
for top, left, ch, cw, size, aa in ((2, 3, 9, 11, 6, True), (2, 3, 9, 11, 6, False),
                                    (0, 5, 13, 7, [10, 12], True), (4, 1, 5, 6, 14, True)):
    name = f"resized_crop_{top}_{left}_{ch}_{cw}_{size if isinstance(size, int) else 'x'.join(map(str, size))}_aa{int(aa)}"
    out = F.resized_crop(img, top, left, ch, cw, size if isinstance(size, list) else [size, size],
                         interpolation=BIL, antialias=aa)
    add(name, f"resized_crop top={top} left={left} h={ch} w={cw} size={size} antialias={aa}", out)

tensors["grey"] = torch.from_numpy(np.asarray(pil.convert("L")).copy()).float()
meta["cases"] = ",".join(cases)
out_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "transforms.safetensors")
write(out_path, tensors, meta)
print(f"wrote {out_path}: {len(cases)} cases")
