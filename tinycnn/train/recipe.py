"""A Recipe (how a step trains: what `recipe()` in train.py returns), its
ranges, and what it builds: the optimizer and the lr schedule, with the
schedule's rows as PyTorch itself sets them (the CUDA-graph step and the
lessons' schedule picture read those)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
from torch import nn

TRAIN_IMAGES = 60_000  # MNIST's training set: a recipe's steps per epoch


@dataclass
class Recipe:
    """How a step trains: what `recipe()` in train.py returns.

    num_epochs    passes over the 60,000 training images (whole number,
                  1 to the step's cap)
    batch_size    images per optimizer step, 1 to 60,000 (default 128);
                  with "onecycle", the run needs at least 2 optimizer
                  steps to warm up and 2 to anneal
    optimizer     "sgd" (default) or "adam"
    lr            learning rate: the peak for "onecycle", the starting
                  value for "step" and "constant"; above 0, at most 100
                  (default 0.05)
    momentum      SGD momentum, 0 to 1 (default 0.9; adam ignores it)
    nesterov      SGD look-ahead momentum (default False)
    weight_decay  L2 penalty on every parameter, 0 to 1 (default 0)
    schedule      "onecycle": lr rises for pct_start of all batches, then
                  falls, updated every batch; "step": lr times gamma every
                  step_size epochs, updated at each epoch's end (so with
                  one epoch it never changes); "constant" (default
                  "onecycle")
    pct_start     onecycle: share of the batches spent warming up (0.25)
    step_size     step: epochs between lr decays, 1 to 1000 (1)
    gamma         step: lr factor at each decay, above 0, at most 10 (0.1)
    rotation      random rotation of each training image, at most this
                  many degrees either way (0: off)
    translate     random shift, at most this fraction of 28 px either way
                  (0: off; 0.1 is up to 2.8 px)
    label_smoothing  share of each target's probability spread evenly
                  over all 10 classes in the training loss (0: plain
                  cross-entropy; 0.1 is common). The test loss stays plain.
    seed          seeds weight init, batch order, dropout and augmentation
                  (0 to 2**63 - 1)
    """

    num_epochs: int = 15        # passes over the 60 000 training images
    batch_size: int = 128       # images per optimizer step
    optimizer: str = "sgd"      # "sgd" or "adam"
    lr: float = 0.05            # peak lr for onecycle, first lr otherwise
    momentum: float = 0.9       # SGD momentum (ignored by adam)
    nesterov: bool = False      # SGD look-ahead momentum
    weight_decay: float = 0.0   # L2 penalty on every parameter
    schedule: str = "onecycle"  # "onecycle" (per batch), "step", "constant"
    pct_start: float = 0.25     # onecycle: share of batches spent warming up
    step_size: int = 1          # step: epochs between lr decays
    gamma: float = 0.1          # step: lr factor at each decay
    rotation: float = 0.0       # random rotation, max degrees (0: off)
    translate: float = 0.0      # random shift, max fraction of 28 px (0: off)
    label_smoothing: float = 0.0  # training targets: 1 - x on the label
    seed: int = 1               # seeds init, batch order, dropout, augment

    @classmethod
    def from_fields(cls, fields: dict) -> Recipe:
        """A checked Recipe from plain values; ValueError says what is off."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        extra = sorted(set(fields) - set(known))
        if extra:
            raise ValueError(f"unknown Recipe fields {extra}")
        for name, value in fields.items():
            kind = {"int": int, "float": float, "bool": bool,
                    "str": str}[known[name].type]
            ok = (isinstance(value, bool) if kind is bool else
                  isinstance(value, kind) and not isinstance(value, bool)
                  if kind is not float else
                  isinstance(value, (int, float)) and not isinstance(
                      value, bool) and math.isfinite(value))
            if not ok:
                raise ValueError(f"Recipe.{name} must be {kind.__name__}, "
                                 f"got {value!r}")
        r = cls(**fields)
        limits = [
            ("num_epochs", 1 <= r.num_epochs <= 1000, "from 1 to 1000 (the "
             "step's cap is the epochs check's)"),
            ("batch_size", 1 <= r.batch_size <= TRAIN_IMAGES,
             f"from 1 to {TRAIN_IMAGES}"),
            ("optimizer", r.optimizer in ("sgd", "adam"), "'sgd' or 'adam'"),
            ("schedule", r.schedule in ("onecycle", "step", "constant"),
             "'onecycle', 'step' or 'constant'"),
            ("lr", 0 < r.lr <= 100, "above 0 and at most 100"),
            ("momentum", 0 <= r.momentum < 1, "from 0 to below 1"),
            ("weight_decay", 0 <= r.weight_decay <= 1, "from 0 to 1"),
            ("pct_start", 0 < r.pct_start < 1, "between 0 and 1"),
            ("step_size", 1 <= r.step_size <= 1000, "from 1 to 1000"),
            ("gamma", 0 < r.gamma <= 10, "above 0 and at most 10"),
            ("rotation", 0 <= r.rotation <= 180, "from 0 to 180 degrees"),
            ("translate", 0 <= r.translate <= 0.5, "from 0 to 0.5"),
            ("label_smoothing", 0 <= r.label_smoothing < 1,
             "from 0 to below 1"),
            ("seed", 0 <= r.seed < 1 << 63, "from 0 to 2**63 - 1"),
        ]
        for name, ok, what in limits:
            if not ok:
                raise ValueError(f"Recipe.{name} is {getattr(r, name)!r}; "
                                 f"it must be {what}")
        if r.schedule == "onecycle":
            steps = r.num_epochs * math.ceil(TRAIN_IMAGES / r.batch_size)
            warm = r.pct_start * steps
            if warm < 2 or steps - warm < 2:
                raise ValueError(
                    f"with batch_size {r.batch_size} and {r.num_epochs} "
                    f"epoch(s) training takes {steps} optimizer step(s), "
                    f"and OneCycle would warm up for {warm:g} of them "
                    f"(pct_start {r.pct_start}): it needs at least 2 to "
                    "warm up and 2 to anneal. Use a smaller batch_size, "
                    "more epochs, or another pct_start")
        return r


