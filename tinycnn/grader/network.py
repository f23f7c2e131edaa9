"""The learner's network as the grader sees it: two exported graphs.

`probe.py` exports `Net()` in train and eval mode; this module reads the
graphs (aten ops, no learner Python), says what they compute, and wraps
them into one trainable module. Nothing here imports learner code.

"Used" always means dependence: the logits change when that op's output
changes (a non-zero gradient of a random projection of the logits with
respect to the op's output, on a random batch).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import fx, nn

from tinycnn.sandbox.graphfile import attr

aten = torch.ops.aten

BATCH_NORM = {aten.batch_norm.default, aten.native_batch_norm.default,
              aten._native_batch_norm_legit.default,
              aten._native_batch_norm_legit_no_training.default,
              aten._native_batch_norm_legit_functional.default}
DROPOUT = {aten.dropout.default, aten.feature_dropout.default,
           aten.alpha_dropout.default, aten.feature_alpha_dropout.default,
           aten.native_dropout.default, aten.dropout_.default,
           aten.feature_dropout_.default}
BERNOULLI = {aten.bernoulli.default, aten.bernoulli.p, aten.bernoulli_.float,
             aten.bernoulli_.Tensor}
RANDOM = {aten.randn.default, aten.randn_like.default, aten.rand.default,
          aten.rand_like.default, aten.normal.Tensor_float,
          aten.normal.float_Tensor, aten.normal_.default,
          aten.randint.default, aten.randint_like.default,
          aten.randperm.default, aten.uniform_.default,
          aten.multinomial.default} | BERNOULLI
GAUSSIAN = {aten.randn.default, aten.randn_like.default,
            aten.normal.Tensor_float, aten.normal.float_Tensor,
            aten.normal_.default}
CONV = {aten.conv2d.default, aten.convolution.default,
        aten.conv2d.padding, aten.conv1d.default}
MAX_POOL = {aten.max_pool2d.default, aten.max_pool2d_with_indices.default}
AVG_POOL = {aten.avg_pool2d.default}
ADAPTIVE = {aten.adaptive_avg_pool2d.default, aten.adaptive_max_pool2d.default,
            aten._adaptive_avg_pool2d.default, aten.adaptive_avg_pool1d.default}
AVERAGE = {aten.mean.dim, aten.mean.default, aten.sum.dim_IntList,
           aten.avg_pool2d.default, aten.adaptive_avg_pool2d.default,
           aten._adaptive_avg_pool2d.default, aten.adaptive_avg_pool1d.default,
           aten.avg_pool1d.default}
MAXIMUM = {aten.amax.default, aten.max.dim, aten.max.default,
           aten.adaptive_max_pool2d.default, aten.logsumexp.default} | MAX_POOL
LINEAR = {aten.linear.default, aten.addmm.default, aten.matmul.default,
          aten.mm.default, aten.bmm.default}
# ops a transition may have between itself and its pool
PASS_THROUGH = BATCH_NORM | DROPOUT | {
    aten.relu.default, aten.relu_.default, aten.leaky_relu.default,
    aten.leaky_relu_.default, aten.gelu.default, aten.silu.default,
    aten.silu_.default, aten.elu.default, aten.hardtanh.default,
    aten.hardtanh_.default, aten.sigmoid.default, aten.tanh.default,
    aten.relu6.default, aten.mish.default, aten.prelu.default,
    aten.clone.default, aten.contiguous.default, aten.alias.default,
    aten.detach.default}


def val(n: fx.Node):  # what `n` computes: shape and dtype, on "meta"
    v = n.meta.get("val")
    if isinstance(v, (tuple, list)):
        v = v[0] if v and torch.is_tensor(v[0]) else None
    return v if torch.is_tensor(v) else None


def shape(n: fx.Node) -> tuple[int, ...] | None:
    """Output shape of `n` without the batch dimension; None where a size
    beyond the batch follows the batch size."""
    v = val(n)
    if v is None or v.dim() == 0 or any(d > 0 for d in
                                        n.meta.get("dynamic", ())):
        return None
    return tuple(int(s) for s in v.shape[1:])


def spatial(n: fx.Node) -> int:
    """H x W of a (B, C, H, W) output, else 0."""
    s = shape(n)
    return s[1] * s[2] if s is not None and len(s) == 3 else 0


def where(n: fx.Node) -> str:
    """'conv1.0' or 'forward': the module an op ran in, for messages."""
    stack = n.meta.get("nn_module_stack") or {}
    path = list(stack.values())[-1][0] if stack else ""
    return path or "forward"


def label(n: fx.Node) -> str:
    name = str(n.target).replace("aten.", "").split(".")[0]
    return f"{name} in {where(n)}"


def is_pool(n: fx.Node) -> bool:
    return n.op == "call_function" and (n.target in MAX_POOL
                                        or n.target in AVG_POOL)


def is_global_average(n: fx.Node) -> bool:
    """An average (or sum) over every position of a map and nothing else:
    one number per channel (positions.global_average)."""
    from tinycnn.grader.positions import global_average

    return global_average(n)


@dataclass
class Graph:
    """One exported mode ("train" or "eval") of the learner's network."""
    mode: str
    gm: fx.GraphModule
    # the numbers written into forward (carried.numbers), read before
    # values computed from numbers alone became buffers
    numbers: list = field(default_factory=list)
    nodes: list[fx.Node] = field(init=False)

    def __post_init__(self) -> None:
        self.nodes = [n for n in self.gm.graph.nodes if n.op == "call_function"]

    def ops(self, targets: set) -> list[fx.Node]:
        return [n for n in self.nodes if n.target in targets]

    def run(self, X: torch.Tensor, taps=(), detach=(), perturb=None,
            seed: int = 0):
        """Forward, leaving the network as it was (its buffers are read
        as copies: BatchNorm's statistics and counters stay put; a copy of
        the whole module would recurse as deep as the graph is long);
        returns (logits, {tapped node: its delta})."""
        return _Tap(self.gm, set(taps), set(detach),
                    perturb or {}).go(X, seed)

    @property
    def input(self) -> str:
        """The name of the image's node, to tap or perturb it."""
        return self.gm.graph.find_nodes(op="placeholder")[0].name

    def used(self, names, X: torch.Tensor, seed: int = 0) -> dict[str, bool]:
        """Which of these nodes the logits depend on (non-zero gradient);
        NoGradient if the logits carry none at all (detached)."""
        logits, deltas = self.run(X, taps=names, seed=seed)
        if not (torch.is_tensor(logits) and logits.requires_grad):
            raise NoGradient("the output carries no gradient")
        R = torch.randn(logits.shape, generator=torch.Generator().manual_seed(1))
        grads = torch.autograd.grad((logits * R).sum(), list(deltas.values()),
                                    allow_unused=True)
        return {n: g is not None and bool(g.abs().sum() > 0)
                for n, g in zip(deltas, grads, strict=True)}


