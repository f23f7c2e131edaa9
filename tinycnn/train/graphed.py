"""A whole training step recorded once as a CUDA graph and replayed.

On a GPU the eager step is launch-bound: i3 took 4.5 ms a step on an
H200 for a network whose arithmetic takes a fraction of that, hundreds
of small kernels each waiting on Python (issue 30). Replayed as one
graph, a step (augmentation, forward, backward, optimizer update, lr
schedule) is one launch. A graph replays fixed work on fixed memory with
no round trip to Python, which decides how this step is written:

- fixed addresses and shapes: each batch's indices are copied into one
  static tensor before a replay; the epoch's last, smaller batch runs the
  same function eagerly;
- no host syncs inside: torch.optim.SGD reads a tensor lr with .item(),
  and a float lr would be frozen into the graph, so the update is written
  here in foreach ops, its lr and momentum (OneCycleLR cycles both) read
  from a per-step table on the device by a step counter on the device.
  The table is recorded from PyTorch's own optimizer and scheduler on a
  dummy parameter, and the update checked against torch.optim
  (tests/test_graphed.py): the recipe means the same on either path;
- dropout and augmentation draw from CUDA's generator, which graphs
  support (a replay advances its offset), so a seed still fixes a run.

`engine.fit` takes this path on CUDA where `wanted` says so
(TINYCNN_GRAPH=1, until GPU runs make it the default). Capture runs
warm-up steps for real, so the weights, buffers and optimizer state are
saved before it and put back after, and the seed is drawn again:
training starts from the same point whatever happened. If capture fails
(an op that syncs with the host or changes shape with the data),
`choose` gives the eager step instead and says why.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import torch
from torch import nn

from tinycnn.train.recipe import Recipe, schedule_rows
from tinycnn.train.step import Batches, EagerStep, loss_of

WARM_UP = 3   # eager steps on a side stream before capture, as torch's docs do
EPS = 1e-8    # torch.optim.Adam's defaults, which make_optimizer keeps
BETA2 = 0.999


class Step(Batches):
    """One training step over fixed tensors: what a graph records."""

    def __init__(self, model: nn.Module, recipe: Recipe, batches: int,
                 X_train: torch.Tensor, y_train: torch.Tensor,
                 precision: str) -> None:
        super().__init__(model, recipe, X_train, y_train, precision)
        device = X_train.device
        self.params = [p for p in model.parameters() if p.requires_grad]
        rows = schedule_rows(recipe, batches)  # lr, momentum (adam: beta1)
        self.lrs = [lr for lr, _ in rows]  # as torch's scheduler reports them
        self.table = torch.tensor(rows, device=device)
        self.k = torch.zeros(1, dtype=torch.long, device=device)  # steps done
        zeros = [torch.zeros_like(p) for p in self.params]
        # sgd: momentum buffers (zero: a first step's buffer is its
        # gradient, as in torch); adam: exp_avg and exp_avg_sq
        self.state = ([zeros] if recipe.optimizer == "sgd" else
                      [zeros, [torch.zeros_like(p) for p in self.params]])
        self.adam_t = torch.zeros((), device=device)

    def tensors(self) -> list[torch.Tensor]:
        """Everything a step changes, to save and restore around capture."""
        return [*self.model.state_dict(keep_vars=True).values(),
                *(t for group in self.state for t in group),
                self.k, self.adam_t, self.loss_sum, self.correct]

    def __call__(self, idx: torch.Tensor) -> None:
        r = self.recipe
        X, y = self.batch(idx)
        loss, logits = loss_of(self.model, X, y, self.precision,
                               r.label_smoothing)
        grads = torch.autograd.grad(loss, self.params, allow_unused=True)
        used = [i for i, g in enumerate(grads) if g is not None]
        # index_select, not table[k]: a 0-dim index is read with .item()
        lr, mom = self.table.index_select(0, self.k).squeeze(0).unbind()
        update = sgd if r.optimizer == "sgd" else adam
        update(self, [self.params[i] for i in used],
               [grads[i] for i in used],
               [[group[i] for i in used] for group in self.state], lr, mom)
        self.k += 1
        self.tally(loss, logits, y)


@torch.no_grad()
def sgd(step: Step, params, grads, state, lr, mom) -> None:
    """torch.optim.SGD's update (dampening 0), lr and momentum tensors."""
    (bufs,) = state
    r = step.recipe
    if r.weight_decay:
        grads = torch._foreach_add(grads, params, alpha=r.weight_decay)
    torch._foreach_mul_(bufs, mom)
    torch._foreach_add_(bufs, grads)
    d = (torch._foreach_add(grads, torch._foreach_mul(bufs, mom))
         if r.nesterov else bufs)
    torch._foreach_sub_(params, torch._foreach_mul(d, lr))