class Diverged(RuntimeError):
    """The loss stopped being a finite number."""


def make_optimizer(model: nn.Module, r: Recipe) -> torch.optim.Optimizer:
    if r.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=r.lr,
                               momentum=r.momentum, nesterov=r.nesterov,
                               weight_decay=r.weight_decay)
    if r.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=r.lr,
                                weight_decay=r.weight_decay)
    raise ValueError(f"unknown optimizer {r.optimizer!r}: use 'sgd' or 'adam'")


def make_schedule(opt: torch.optim.Optimizer, r: Recipe,
                  batches_per_epoch: int):
    """Return (scheduler, per_batch): OneCycle steps every batch."""
    sched = torch.optim.lr_scheduler
    if r.schedule == "onecycle":
        return sched.OneCycleLR(opt, max_lr=r.lr, epochs=r.num_epochs,
                                steps_per_epoch=batches_per_epoch,
                                pct_start=r.pct_start), True
    if r.schedule == "step":
        return sched.StepLR(opt, r.step_size, r.gamma), False
    if r.schedule == "constant":
        return sched.LambdaLR(opt, lambda _: 1.0), False
    raise ValueError(f"unknown schedule {r.schedule!r}: "
                     "use 'onecycle', 'step' or 'constant'")


def schedule_rows(r: Recipe, batches: int) -> list[tuple[float, float]]:
    """(lr, momentum) before each optimizer step of the whole run, and
    after the last, as PyTorch's own optimizer and scheduler set them
    (OneCycleLR cycles the momentum too; Adam's is beta1)."""
    dummy = nn.ParameterList([nn.Parameter(torch.zeros(1))])  # draws nothing
    opt = make_optimizer(dummy, r)
    sched, per_batch = make_schedule(opt, r, batches)
    group, rows = opt.param_groups[0], []

    def now() -> tuple[float, float]:
        return group["lr"], (group["betas"][0] if "betas" in group
                             else group["momentum"])

    for _ in range(r.num_epochs):
        for _ in range(batches):
            rows.append(now())
            opt.step()  # no gradients: changes nothing, keeps torch's order
            if per_batch:
                sched.step()
        if not per_batch:
            sched.step()
    return [*rows, now()]
