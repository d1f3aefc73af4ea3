"""nnzoo against torchvision: the same weights give the same logits, both ways.

Run with Debian's python3-torch and python3-torchvision (tests/e2e_torchvision.sh
does, with /usr/bin/python3, not a pyenv one):

    /usr/bin/python3 tests/torchvision_equal.py NNZOO WORKDIR [MODEL...]

For each model (default: every torchvision model the zoo has), at torchvision's
default options and 1000 classes, with the zoo's configs/<model>_imagenet.json
(or, for a model without one, configs/resnet18_imagenet.json with its model
section replaced by {"name": <model>}):

1. nnzoo -> torch: `nnzoo export CONFIG --init` writes nnzoo's initial weights
   as a state_dict; torchvision.models.<model>() loads it with strict=True;
   torch's eval-mode logits on a fixed random batch (2, 3, 224, 224) and
   `nnzoo forward` on the same batch must agree: max abs difference at most
   TOLERANCE (times the largest |logit| when that is above 1).
2. torch -> nnzoo: every weight is moved a little; BatchNorm's running
   statistics are set from the batch (so that activations keep their scale
   through the net: at torchvision's init MobileNetV3's logits are 1e-9 and
   would say little) and then moved at random (means shifted, variances
   scaled by U(0.5, 1.5)), num_batches_tracked drawn at random; torch's
   state_dict is saved as safetensors (F32, I64 num_batches_tracked) and
   `nnzoo forward --checkpoint` of that file must agree again.

A model that the zoo does not have (nnzoo refuses its name) fails.
When /usr/bin/python3 has no torch or torchvision, it prints SKIPPED and exits 0.
Files go in WORKDIR (one folder per model, removed when the model is done).
"""

import json
import os
import shutil
import struct
import subprocess
import sys
import time
from collections import OrderedDict

# Max abs logit difference allowed: flat for nnzoo's exported weights in
# torch; for torch's perturbed weights coming back, times the largest |logit|
# when that is above 1 (float32 rounding grows with the values: ResNet-50's
# logits there reach 150, where 1e-4 is 7e-7 of them).
TOLERANCE = 1e-4
BATCH, SIZE = 2, 224
MODELS = ["alexnet", "vgg11_bn", "vgg16", "resnet18", "resnet50", "resnext50_32x4d",
          "wide_resnet50_2", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large"]

try:
    import numpy as np
    import torch
    import torchvision
except ImportError as e:
    print(f"SKIPPED: python3-torch/python3-torchvision not installed ({e})")
    sys.exit(0)

DTYPES = {"F32": (np.dtype("<f4"), torch.float32), "I64": (np.dtype("<i8"), torch.int64)}


def read_safetensors(path):
    """name -> torch tensor, in the file's order (F32 and I64 only)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n], object_pairs_hook=OrderedDict)
    header.pop("__metadata__", None)
    out = OrderedDict()
    for name, e in header.items():
        dtype = DTYPES[e["dtype"]][0]
        begin, end = e["data_offsets"]
        count = (end - begin) // dtype.itemsize
        array = np.frombuffer(data, dtype=dtype, count=count, offset=8 + n + begin)
        out[name] = torch.from_numpy(array.reshape(e["shape"]).copy())
    return out


def write_safetensors(path, tensors, metadata=None):
    """tensors: name -> float32 or int64 torch tensor (stored as F32 / I64)."""
    header, blobs, offset = OrderedDict(), [], 0
    if metadata:
        header["__metadata__"] = dict(metadata)
    for name, t in tensors.items():
        kind = {torch.float32: "F32", torch.int64: "I64"}[t.dtype]
        blob = t.detach().contiguous().numpy().astype(DTYPES[kind][0]).tobytes()
        header[name] = {"dtype": kind, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


# nnzoo's idle OpenMP threads spin by default; here most of a run is the one
# thread drawing VGG's 138M initial weights (which the checkpoint then
# replaces), and the spinning would take the other core from torch and
# halve the speed on a shared 2-core machine.
NNZOO_ENV = dict(os.environ, OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "passive"))


def run(cmd):
    """Runs an nnzoo command; raises with its stderr when it fails."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=NNZOO_ENV)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:2])} exited {p.returncode}: {p.stderr.strip()}")


