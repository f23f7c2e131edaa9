"""What every op of the traced network computes, by shape, at any batch
size, found without computing anything.

The graph files say what shape each op gives, but the probe's process
wrote them, and it runs learner code. So the grader never takes those
claims: `annotate` runs each graph on PyTorch's "meta" device (shapes and
dtypes only: no data, no memory) at two batch sizes and writes what it
found into the nodes, which is what every check reads; an op over the
per-op cap is refused before anything runs for real. The same run at the
recipe's batch or the evaluation batch says how much memory a training
step or an evaluation needs (`training_bytes`, `eval_bytes`): the grader
compares that with its memory budget before it runs a network there.
"""

from __future__ import annotations

import math

import torch
from torch import fx

from tinycnn.sandbox.graphfile import MAX_VALUES

TRACED = 4      # the probe's batch: what node shapes are given for
OTHER = 6       # a second batch: the sizes that change with it follow B
META = torch.device("meta")


class SizeError(ValueError):
    """What an op computes cannot be worked out, or is over a cap."""


class _Meta(fx.Interpreter):
    """The graph on the meta device: every tensor it keeps, every input
    and every device an op names becomes "meta"."""

    def __init__(self, gm: fx.GraphModule) -> None:
        super().__init__(gm)
        self.cache: dict[str, torch.Tensor] = {}
        self.found: dict[fx.Node, object] = {}

    def run_node(self, n: fx.Node):
        self.found[n] = out = super().run_node(n)
        return out

    def fetch_attr(self, target: str):
        if target not in self.cache:
            t = super().fetch_attr(target)
            self.cache[target] = (torch.empty_like(t, device=META)
                                  if torch.is_tensor(t) else t)
        return self.cache[target]

    def call_function(self, target, args, kwargs):
        args, kwargs = fx.node.map_aggregate((args, kwargs), _to_meta)
        return super().call_function(target, args, kwargs)

    def call_module(self, target, args, kwargs):
        return None  # export's shape guards: the grader checks shapes here


def _to_meta(v):
    return META if isinstance(v, torch.device) else v


IMAGE = (1, 28, 28)  # what the grader feeds: MNIST


def run(gm: fx.GraphModule, batch: int, image=IMAGE
        ) -> dict[fx.Node, object]:
    """{node: what it computes, on the meta device} for a batch of
    `batch` channels_last images of shape `image`. SizeError if an op
    cannot say."""
    X = torch.empty(batch, *image, device=META).contiguous(
        memory_format=torch.channels_last)
    interp = _Meta(gm)
    out = interp.found
    try:
        with torch.no_grad():
            interp.run(X)
    except Exception as e:  # any op: the learner's graph, not ours
        where = next(reversed(out), None)
        after = f" (after {where.name})" if where is not None else ""
        raise SizeError(f"the grader could not work out the shapes your "
                        f"network computes for a batch of {batch}{after}: "
                        f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
                        ) from None
    return out


def _tensors(v) -> list[torch.Tensor]:
    if torch.is_tensor(v):
        return [v]
    if isinstance(v, (tuple, list)):
        return [t for x in v for t in _tensors(x)]
    return []


def annotate(gm: fx.GraphModule, image=IMAGE) -> None:
    """Set each node's meta "val" (what it computes at the traced batch,
    on the meta device) and "dynamic" (the dims that follow the batch)
    from running the graph, not from the files; SizeError if an op
    computes more than MAX_VALUES values for the traced batch."""
    a, b = run(gm, TRACED, image), run(gm, OTHER, image)
    for n, v in a.items():
        if n.op == "output":
            continue
        for t in _tensors(v):
            if t.numel() > MAX_VALUES:
                raise SizeError(
                    f"an op ({n.name}) computes {t.numel():,} values for a "
                    f"batch of {TRACED} images; the grader runs networks "
                    f"up to {MAX_VALUES:,}")
        if torch.is_tensor(v) or (isinstance(v, tuple) and v and
                                  all(torch.is_tensor(t) for t in v)):
            n.meta["val"] = v
            first, other = (v, b[n]) if torch.is_tensor(v) else (v[0],
                                                                  b[n][0])
            n.meta["dynamic"] = tuple(
                i for i, (s, t) in enumerate(zip(first.shape, other.shape,
                                                 strict=False)) if s != t)
        else:
            n.meta.pop("val", None)
            n.meta.pop("dynamic", None)


def _bytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def training_bytes(gm: fx.GraphModule, batch: int) -> int:
    """Memory a training step of `batch` images needs, roughly: autograd
    keeps what each op computes for the backward pass, which needs as much
    again; the weights, their gradients and the optimizer's state are
    small beside it (four copies)."""
    found = run(gm, batch)
    acts = sum(_bytes(t) for n, v in found.items() if n.op ==
               "call_function" for t in _tensors(v))
    weights = sum(_bytes(t) for t in gm.state_dict().values())
    return 2 * acts + 4 * weights


def eval_bytes(gm: fx.GraphModule, batch: int) -> int:
    """Memory an evaluation of `batch` images needs without autograd: the
    most that is alive at once, each result freed after its last use."""
    found = run(gm, batch)
    last: dict[fx.Node, int] = {}
    order = list(found)
    for i, n in enumerate(order):
        for a in n.all_input_nodes:
            last[a] = i
    live, peak = 0, 0
    size = {n: sum(_bytes(t) for t in _tensors(v)) if n.op ==
            "call_function" else 0 for n, v in found.items()}
    for i, n in enumerate(order):
        live += size[n]
        peak = max(peak, live)
        for a in n.all_input_nodes:
            if last.get(a) == i:
                live -= size[a]
    return peak + sum(_bytes(t) for t in gm.state_dict().values())


def human(n: float) -> str:
    """1.2 GB, 350 MB."""
    if n >= 1 << 30:
        return f"{n / (1 << 30):.1f} GB"
    return f"{max(1, math.ceil(n / (1 << 20)))} MB"
