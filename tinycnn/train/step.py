"""One training step on the data in memory, as PyTorch's optimizer and
scheduler run it: a batch cut by index, scaled, augmented and normalised
on its device in a handful of tensor ops (no DataLoader, no PIL, no
per-image Python), its loss, the update; and the evaluation. The
CUDA-graph step (graphed.py) shares all of it but the update."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from tinycnn.train.data import MEAN, STD
from tinycnn.train.device import memory_format
from tinycnn.train.precision import autocast
from tinycnn.train.recipe import Recipe, make_optimizer, make_schedule


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