def perturb(model, x, gen):
    """Moves every weight a little, sets BatchNorm's statistics from the
    batch x and then moves them at random."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for t in model.parameters():
            scale = float(t.std()) if t.numel() > 1 else 0.0
            t.add_(0.1 * (scale or 0.1) * torch.randn(t.shape, generator=gen))
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # a cumulative average: after one batch, its statistics
        model.train()
        model(x)
        model.eval()
        for m in bns:
            m.running_mean.add_(0.1 * m.running_var.sqrt() * torch.randn(m.running_mean.shape, generator=gen))
            m.running_var.mul_(0.5 + torch.rand(m.running_var.shape, generator=gen))
            m.num_batches_tracked.fill_(int(torch.randint(1, 1 << 20, (1,), generator=gen)))


def forward_diff(nnzoo, config, weights, x_path, y_path, reference):
    run([nnzoo, "forward", *config, "--checkpoint", weights, "--input", x_path, "-o", y_path])
    logits = read_safetensors(y_path)["logits"]
    if logits.shape != reference.shape:
        raise RuntimeError(f"nnzoo logits {tuple(logits.shape)}, torch {tuple(reference.shape)}")
    return float((logits - reference).abs().max())


def config_of(name):
    """The nnzoo arguments that give model `name` at its defaults, for ImageNet."""
    own = f"configs/{name}_imagenet.json"
    if os.path.exists(own):
        return [own]
    return ["configs/resnet18_imagenet.json", "--set", "model=" + json.dumps({"name": name})]


def check(nnzoo, work, name, config, build, channels=3, size=SIZE):
    """Both directions for one model; returns the max abs differences
    nnzoo->torch and torch->nnzoo, the largest |logit| of each, and a note on
    the key order; or raises."""
    if not os.path.exists(config[0]):
        raise RuntimeError(f"{config[0]} does not exist")
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    try:
        exported = os.path.join(d, "nnzoo.safetensors")
        run([nnzoo, "export", *config, "--init", "-o", exported])
        sd = read_safetensors(exported)
        for k, t in sd.items():
            want = torch.int64 if k.endswith("num_batches_tracked") else torch.float32
            if t.dtype != want or (want == torch.int64 and t.dim() != 0):
                raise RuntimeError(f"export: `{k}` is {t.dtype} {tuple(t.shape)}, torch keeps {want}"
                                   f"{' 0-d' if want == torch.int64 else ''}")
        model = build()
        model.load_state_dict(sd, strict=True)
        order = "" if list(sd) == list(model.state_dict()) else ", keys not in torch's order"
        model.eval()
        gen = torch.Generator().manual_seed(1234)
        x = torch.randn((BATCH, channels, size, size), generator=gen)
        x_path, y_path = os.path.join(d, "x.safetensors"), os.path.join(d, "y.safetensors")
        write_safetensors(x_path, {"input": x})
        with torch.no_grad():
            ref = model(x)
        there = forward_diff(nnzoo, config, exported, x_path, y_path, ref)
        os.remove(exported)

        perturb(model, x, gen)
        theirs = os.path.join(d, "torch.safetensors")
        write_safetensors(theirs, model.state_dict(), {"format": "pt"})
        with torch.no_grad():
            ref2 = model(x)
        back = forward_diff(nnzoo, config, theirs, x_path, y_path, ref2)
        return there, back, float(ref.abs().max()), float(ref2.abs().max()), order
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    nnzoo, work, names = argv[1], argv[2], argv[3:] or MODELS
    torch.set_num_threads(os.cpu_count() or 1)
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}; "
          f"batch ({BATCH}, 3, {SIZE}, {SIZE}); max abs logit difference <= {TOLERANCE:g} "
          f"(x the largest |logit| when above 1)")
    passed = failed = 0
    for name in names:
        t0 = time.time()
        try:
            build = getattr(torchvision.models, name)
            there, back, scale, scale2, order = check(nnzoo, work, name, config_of(name), build)
            # The exported weights must give torch's logits within 1e-4 flat;
            # the perturbed weights coming back make logits up to ~200, so
            # there the bound scales with them.
            ok = there <= TOLERANCE and back <= TOLERANCE * max(1.0, scale2)
            print(f"{'ok  ' if ok else 'FAIL'} {name:20s} nnzoo->torch {there:.2e} (|logits| <= {scale:.3g})"
                  f"  torch->nnzoo {back:.2e} (|logits| <= {scale2:.3g}){order}  {time.time() - t0:.1f} s",
                  flush=True)
        except Exception as e:  # one line per model, whatever went wrong
            ok = False
            print(f"FAIL {name:20s} {type(e).__name__}: {' '.join(str(e).split())[:400]}", flush=True)
        passed, failed = passed + ok, failed + (not ok)
    print(f"torchvision: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