@torch.no_grad()
def adam(step: Step, params, grads, state, lr, beta1) -> None:
    """torch.optim.Adam's update (L2 weight decay), lr and beta1 tensors."""
    exp_avg, exp_avg_sq = state
    r = step.recipe
    step.adam_t += 1
    if r.weight_decay:
        grads = torch._foreach_add(grads, params, alpha=r.weight_decay)
    # torch's exp_avg.lerp_(grad, 1 - beta1): _foreach_lerp_ takes no
    # tensor weight (it would read beta1 with .item())
    torch._foreach_mul_(exp_avg, beta1)
    torch._foreach_add_(exp_avg, torch._foreach_mul(grads, 1 - beta1))
    torch._foreach_mul_(exp_avg_sq, BETA2)
    torch._foreach_addcmul_(exp_avg_sq, grads, grads, value=1 - BETA2)
    correction1 = 1 - beta1 ** step.adam_t
    correction2 = (1 - BETA2 ** step.adam_t).sqrt()
    denom = torch._foreach_div(torch._foreach_sqrt(exp_avg_sq), correction2)
    torch._foreach_add_(denom, EPS)
    torch._foreach_sub_(params, torch._foreach_mul(
        torch._foreach_div(exp_avg, denom), lr / correction1))


def cuda_capture(fn: Callable[[], None]) -> Callable[[], None]:
    """Record `fn` as a CUDA graph after WARM_UP eager calls on a side
    stream (cuDNN picks its algorithms, autograd its streams); return the
    graph's replay."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(WARM_UP):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return graph.replay


class Graphed:
    """A Step whose full batches replay one recorded graph.

    Built by `graphed(...)`, which captures and gives back the state the
    model had; `self(idx)` replays for a full batch and calls the step
    eagerly for a smaller one (the epoch's last).
    """

    path = "cuda graph"

    def __init__(self, step: Step, replay: Callable[[], None],
                 static: torch.Tensor) -> None:
        self.step, self.replay, self.static = step, replay, static
        self.loss_sum, self.correct = step.loss_sum, step.correct

    def __call__(self, idx: torch.Tensor) -> None:
        if len(idx) == len(self.static):
            self.static.copy_(idx)
            self.replay()
        else:
            self.step(idx)

    def end_epoch(self) -> None:
        pass  # the table already holds every step's lr

    @property
    def lr(self) -> float:
        """The lr the next step will use (a sync: read once an epoch)."""
        return self.step.lrs[int(self.step.k)]


def graphed(step: Step, batch_size: int,
            capture: Callable[[Callable[[], None]], Callable[[], None]]
            | None = None) -> Graphed:
    """Capture `step` for batches of `batch_size` (by `capture`, default
    cuda_capture), then put back the state it had before (capture's
    warm-up trains); raises what capture raised, after putting it back."""
    saved = [t.detach().clone() for t in step.tensors()]
    static = torch.zeros(batch_size, dtype=torch.long,
                         device=step.X_train.device)
    try:
        replay = (capture or cuda_capture)(lambda: step(static))
    finally:
        with torch.no_grad():
            for t, s in zip(step.tensors(), saved, strict=True):
                t.copy_(s)
    return Graphed(step, replay, static)


# Off until the graph path's GPU runs are in (ten seeds per reference
# against its bar, benchmarks/graph-gpu.sh): every figure the course gives
# for a GPU was made by the eager step.
GRAPH_BY_DEFAULT = False


def wanted(device: torch.device) -> bool:
    """Whether fit replays a CUDA graph: only on CUDA; TINYCNN_GRAPH=1 or
    0 says yes or no, else GRAPH_BY_DEFAULT."""
    switch = os.environ.get("TINYCNN_GRAPH", "").strip()
    if switch not in ("", "0", "1"):
        raise ValueError(f"TINYCNN_GRAPH={switch!r}: use 1 (a CUDA graph) "
                         "or 0 (eager)")
    return device.type == "cuda" and (switch == "1" if switch
                                      else GRAPH_BY_DEFAULT)


def choose(model: nn.Module, r: Recipe, batches: int, X_train: torch.Tensor,
            y_train: torch.Tensor, precision: str, graph: bool):
    """The step fit calls each batch: a replayed CUDA graph when `graph`,
    else (or where capture fails: `path` says why) the eager step."""
    parts = model, r, batches, X_train, y_train, precision
    if not graph:
        return EagerStep(*parts)
    try:
        return graphed(Step(*parts),
                               min(r.batch_size, len(X_train)))
    except Exception as e:  # whatever stops a capture: train eagerly
        why = (str(e).strip().splitlines() or [type(e).__name__])[0]
        step = EagerStep(*parts)
        step.path = f"eager (no cuda graph: {why[:200]})"
        return step
