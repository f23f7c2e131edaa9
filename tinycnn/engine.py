"""The training loop: a model, a recipe, the data in memory -> metrics.

Everything lives on the training device from the start: the 60 000 images
are one uint8 tensor, each batch is indexed, scaled, augmented and
normalised there in a handful of tensor ops. No DataLoader, no PIL, no
per-image Python. Each batch is one call of a step: `EagerStep`
(torch.optim and its scheduler), or on CUDA the same step recorded once
as a CUDA graph and replayed (graphed.py), which a GPU needs to be busy.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tinycnn.data import MEAN, STD
from tinycnn.device import memory_format
from tinycnn.precision import autocast, choose

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


def prepare(X: torch.Tensor, recipe: Recipe | None = None) -> torch.Tensor:
    """uint8 (B, 1, 28, 28) -> [augmented,] normalised float, laid out as
    training wants it on its device (device.memory_format)."""
    X = X.float() / 255
    if recipe is not None:
        X = augment(X, recipe)
    X = (X - MEAN) / STD
    return X.contiguous(memory_format=memory_format(X.device))


def augment(X: torch.Tensor, r: Recipe) -> torch.Tensor:
    """Random rotation and shift of a whole float batch in [0, 1]."""
    if not (r.rotation or r.translate):
        return X
    B = X.shape[0]
    angle = (torch.rand(B, device=X.device) * 2 - 1) * math.radians(r.rotation)
    shift = (torch.rand(B, 2, device=X.device) * 2 - 1) * (2 * r.translate)
    cos, sin = angle.cos(), angle.sin()
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(X.shape), align_corners=False)
    # zeros padding fills with black, as PIL's rotate does
    return F.grid_sample(X, grid, align_corners=False)


def loss_of(model: nn.Module, X: torch.Tensor, y: torch.Tensor,
            precision: str, label_smoothing: float) -> tuple:
    """(training loss, logits) of a prepared batch: the forward in
    `precision`, the loss in fp32."""
    with autocast(precision, X.device):
        logits = model(X)                   # (B, 10)
    return F.cross_entropy(logits.float(), y,
                           label_smoothing=label_smoothing), logits


def train_batch(model: nn.Module, opt: torch.optim.Optimizer,
                X: torch.Tensor, y: torch.Tensor, precision: str = "fp32",
                label_smoothing: float = 0.0):
    """One optimizer step on a prepared batch; returns (loss, logits).
    `precision` "bf16" runs the forward in bf16 autocast (see precision)."""
    loss, logits = loss_of(model, X, y, precision, label_smoothing)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss, logits


@torch.no_grad()
def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor,
             batch_size: int = 1000) -> tuple[float, float]:
    """(mean loss, accuracy %) in eval mode and full fp32 precision."""
    model.eval()
    loss, correct = 0.0, 0
    for i in range(0, len(X), batch_size):
        logits = model(prepare(X[i:i + batch_size]))
        yb = y[i:i + batch_size]
        loss += F.cross_entropy(logits, yb, reduction="sum").item()
        correct += (logits.argmax(1) == yb).sum().item()
    return loss / len(X), 100.0 * correct / len(X)


class Batches:
    """What every training step shares: the data on its device, how a
    batch is cut from it, and the epoch's sums (on the device: no sync a
    batch). A step's `self(idx)` trains on the images `idx`."""

    path = "eager"

    def __init__(self, model: nn.Module, r: Recipe, X_train: torch.Tensor,
                 y_train: torch.Tensor, precision: str) -> None:
        self.model, self.recipe, self.precision = model, r, precision
        self.X_train, self.y_train = X_train, y_train
        self.loss_sum = torch.zeros((), device=X_train.device)
        self.correct = torch.zeros((), device=X_train.device,
                                   dtype=torch.long)

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(prepared images, labels) of `idx`; index_select, which a
        graph can hold, gives what X_train[idx] does."""
        return (prepare(self.X_train.index_select(0, idx), self.recipe),
                self.y_train.index_select(0, idx))

    def tally(self, loss: torch.Tensor, logits: torch.Tensor,
              y: torch.Tensor) -> None:
        self.loss_sum += loss.detach() * len(y)
        self.correct += (logits.argmax(1) == y).sum()


class EagerStep(Batches):
    """A training step as PyTorch's optimizer and scheduler run it, one
    call a batch: the path on a CPU or MPS, and on CUDA where a graph
    cannot be captured (graphed.py)."""

    def __init__(self, model: nn.Module, r: Recipe, batches: int,
                 X_train: torch.Tensor, y_train: torch.Tensor,
                 precision: str) -> None:
        super().__init__(model, r, X_train, y_train, precision)
        self.opt = make_optimizer(model, r)
        self.sched, self.per_batch = make_schedule(self.opt, r, batches)

    def __call__(self, idx: torch.Tensor) -> None:
        X, y = self.batch(idx)
        loss, logits = train_batch(self.model, self.opt, X, y, self.precision,
                                   self.recipe.label_smoothing)
        if self.per_batch:
            self.sched.step()
        self.tally(loss, logits, y)

    def end_epoch(self) -> None:
        if not self.per_batch:
            self.sched.step()

    @property
    def lr(self) -> float:
        """The lr the next step will use."""
        return self.opt.param_groups[0]["lr"]


# Off until the graph path's GPU runs are in (ten seeds per reference
# against its bar, benchmarks/graph-gpu.sh): every figure the course gives
# for a GPU was made by the eager step.
GRAPH_BY_DEFAULT = False


def wants_graph(device: torch.device) -> bool:
    """Whether fit replays a CUDA graph: only on CUDA; TINYCNN_GRAPH=1 or
    0 says yes or no, else GRAPH_BY_DEFAULT."""
    switch = os.environ.get("TINYCNN_GRAPH", "").strip()
    if switch not in ("", "0", "1"):
        raise ValueError(f"TINYCNN_GRAPH={switch!r}: use 1 (a CUDA graph) "
                         "or 0 (eager)")
    return device.type == "cuda" and (switch == "1" if switch
                                      else GRAPH_BY_DEFAULT)


def trainer(model: nn.Module, r: Recipe, batches: int, X_train: torch.Tensor,
            y_train: torch.Tensor, precision: str, graph: bool):
    """The step fit calls each batch: a replayed CUDA graph when `graph`,
    else (or where capture fails: `path` says why) the eager step."""
    parts = model, r, batches, X_train, y_train, precision
    if not graph:
        return EagerStep(*parts)
    from tinycnn import graphed

    try:
        return graphed.graphed(graphed.Step(*parts),
                               min(r.batch_size, len(X_train)))
    except Exception as e:  # whatever stops a capture: train eagerly
        why = (str(e).strip().splitlines() or [type(e).__name__])[0]
        step = EagerStep(*parts)
        step.path = f"eager (no cuda graph: {why[:200]})"
        return step


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
    for `device` (tinycnn.precision.choose).

    `on_estimate(seconds)` is called once, early in the first epoch, with
    the whole run's expected duration (see `Pace`).
    `on_beat(epoch, batches done, batches, seconds into the epoch)` is
    called at most every `beat_s` seconds inside an epoch (at the loop's
    own syncs, so it costs nothing): a heartbeat where no bar is shown.

    `graph`: replay each step as one CUDA graph (graphed.py); None:
    `wants_graph(device)`. `on_path(path)` is told which step ran:
    "eager", "cuda graph", or "eager (no cuda graph: why)".
    """
    from tqdm.auto import tqdm  # only the loop needs it

    precision = precision or choose(device)[0]
    X_train, y_train, X_test, y_test = (t.to(device) for t in data)
    model.to(device, memory_format=memory_format(device))
    N, B = len(X_train), recipe.batch_size
    batches = math.ceil(N / B)  # per epoch
    if graph is None:
        graph = wants_graph(device)
    step = trainer(model, recipe, batches, X_train, y_train, precision, graph)
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
