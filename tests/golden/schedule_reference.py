"""Golden values for the learning-rate schedules (tests/test_schedule.c), from PyTorch.

Run by hand from the repository root with Debian's python3-torch:

    /usr/bin/python3 tests/golden/schedule_reference.py

For each variant in VARIANTS it makes a dummy SGD optimizer (momentum 0.9)
with the variant's lr, the torch.optim.lr_scheduler scheduler that nnzoo's
schedule of that name stands for, and records the lr (and for onecycle the
momentum) at every tick: the value in the optimizer before the tick's
scheduler.step(), so index t is what nn_schedule_lr(s, t) must return.

The nnzoo hyperparameters map to PyTorch as follows:

    constant      no scheduler (with warm-up: LinearLR alone)
    step          StepLR(step_size, gamma)
    multistep     MultiStepLR(milestones, gamma)
    exponential   ExponentialLR(gamma)
    cosine        CosineAnnealingLR(T_max, eta_min)
    onecycle      OneCycleLR(max_lr, total_steps, pct_start, anneal_strategy,
                  cycle_momentum, base_momentum, max_momentum, div_factor,
                  final_div_factor)
    noam          LambdaLR with the Annotated Transformer's
                  rate(step, d_model, factor, warmup) (step 0 counts as 1)
    plateau       ReduceLROnPlateau(mode, factor, patience, threshold,
                  threshold_mode, cooldown, min_lr, eps), stepped with
                  METRICS[t] after tick t
    warmup_steps, start_factor
                  SequentialLR([LinearLR(start_factor, total_iters=warmup_steps),
                  S], milestones=[warmup_steps]); for plateau, which
                  SequentialLR cannot hold, LinearLR.step() during warm-up
                  and plateau.step(metric) after

It writes tests/golden/schedules.safetensors with, for each variant,

    lr.<variant>        (ticks,)  the learning rate at ticks 0 .. ticks-1
    lr_lo.<variant>     (ticks,)  float32(lr - lr.<variant>): the two add up to
                                  the double lr within ~1e-15 relative
    momentum.<variant>, momentum_lo.<variant>
                        (ticks,)  onecycle only: SGD's momentum, likewise
    metrics.<variant>   (ticks,)  plateau only: the metric after each tick

and in the metadata the torch version and args.<variant>, the variant's line
of VARIANTS, which the C test checks against its own copy of the table.
"""

import os
import sys
import warnings

import numpy as np
import torch
from torch.optim import lr_scheduler as S

warnings.filterwarnings("ignore", message="The epoch parameter")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_writer import write  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schedules.safetensors")

# name -> "schedule base_lr ticks key=value ...", the same strings as in
# tests/test_schedule.c. Lists are comma-separated, choices by name.
VARIANTS = {
    "constant": "constant 0.1 30",
    "step": "step 0.1 30 step_size=7 gamma=0.5",
    "step_default_gamma": "step 1.0 30 step_size=3",
    "multistep": "multistep 0.2 30 milestones=12,5,20,12 gamma=0.3",
    "exponential": "exponential 0.05 30 gamma=0.9",
    "cosine": "cosine 0.1 30 T_max=20 eta_min=0.001",
    "cosine_zero": "cosine 0.5 30 T_max=10",
    "warmup_constant": "constant 0.3 30 warmup_steps=5",
    "warmup_cosine": "cosine 0.1 30 T_max=20 warmup_steps=5 start_factor=0.1",
    "warmup_step": "step 0.1 30 step_size=4 gamma=0.5 warmup_steps=3 start_factor=0.25",
    "warmup_exponential": "exponential 0.02 30 gamma=0.8 warmup_steps=10 start_factor=0.05",
    "onecycle": "onecycle 0.01 30 max_lr=0.5 total_steps=30",
    "onecycle_linear": ("onecycle 0.01 40 max_lr=1.0 total_steps=40 pct_start=0.25 anneal_strategy=linear "
                        "div_factor=10 final_div_factor=100 base_momentum=0.8 max_momentum=0.9"),
    "noam": "noam 1.0 30 d_model=512 warmup=10 factor=2",
    "noam_scaled": "noam 0.5 30 d_model=64 warmup=8",
    "plateau": ("plateau 0.1 30 mode=min factor=0.5 patience=2 threshold=0.01 threshold_mode=rel "
                "cooldown=1 min_lr=0.01"),
    "plateau_max_abs": ("plateau 0.1 30 mode=max factor=0.2 patience=1 threshold=0.05 threshold_mode=abs "
                        "min_lr=0.0001"),
    "warmup_plateau": "plateau 0.1 30 factor=0.5 patience=1 warmup_steps=4 start_factor=0.2",
}

