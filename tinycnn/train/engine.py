"""The training loop: a model, a recipe, the data in memory -> metrics.

Everything lives on the training device from the start: the 60 000 images
are one uint8 tensor. Each batch is one call of a step (step.EagerStep,
or on CUDA the same step recorded once as a CUDA graph and replayed:
graphed.choose), which a GPU needs to be busy; the loop syncs with the
device once every 50 batches, times the first epoch for an estimate of
the run, and evaluates after every epoch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from tinycnn.train import graphed
from tinycnn.train.device import memory_format
from tinycnn.train.precision import choose
from tinycnn.train.recipe import Diverged, Recipe
from tinycnn.train.step import evaluate


@dataclass
class Pace:
    """An epoch's expected duration, from batches in their steady state.

    The first batches of a run are slow for reasons the rest do not share
    (allocations, kernel selection, a compile, a GPU's warm-up: 20 such
    batches made a 85 s GPU run read "about 27 min"), so the clock starts
    after `warm` batches and stops `timed` batches later, each mark after
    a sync. Evaluation and the epoch's syncs add about a tenth (`extra`).
    """
    batches: int            # per epoch
    warm: int = 10          # batches not timed
    timed: int = 20         # batches timed
    extra: float = 0.1      # the test pass and syncs, as a share
    start: float | None = None

    @property
    def marks(self) -> tuple[int, int]:
        """The batch indices after which the clock is read."""
        return self.warm - 1, self.warm + self.timed - 1

    def mark(self, i: int, now: float) -> float | None:
        """Read at batch `i` (one of `marks`): None, or at the second mark
        the seconds an epoch will take."""
        if i == self.marks[0]:
            self.start = now
            return None
        if self.start is None:
            return None
        return (now - self.start) / self.timed * self.batches * (
            1 + self.extra)


def fit(model: nn.Module, recipe: Recipe, data, device: torch.device,
        on_epoch: Callable[[dict], None] | None = None,
        progress: bool = True,
        on_estimate: Callable[[float], None] | None = None,
        precision: str | None = None,
        on_beat: Callable[[int, int, int, float], None] | None = None,
        beat_s: float = 30.0, graph: bool | None = None,
        on_path: Callable[[str], None] | None = None) -> list[dict]:
    """Train `model` by `recipe`; return one metrics dict per epoch.

    `precision` is "fp32" or "bf16" (autocast); None picks the faster one
    for `device` (tinycnn.train.precision.choose).

    `on_estimate(seconds)` is called once, early in the first epoch, with
    the whole run's expected duration (see `Pace`).
    `on_beat(epoch, batches done, batches, seconds into the epoch)` is
    called at most every `beat_s` seconds inside an epoch (at the loop's
    own syncs, so it costs nothing): a heartbeat where no bar is shown.

    `graph`: replay each step as one CUDA graph (graphed.py); None:
    `graphed.wanted(device)`. `on_path(path)` is told which step ran:
    "eager", "cuda graph", or "eager (no cuda graph: why)".
    """
    from tqdm.auto import tqdm  # only the loop needs it

    precision = precision or choose(device)[0]
    X_train, y_train, X_test, y_test = (t.to(device) for t in data)
    model.to(device, memory_format=memory_format(device))
    N, B = len(X_train), recipe.batch_size
    batches = math.ceil(N / B)  # per epoch
    if graph is None:
        graph = graphed.wanted(device)
    step = graphed.choose(model, recipe, batches, X_train, y_train,
                          precision, graph)
    torch.manual_seed(recipe.seed)  # after the step: a capture draws numbers
    if on_path:
        on_path(step.path)
    loss_sum, correct = step.loss_sum, step.correct
    history = []
    pace = Pace(batches)
    for epoch in range(1, recipe.num_epochs + 1):
        model.train()
        t0 = beat = time.perf_counter()
        perm = torch.randperm(N, device=device)
        loss_sum.zero_()  # the step sums on the device: no sync a batch
        correct.zero_()
        trace, traced = [], (0.0, 0)  # mean loss of each 50 batches
        bar = tqdm(range(batches), desc=f"epoch {epoch}/{recipe.num_epochs}",
                   disable=not progress, leave=False, mininterval=0.5)
        for i in bar:
            step(perm[i * B:(i + 1) * B])
            if on_estimate and epoch == 1 and i in pace.marks:
                loss_sum.item()  # wait for the device: time what ran
                if (total := pace.mark(i, time.perf_counter())) is not None:
                    on_estimate(total * recipe.num_epochs)
            if i % 50 == 49 or i == batches - 1:  # one sync every 50 steps
                seen, total = min((i + 1) * B, N), loss_sum.item()
                mean = total / seen
                trace.append((total - traced[0]) / (seen - traced[1]))
                traced = total, seen
                if not math.isfinite(mean):
                    raise Diverged(
                        f"loss became {mean} in epoch {epoch}, batch {i + 1}:"
                        f" training stopped. Lower the lr (now {recipe.lr})"
                        " or check the model for a missing normalisation.")
                bar.set_postfix(loss=f"{mean:.4f}",
                                acc=f"{100 * correct.item() / seen:.2f}%")
                now = time.perf_counter()
                if on_beat and now - beat >= beat_s and i < batches - 1:
                    beat = now
                    on_beat(epoch, i + 1, batches, now - t0)
        step.end_epoch()
        seen = N
        test_loss, test_acc = evaluate(model, X_test, y_test)
        row = {
            "epoch": epoch,
            "train_loss": loss_sum.item() / seen,
            "train_acc": 100.0 * correct.item() / seen,
            "test_loss": test_loss,
            "test_acc": test_acc,
            "lr": step.lr,
            "seconds": time.perf_counter() - t0,
            # the training loss of each 50 batches (the last may be fewer)
            "train_loss_trace": [round(v, 5) for v in trace],
        }
        history.append(row)
        if on_epoch:
            on_epoch(row)
    return history
