"""Training a step folder as the grader does: its probed network, from
the grader's own starting weights, by the recipe it read once; the run
record; and `python steps/iN/train.py` (main, in the public API)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from tinycnn.course import duration, epochs
from tinycnn.grader import network
from tinycnn.grader.submission import fingerprint_of
from tinycnn.paths import run_dir
from tinycnn.sandbox import probe
from tinycnn.train import records
from tinycnn.train.data import DataError, load_mnist
from tinycnn.train.device import describe, pick_device
from tinycnn.train.engine import Pace, fit
from tinycnn.train.precision import choose
from tinycnn.train.recipe import Diverged, Recipe
from tinycnn.train.step import evaluate


class StepError(Exception):
    """The step cannot be trained; the message says why and what to do."""


def train_step(*args, **kw) -> dict:
    """train(), for the run record only."""
    return train(*args, **kw)[0]


class OverBudget(Exception):
    """Training would take, or took, longer than its time budget."""


def train(folder: Path, device: torch.device, seed: int | None = None,
          out: Path | None = None, progress: bool = True,
          result: probe.Result | None = None,
          graphs: dict[str, network.Graph] | None = None,
          recipe: Recipe | None = None, fingerprint: dict | None = None,
          on_epoch: Callable[[str], None] | None = None,
          pass_acc: float | None = None,
          on_row: Callable[[dict], None] | None = None,
          budget_s: float | None = None,
          on_estimate: Callable[[float], None] | None = None,
          holdout: int = 0,
          ) -> tuple[dict, network.GradedNet]:
    """Train the network of the step in `folder`, as the grader does.

    `on_epoch(line)` gets each line to show (default: print);
    `on_row(metrics)` each epoch's numbers, for a live plot. A grade hands
    over what it already holds, so nothing is made twice: the probe's
    `result`, the `graphs` it loaded from it under the recipe's seed
    (trained in place), the `recipe` and the run's `fingerprint`; with
    graphs and recipe, no probe runs. `budget_s`: OverBudget as soon as
    the estimate after the first batches, or the clock, passes it;
    `on_estimate(seconds)` gets that estimate of the whole run.
    `holdout`: keep the last this many training images out of training
    and report accuracy on them after every epoch (validation), the test
    images only once, at the end (split_holdout).

    The learner's code runs only in the probe's child process; what trains
    here is the network it exported (Net() built under the run's seed, as
    an eager run would), by the recipe it read once. Writes a signed run
    record; returns it and the trained network. StepError when there is
    nothing to train.
    """
    folder = Path(folder).resolve()
    if graphs is not None and seed is not None:
        raise ValueError("graphs are drawn under the recipe's seed: no seed")
    if graphs is None or recipe is None:
        result = result or probe.run(folder, seed=seed)
        recipe = recipe or probed_recipe(result)
    if seed is not None:
        recipe.seed = seed
    out = _writable(Path(out or run_dir(folder)))
    try:  # the grader's own initial weights, drawn under the run's seed
        graphs = graphs or network.load(result.out, recipe.seed)
    except ValueError as e:  # unreadable graphs, or a tensor it cannot set
        raise StepError(str(e)) from None
    fingerprint = fingerprint or fingerprint_of(folder, graphs, recipe)
    try:
        data = load_mnist()
    except DataError as e:  # the message says what to do; no traceback
        raise StepError(f"MNIST is not available: {e}") from None
    test = data[2:]
    if holdout:
        data = split_holdout(data, holdout)
    model = network.GradedNet(graphs)
    precision, why = choose(device)
    lines = Lines(folder.name, recipe, on_epoch or _print, on_row, budget_s,
                  on_estimate, "val" if holdout else "test")
    lines.say(f"{folder.name}: {fingerprint['params']:,} parameters, "
              f"{epochs(recipe.num_epochs)} on {describe(device)}, "
              f"{precision} ({why})")
    try:
        history = fit(model, recipe, data, device, on_epoch=lines.epoch,
                      progress=progress, on_estimate=lines.estimate,
                      precision=precision,
                      on_beat=None if progress else lines.beat,
                      on_path=lines.path)
    except NotImplementedError as e:
        if device.type != "mps":
            raise
        raise StepError(
            f"an op of this network has no kernel on Apple's GPU (MPS) in "
            f"torch {torch.__version__}: {str(e).splitlines()[0]} Train it "
            "on the CPU (--device cpu; TINYCNN_DEVICE=cpu for a grade), or "
            "let PyTorch run that op on the CPU: set "
            "PYTORCH_ENABLE_MPS_FALLBACK=1") from None
    if holdout:  # the epochs measured the held-out images: rename them
        history = [{("val" + k[4:] if k.startswith("test_") else k): v
                    for k, v in row.items()} for row in history]
        history[-1]["test_loss"], history[-1]["test_acc"] = evaluate(
            model, test[0].to(device), test[1].to(device))
    record = {
        "step": folder.name, "impl": folder.parent.name, **fingerprint,
        "init_seed": recipe.seed, "device": describe(device),
        "precision": precision, "path": lines.paths[0],
        "torch": torch.__version__, "wall_s": round(lines.spent(), 1),
        "finished": time.strftime("%Y-%m-%d %H:%M"),
        "final_test_acc": history[-1]["test_acc"], "epochs": history,
    }
    if pass_acc is not None:
        record["pass_acc"] = pass_acc
    if holdout:
        record["holdout"] = holdout
        record["final_val_acc"] = history[-1]["val_acc"]
    records.save(out, record, model)
    return record, model


def split_holdout(data, n: int):
    """(train, labels, held-out, labels): the last `n` training images
    held out, the same ones for every seed and recipe (the training file's
    order is fixed), so runs compared on them are paired. The test images
    are not among them."""
    X, y = data[0], data[1]
    if not 0 < n <= len(X) // 2:
        raise StepError(f"--holdout takes from 1 to {len(X) // 2:,} "
                        f"training images, not {n:,}")
    return X[:-n], y[:-n], X[-n:], y[-n:]


def probed_recipe(result: probe.Result) -> Recipe:
    """The probed recipe, or StepError saying why there is nothing to
    train (the probe's own account: probe.Result)."""
    problem = result.problem()
    if problem:
        raise StepError(problem)
    try:
        return result.recipe()
    except probe.RecipeError as e:
        raise StepError(str(e)) from None


def _writable(out: Path) -> Path:
    """`out`, checked now, not after the training: a record that cannot
    be saved is a StepError before the first batch."""
    try:
        records.check_writable(out)
        records.invalidate(out)  # an interrupted run leaves nothing to reuse
    except OSError as e:
        raise StepError(f"cannot write the run record to {out}: "
                        f"{e.strerror or e}; make it writable, or set "
                        "TINYCNN_RUNS to a folder that is") from None
    return out


class Lines:
    """What a run says while it trains (an epoch's line, a heartbeat, the
    estimate, which step ran) and its time budget: OverBudget as soon as
    the estimate, or the clock, passes `budget_s`."""

    def __init__(self, name: str, recipe: Recipe, say: Callable[[str], None],
                 on_row: Callable[[dict], None] | None,
                 budget_s: float | None,
                 on_estimate: Callable[[float], None] | None = None,
                 measured: str = "test") -> None:
        self.name, self.recipe, self.say = name, recipe, say
        self.on_row, self.budget_s = on_row, budget_s
        self.on_estimate = on_estimate
        self.measured = measured  # "test", or "val" on held-out images
        self.took: list[float] = []  # seconds per finished epoch
        self.paths: list[str] = []
        self.t0 = time.perf_counter()

    def spent(self) -> float:
        return time.perf_counter() - self.t0

    def in_time(self) -> None:
        spent = self.spent()
        if self.budget_s and spent > self.budget_s:
            raise OverBudget(
                f"training was stopped after {duration(spent)}: the time "
                f"budget for {self.name} is {duration(self.budget_s)} on "
                "this machine")

    def epoch(self, row: dict) -> None:
        self.took.append(row["seconds"])
        left = self.recipe.num_epochs - row["epoch"]
        steady = self.took[1:] or self.took  # the first epoch warmed up too
        ahead = (f", about {duration(sum(steady) / len(steady) * left)} "
                 "left" if left else "")
        self.say(f"epoch {row['epoch']:2d}  train loss "
                 f"{row['train_loss']:.4f}  acc {row['train_acc']:.2f}%  |  "
                 f"{self.measured} loss {row['test_loss']:.4f}  acc "
                 f"{row['test_acc']:.2f}%  |  {row['seconds']:.1f}s{ahead}")
        if self.on_row:
            self.on_row(row)
        if left:
            self.in_time()

    def beat(self, epoch: int, done: int, batches: int,
             seconds: float) -> None:
        """Where no progress bar shows (a grade): a line every half minute,
        the time left revised from this epoch's pace."""
        per_epoch = seconds / done * batches
        left = per_epoch - seconds + per_epoch * (self.recipe.num_epochs -
                                                  epoch)
        self.say(f"epoch {epoch:2d}  {done}/{batches} batches in "
                 f"{seconds:.0f}s, about {duration(left)} left")
        self.in_time()

    def estimate(self, seconds: float) -> None:
        r = self.recipe
        self.say(f"{self.name}: {epochs(r.num_epochs)}, about "
                 f"{duration(seconds)} on this machine (timed after a "
                 "warm-up)")
        if self.on_estimate:
            self.on_estimate(seconds)
        if self.budget_s and seconds > self.budget_s:
            raise OverBudget(
                f"training would take about {duration(seconds)} on this "
                f"machine (timed after {Pace.warm + Pace.timed} batches of "
                f"{r.batch_size}); the time budget for {self.name} is "
                f"{duration(self.budget_s)}, so it was stopped there")

    def path(self, which: str) -> None:
        """Which training step ran: said where there was a choice (CUDA)."""
        self.paths.append(which)
        if which != "eager":
            self.say(f"{self.name}: training step: {which}")


# What a training error means for the learner: (pattern, why, message)
TRAINING_ERRORS = [
    (r"Expected input batch_size \((\d+)\) to match target batch_size "
     r"\((\d+)\)", "output",
     "for a batch of {2} images your network gave {1} rows of scores: "
     "forward must return one row of 10 per image, for any batch size "
     "(flatten with X.flatten(1); never slice or view to a fixed size)"),
    (r"does not require grad|does not have a grad_fn", "output",
     "the logits carry no gradient, so training cannot learn from them: "
     "forward detached them (.detach(), .data, torch.no_grad()) or made "
     "them with an op that has no gradient (argmax, round, a comparison)"),
    (r"expected scalar type|not implemented for '(Long|Int|Bool)'|"
     r"must be a floating|Float but found", "output",
     "the output must be floating-point scores (logits), one per class: "
     "not class indices or another integer tensor"),
    (r"Target \d+ is out of bounds", "output",
     "the output has fewer than 10 scores per image: the last layer's "
     "out_features (or out_channels) must be 10"),
]


def explain(e: BaseException) -> tuple[str, str]:
    """(why, message) for an error that ended training: the learner's
    terms where the cause is clear, else its first line."""
    import re

    if isinstance(e, Diverged):
        return "diverged", str(e)
    if isinstance(e, StepError):
        return "step", str(e)
    text = f"{type(e).__name__}: {e}"
    for pattern, why, message in TRAINING_ERRORS:
        m = re.search(pattern, text)
        if m:
            return why, message.format(None, *m.groups())
    first = (str(e).strip().splitlines() or [""])[0][:300]
    return "error", f"training failed: {type(e).__name__}: {first}"


def _print(line: str) -> None:
    print(line, flush=True)


def main(train_file: str, argv: list[str] | None = None) -> None:
    """`python steps/iN/train.py`: train this step, write its run record."""
    p = argparse.ArgumentParser(description=f"train {Path(train_file).parent}")
    p.add_argument("--device", help="cuda, mps or cpu (default: best here)")
    p.add_argument("--seed", type=int, help="override the recipe's seed")
    p.add_argument("--no-progress", action="store_true",
                   help="one line per epoch, no progress bar")
    p.add_argument("--holdout", type=int, default=0, metavar="N",
                   help="for exploring: train on all but the last N "
                   "training images, report accuracy on those N after every "
                   "epoch and the test images only at the end; the record "
                   "goes to runs/.../holdout/ and is never a grade's")
    args = p.parse_args(argv)
    folder = Path(train_file).resolve().parent
    out = run_dir(folder) / "holdout" if args.holdout else run_dir(folder)
    try:
        device = pick_device(args.device)
        with records.locked(out, lambda: _print(
                f"{folder.name}: another run of this step is training; "
                "waiting for it to finish")):
            record = train_step(folder, device, args.seed, out=out,
                                progress=not args.no_progress,
                                holdout=args.holdout)
    except (ValueError, StepError, Diverged) as e:
        sys.exit(f"error: {e}")
    if args.holdout:
        print(f"final validation accuracy {record['final_val_acc']:.2f}% "
              f"on {args.holdout:,} held-out training images; test "
              f"accuracy, once, at the end: {record['final_test_acc']:.2f}%")
    else:
        print(f"final test accuracy {record['final_test_acc']:.2f}%")
    print(f"record in {os.path.relpath(out)}/")