# The validation metric after each tick (a loss: falls, stalls, rises);
# mode=max variants see 1 - METRICS. Rounded to float32, as the C test reads them.
METRICS = [1.0, 0.8, 0.7, 0.69, 0.695, 0.7, 0.6, 0.6, 0.61, 0.62, 0.63, 0.55, 0.55, 0.549, 0.56,
           0.57, 0.58, 0.59, 0.5, 0.49, 0.495, 0.5, 0.51, 0.52, 0.53, 0.54, 0.45, 0.46, 0.47, 0.48]

CHOICES = {"mode", "threshold_mode", "anneal_strategy", "interval"}


def parse(line):
    words = line.split()
    schedule, base_lr, ticks = words[0], float(words[1]), int(words[2])
    args = {}
    for word in words[3:]:
        key, value = word.split("=")
        if key == "milestones":
            args[key] = [int(v) for v in value.split(",")]
        elif key in CHOICES:
            args[key] = value
        elif key in ("step_size", "T_max", "total_steps", "d_model", "warmup", "patience", "cooldown",
                     "warmup_steps"):
            args[key] = int(value)
        else:
            args[key] = float(value)
    return schedule, base_lr, ticks, args


def noam_rate(step, d_model, factor, warmup):
    """The Annotated Transformer's rate()."""
    if step == 0:
        step = 1
    return factor * (d_model ** (-0.5) * min(step ** (-0.5), step * warmup ** (-1.5)))


def main_scheduler(opt, schedule, a):
    if schedule == "constant":
        return S.LambdaLR(opt, lambda t: 1.0)
    if schedule == "step":
        return S.StepLR(opt, a["step_size"], gamma=a.get("gamma", 0.1))
    if schedule == "multistep":
        return S.MultiStepLR(opt, a["milestones"], gamma=a.get("gamma", 0.1))
    if schedule == "exponential":
        return S.ExponentialLR(opt, a["gamma"])
    if schedule == "cosine":
        return S.CosineAnnealingLR(opt, a["T_max"], eta_min=a.get("eta_min", 0.0))
    if schedule == "onecycle":
        keys = ("pct_start", "anneal_strategy", "base_momentum", "max_momentum", "div_factor",
                "final_div_factor")
        return S.OneCycleLR(opt, a["max_lr"], total_steps=a["total_steps"],
                            **{k: a[k] for k in keys if k in a})
    if schedule == "noam":
        d, w, f = a.get("d_model", 512), a.get("warmup", 4000), a.get("factor", 1.0)
        return S.LambdaLR(opt, lambda t: noam_rate(t, d, f, w))
    if schedule == "plateau":
        keys = ("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "min_lr")
        return S.ReduceLROnPlateau(opt, **{k: a[k] for k in keys if k in a})
    raise ValueError(schedule)


def trajectory(line, metrics):
    schedule, base_lr, ticks, a = parse(line)
    param = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([param], lr=base_lr, momentum=0.9)
    warm = a.pop("warmup_steps", 0)
    lin = S.LinearLR(opt, start_factor=a.pop("start_factor", 1.0 / 3), total_iters=warm) if warm else None
    sched = main_scheduler(opt, schedule, a)
    if lin and schedule != "plateau":
        sched = S.SequentialLR(opt, [lin, sched], milestones=[warm])
    if schedule == "plateau":
        metrics = metrics if a.get("mode", "min") == "min" else [1.0 - m for m in metrics]
        metrics = [float(np.float32(m)) for m in metrics]
    lrs, moms = [], []
    for t in range(ticks):
        lrs.append(opt.param_groups[0]["lr"])
        moms.append(opt.param_groups[0]["momentum"])
        opt.step()
        if schedule != "plateau":
            sched.step()
        elif t < warm:
            lin.step()
        else:
            sched.step(metrics[t])
    return schedule, np.array(lrs), np.array(moms), np.array(metrics[:ticks])


def main():
    tensors, meta = {}, {"torch": torch.__version__,
                         "generator": "tests/golden/schedule_reference.py"}
    for name, line in VARIANTS.items():
        schedule, lrs, moms, metrics = trajectory(line, METRICS)
        hi = lrs.astype(np.float32)
        tensors["lr." + name] = hi
        tensors["lr_lo." + name] = (lrs - hi.astype(np.float64)).astype(np.float32)
        if schedule == "onecycle":
            hi = moms.astype(np.float32)
            tensors["momentum." + name] = hi
            tensors["momentum_lo." + name] = (moms - hi.astype(np.float64)).astype(np.float32)
        if schedule == "plateau":
            tensors["metrics." + name] = metrics
        meta["args." + name] = line
        print(f"{name:20s} " + " ".join(f"{v:.4g}" for v in lrs[:12]) + " ...")
    write(OUT, tensors, meta)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
