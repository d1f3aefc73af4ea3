#!/usr/bin/python3
"""PyTorch side of `make bench`: time full training steps on a fixed random batch.

One step = zero_grad, forward, loss, backward, SGD step -- the same work as
`nnzoo bench CONFIG`. The models are in bench/torch_models.py, built to match
nnzoo's exactly; add a new one to MODELS there and a row to bench/run.sh.

Threads: Debian's torch does its GEMMs in OpenBLAS, whose thread pool
torch.set_num_threads does not reach. So a setting is a pair (T, B): torch
intra-op threads T (OpenMP: oneDNN convolutions, elementwise ops) and OpenBLAS
threads B, set through openblas_set_num_threads on the libopenblas that torch
actually loaded (found in /proc/self/maps).

Wait policy: torch's OpenMP is libgomp, as is nnzoo's. With
OMP_WAIT_POLICY=active, idle OpenMP threads spin instead of sleeping between
parallel regions, which makes short steps much faster; nnzoo sets it for
itself unless the user has. libgomp reads the variable once, as it loads, so
it can only be chosen per process. So a full setting is (T, B, policy), with
policy "default" (variable unset) or "active".

  torch_train.py --torch-threads 2 --blas-threads 1 --json   # one setting,
                                 # policy from the environment as it is
  torch_train.py --best                                      # fastest of eight
  torch_train.py --best --settings 2,1,active/2,2,default    # fastest of these

--best runs each setting in a fresh subprocess of this script, with
OMP_WAIT_POLICY removed from ("default") or set in ("active") its environment,
prints one human-readable line per setting on stderr and the fastest as one
JSON line on stdout. --settings narrows the search for models whose steps take
seconds (bench/run.sh says which and why).

Run it with Debian's /usr/bin/python3 (python3-torch), not a pyenv python.
"""

import argparse
import ctypes
import json
import os
import subprocess
import sys
import time

# (torch threads, OpenBLAS threads, OMP_WAIT_POLICY) tried by --best: the
# 2-core settings. "default" means OMP_WAIT_POLICY unset.
SETTINGS = [(t, b, policy)
            for policy in ("default", "active")
            for t, b in ((1, 1), (2, 2), (1, 2), (2, 1))]


def wait_policy():
    """OMP_WAIT_POLICY as this process's libgomp saw it ("default" if unset)."""
    return os.environ.get("OMP_WAIT_POLICY", "default").lower()


def setting_name(t, b, policy):
    return "%d,%d,%s" % (t, b, policy)


def openblas_lib():
    """ctypes handle on the OpenBLAS torch loaded (call after `import torch`)."""
    paths = []
    with open("/proc/self/maps") as f:
        for line in f:
            p = line.split()[-1]
            if p.startswith("/") and "openblas" in os.path.basename(p) and p not in paths:
                paths.append(p)
    # Also consider any libblas.so.3 mapped (it may be OpenBLAS via alternatives).
    with open("/proc/self/maps") as f:
        for line in f:
            p = line.split()[-1]
            if p.startswith("/") and os.path.basename(p).startswith("libblas") and p not in paths:
                paths.append(p)
    for p in paths:
        # dlopen of an already mapped library returns that same instance.
        lib = ctypes.CDLL(p)
        if hasattr(lib, "openblas_set_num_threads"):
            lib.openblas_set_num_threads.argtypes = [ctypes.c_int]
            lib.openblas_get_num_threads.restype = ctypes.c_int
            return lib, p
    return None, None


def parse_settings(text):
    """'all' or T,B,policy triples separated by '/', as a list of tuples."""
    if text == "all":
        return list(SETTINGS)
    out = []
    for item in text.split("/"):
        parts = item.split(",")
        if (len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit()
                or parts[2] not in ("default", "active") or int(parts[0]) < 1 or int(parts[1]) < 1):
            raise ValueError("bad setting %r: expected T,B,policy with T, B >= 1 and policy "
                             "default or active, e.g. 2,1,active" % item)
        out.append((int(parts[0]), int(parts[1]), parts[2]))
    return out