class NoGradient(ValueError):
    """The logits do not depend on anything by autograd's account: forward
    detached them, or made them with an op that has no gradient."""


class _Tap(fx.Interpreter):
    def __init__(self, gm, taps, detach, perturb) -> None:
        super().__init__(gm)
        self.taps, self.detach, self.perturb = taps, detach, perturb
        self.deltas: dict[str, torch.Tensor] = {}
        self.copies: dict[str, torch.Tensor] = {}

    def fetch_attr(self, target: str):
        t = super().fetch_attr(target)
        if not torch.is_tensor(t) or isinstance(t, nn.Parameter):
            return t
        if target not in self.copies:  # what forward may change in place
            self.copies[target] = t.detach().clone()
        return self.copies[target]

    def run_node(self, n: fx.Node):
        out = super().run_node(n)
        if not (torch.is_tensor(out) and out.is_floating_point()):
            return out
        if n.name in self.perturb:
            out = self.perturb[n.name](out)
        if n.name in self.detach:
            out = out.detach()
        if n.name in self.taps:
            d = torch.zeros_like(out, requires_grad=True)
            self.deltas[n.name] = d
            out = out + d
        return out

    def go(self, X: torch.Tensor, seed: int):
        torch.manual_seed(seed)
        return self.run(X), self.deltas


# what a run record's "init" says when training started from the grader's
# own draw (records without it started from Net()'s: never reused)
INIT = "grader"


def load(folder: Path, seed: int) -> dict[str, Graph]:
    """The traced graphs a probe left in `folder`, by mode, read as
    untrusted data (graphfile.GraphFileError if they are not sound), with
    the grader's own initial weights drawn under `seed` (initial.py;
    InitError if one cannot be drawn)."""
    from tinycnn.sandbox import graphread

    modules, tensors = graphread.read(Path(folder))
    return prepare(modules, tensors, seed)


def prepare(modules: dict[str, fx.GraphModule], tensors: list,
            seed: int | None, image=(1, 28, 28)) -> dict[str, Graph]:
    """What every grade does to the traced modules before judging them:
    the shapes each op computes, found by running it (sizes.annotate:
    never the probe's claims); the numbers written into forward counted,
    values computed from numbers alone made buffers (carried.py); then
    every tensor drawn under `seed` (initial.reset; None: kept as they
    are). `tensors`: (name, tensor) in the order Net() made them; `image`
    the shape of one input. The summary tool calls it too, so it counts
    what the grader counts."""
    from tinycnn.grader import carried, initial, positions, sizes

    gms = list(modules.values())
    for gm in gms:
        sizes.annotate(gm, image)
    numbers = {mode: carried.numbers(gm) for mode, gm in modules.items()}
    params = {name for gm in gms
              for name, _ in gm.named_parameters(remove_duplicate=False)}
    drawn = {name for name, (role, _) in initial.roles(gms).items()
             if role != "other"}
    folded = carried.fold(modules, params, carried.mutated(gms), drawn)
    for gm in gms:
        positions.annotate(gm)
    if seed is not None:
        initial.reset(gms, [*tensors, *folded], seed)
    return {mode: Graph(mode, gm, numbers[mode])
            for mode, gm in modules.items()}


def graph_hash(graphs: dict[str, Graph]) -> str:
    """sha256 of the traced network's code in both modes."""
    h = hashlib.sha256()
    for mode, g in graphs.items():
        h.update(mode.encode() + g.gm.code.encode())
    return h.hexdigest()


def weights(graphs: dict[str, Graph]) -> dict[str, int]:
    """Every tensor the network keeps that counts as a weight, by name.

    Parameters all count (as sum(p.numel() for p in parameters()) would);
    buffers and constants count when some op reads them, except
    BatchNorm's running statistics and a step counter (`add_` only).
    """
    counted: dict[str, int] = {}
    seen: set[int] = set()  # a tensor two layers share counts once

    def count(name: str, t) -> None:
        if name not in counted and id(t) not in seen:
            seen.add(id(t))
            counted[name] = t.numel()

    for g in graphs.values():
        params = dict(g.gm.named_parameters(remove_duplicate=False))
        for name, p in params.items():
            count(name, p)
        for n in g.gm.graph.find_nodes(op="get_attr"):
            t = attr(g.gm, n.target)
            if n.target not in params and torch.is_tensor(t) and \
                    not _is_statistic(n):
                count(n.target, t)
    return counted


def weight_count(graphs: dict[str, Graph]) -> int:
    """How many weights the network keeps: what a record's "params" says
    and the parameter rule counts."""
    return sum(weights(graphs).values())


def _is_statistic(n: fx.Node) -> bool:
    """Used only as BatchNorm running stats or as a counter: not a weight."""
    if not n.users:
        return True  # read by no op: computes nothing
    for u in n.users:
        if u.target in BATCH_NORM and n in u.args[3:5]:
            continue
        if u.target == aten.add_.Tensor and u.args and u.args[0] is n:
            continue
        return False
    return True


class GradedNet(nn.Module):
    """The exported network as one module: train graph in train mode,
    eval graph (same weights) in eval mode. This is what the grader trains
    and evaluates; the learner's Python never runs in it."""

    def __init__(self, graphs: dict[str, Graph]) -> None:
        super().__init__()
        self.net = graphs["train"].gm
        self._eval = [graphs["eval"].gm]  # a list: not a second state_dict

    def train(self, mode: bool = True) -> GradedNet:
        # exported modules refuse train()/eval(): the mode picks the graph
        self.training = mode
        return self

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        if self.training:
            return self.net(X)
        ev = self._eval[0]
        if next(iter(ev.buffers()), X).device != X.device:
            self._eval[0] = ev = ev.to(X.device)
        state = {**dict(self.net.named_parameters()),
                 **dict(self.net.named_buffers())}
        return torch.func.functional_call(ev, state, (X,), strict=False)