def run_one(args):
    import torch
    import torch.nn as nn
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import torch_models

    if args.model not in torch_models.MODELS:
        sys.exit("torch_train.py: unknown model %s (have %s)"
                 % (args.model, ", ".join(sorted(torch_models.MODELS))))

    torch.set_num_threads(args.torch_threads)
    blas, blas_path = openblas_lib()
    if blas is None:
        sys.exit("torch_train.py: no OpenBLAS loaded by torch; cannot set BLAS threads")
    blas.openblas_set_num_threads(args.blas_threads)
    got = blas.openblas_get_num_threads()
    if got != args.blas_threads or torch.get_num_threads() != args.torch_threads:
        sys.exit("torch_train.py: thread setting did not stick: torch %d blas %d"
                 % (torch.get_num_threads(), got))

    torch.manual_seed(0)
    model, shape, classes = torch_models.build(args.model)
    model.train()
    x = torch.randn(args.batch, *shape)
    y = torch.randint(0, classes, (args.batch,))
    loss_fn = nn.CrossEntropyLoss()
    # As bench/run.sh sets nnzoo's (the rate does not change the timing).
    opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9, weight_decay=5e-4)

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(args.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    dt = time.perf_counter() - t0
    loss = float(loss)  # sanity: must be finite

    ms = dt * 1000.0 / args.steps
    res = {
        "model": args.model,
        "torch_threads": args.torch_threads,
        "blas_threads": args.blas_threads,
        "omp_wait_policy": wait_policy(),
        "batch": args.batch,
        "steps": args.steps,
        "ms_per_step": round(ms, 4),
        "samples_per_s": round(args.batch * args.steps / dt, 1),
        "loss": round(loss, 4),
        "torch": torch.__version__,
        "blas": blas_path,
    }
    if args.json:
        print(json.dumps(res), flush=True)
    else:
        print("%s T=%d B=%d OMP_WAIT_POLICY=%s: %.3f ms/step, %.0f samples/s"
              % (args.model, args.torch_threads, args.blas_threads, res["omp_wait_policy"],
                 ms, res["samples_per_s"]))
    if loss != loss:
        sys.exit("torch_train.py: loss is NaN")


def run_best(args):
    best = None
    settings = parse_settings(args.settings)
    for t, b, policy in settings:
        name = setting_name(t, b, policy)
        env = dict(os.environ)
        # Belt and braces: the same counts for the pools as they start up.
        env["OMP_NUM_THREADS"] = str(t)
        env["OPENBLAS_NUM_THREADS"] = str(b)
        # "default" must not inherit a policy from our own environment.
        env.pop("OMP_WAIT_POLICY", None)
        if policy != "default":
            env["OMP_WAIT_POLICY"] = policy
        cmd = [sys.executable, os.path.abspath(__file__), "--model", args.model,
               "--torch-threads", str(t), "--blas-threads", str(b),
               "--steps", str(args.steps), "--warmup", str(args.warmup),
               "--batch", str(args.batch), "--json"]
        out = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, check=False)
        if out.returncode != 0:
            sys.exit("torch_train.py: setting %s failed (exit %d)" % (name, out.returncode))
        res = json.loads(out.stdout.decode().strip().splitlines()[-1])
        if res["omp_wait_policy"] != policy:
            sys.exit("torch_train.py: setting %s ran with OMP_WAIT_POLICY %s"
                     % (name, res["omp_wait_policy"]))
        print("pytorch %s T=%d B=%d %-8s %8.3f ms/step %9.1f samples/s"
              % (args.model, t, b, policy + ":", res["ms_per_step"], res["samples_per_s"]),
              file=sys.stderr, flush=True)
        if best is None or res["samples_per_s"] > best["samples_per_s"]:
            best = res
    best["best_of"] = [setting_name(*s) for s in settings]
    print(json.dumps(best), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="lenet5",
                    help="a model of bench/torch_models.py (default lenet5)")
    ap.add_argument("--torch-threads", type=int, default=2)
    ap.add_argument("--blas-threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    ap.add_argument("--best", action="store_true",
                    help="run T,B in 1,1 / 2,2 / 1,2 / 2,1, each with OMP_WAIT_POLICY "
                         "unset and =active, each in a fresh process; "
                         "print the fastest as JSON")
    ap.add_argument("--settings", default="all",
                    help="with --best: the T,B,policy settings to try, separated by '/' "
                         "(default all: the eight above)")
    args = ap.parse_args()
    try:
        parse_settings(args.settings)
    except ValueError as e:
        ap.error("--settings: %s" % e)
    if args.steps <= 0 or args.batch <= 0 or args.warmup < 0:
        ap.error("--steps and --batch must be positive, --warmup non-negative")
    if args.best:
        run_best(args)
    else:
        run_one(args)


if __name__ == "__main__":
    main()
