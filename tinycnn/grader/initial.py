"""Where training starts: weights the grader draws itself.

Whatever Net() put in its tensors (a custom initialisation, or weights
trained elsewhere, even on the test images) never reaches training: every
tensor the traced network keeps is set here, under the run's seed, the way
PyTorch's own layers set it:

- the weight and bias of a conv or a Linear as nn.Conv2d and nn.Linear
  draw them (Kaiming uniform; the bias within +-1/sqrt(fan_in));
- BatchNorm, GroupNorm, LayerNorm and InstanceNorm at weight 1, bias 0,
  running mean 0, running variance 1, batch counter 0; PReLU at 0.25;
- any other floating-point tensor keeps its value when all its values are
  equal (a constant carries nothing learnt) and is otherwise drawn like a
  weight of its shape (Kaiming uniform; a vector within +-1/sqrt(length));
- an integer or boolean tensor whose values differ is refused: the grader
  cannot tell an index table from stored weights.

A network built from nn layers with their default initialisation gets
exactly the numbers Net() would draw under the same seed, since the draws
happen in the order the layers were made (their registration order).
"""

from __future__ import annotations

import math

import torch
from torch import fx, nn

aten = torch.ops.aten

CONV = {aten.conv2d.default, aten.conv2d.padding, aten.convolution.default,
        aten.conv1d.default, aten.conv1d.padding}
LINEAR = {aten.linear.default}
# op -> {argument position: role}
NORMS = {
    **{op: {1: "one", 2: "zero", 3: "zero", 4: "one"} for op in (
        aten.batch_norm.default, aten.native_batch_norm.default,
        aten._native_batch_norm_legit.default,
        aten._native_batch_norm_legit_no_training.default,
        aten._native_batch_norm_legit_functional.default,
        aten.instance_norm.default)},
    aten.group_norm.default: {2: "one", 3: "zero"},
    aten.native_group_norm.default: {1: "one", 2: "zero"},
    aten.layer_norm.default: {2: "one", 3: "zero"},
    aten.native_layer_norm.default: {2: "one", 3: "zero"},
    aten.prelu.default: {1: "prelu"},
    aten._prelu_kernel.default: {1: "prelu"},
}


class InitError(ValueError):
    """A tensor the grader cannot start from its own draw."""


def roles(gms: list[fx.GraphModule]) -> dict[str, tuple[str, int | None]]:
    """{tensor name: (role, fan_in)} from the ops that read each tensor."""
    found: dict[str, tuple[str, int | None]] = {}
    for gm in gms:
        for n in gm.graph.nodes:
            if n.op != "call_function":
                continue
            args = list(n.args)
            if n.target in CONV or n.target in LINEAR:
                w = args[1] if len(args) > 1 else None
                fan_in = _fan_in(w)
                _mark(found, w, "weight", fan_in)
                if len(args) > 2:
                    _mark(found, args[2], "bias", fan_in)
            elif n.target in NORMS:
                for i, role in NORMS[n.target].items():
                    if i < len(args):
                        _mark(found, args[i], role, None)
            elif n.target is aten.add_.Tensor and args:  # BN's counter
                _mark(found, args[0], "counter", None)
    return found


def _is_attr(a) -> bool:
    return isinstance(a, fx.Node) and a.op == "get_attr"


def _mark(found: dict, a, role: str, fan_in: int | None) -> None:
    if _is_attr(a):
        found.setdefault(a.target, (role, fan_in))


def _fan_in(w) -> int | None:
    v = w.meta.get("val") if isinstance(w, fx.Node) else None
    if not torch.is_tensor(v) or v.dim() < 2:
        return None
    return int(v.shape[1]) * math.prod(int(s) for s in v.shape[2:])


def reset(gms: list[fx.GraphModule], tensors: list[tuple[str, object]],
          seed: int) -> None:
    """Set every tensor of the network in place, drawn under `seed`:
    `tensors` in the order Net() made them ((name, tensor), a tensor shared
    by two names listed twice), `gms` the graphs (one per mode) that read
    them. InitError if one cannot be set."""
    gen = torch.Generator().manual_seed(seed)
    found = roles(gms)
    seen: set[int] = set()
    with torch.no_grad():
        for name, t in tensors:
            if id(t) in seen:  # shared between layers: set once
                continue
            seen.add(id(t))
            _set(name, t, *found.get(name, ("other", None)), gen)


def _set(name: str, t: torch.Tensor, role: str, fan_in: int | None,
         gen: torch.Generator) -> None:
    if role == "counter" or not t.is_floating_point():
        if role == "counter":
            t.zero_()
        if role == "counter" or _constant(t):
            return
        raise InitError(
            f"{name} ({str(t.dtype).removeprefix('torch.')}, shape "
            f"{tuple(t.shape)}) holds different values, and the grader starts "
            "every tensor itself: it cannot tell an index table from stored "
            "weights. Compute it in forward (torch.arange, ...) instead.")
    if role == "weight" or (role == "other" and t.dim() >= 2
                            and not _constant(t)):
        if t.dim() >= 2:
            nn.init.kaiming_uniform_(t, a=math.sqrt(5), generator=gen)
        else:
            _uniform(t, 1 / math.sqrt(max(1, fan_in or t.numel())), gen)
    elif role == "bias":
        _uniform(t, 1 / math.sqrt(fan_in or max(1, t.numel())), gen)
    elif role in ("one", "zero", "prelu"):
        t.fill_({"one": 1.0, "zero": 0.0, "prelu": 0.25}[role])
    elif not _constant(t):  # another vector or scalar that varies
        _uniform(t, 1 / math.sqrt(max(1, t.numel())), gen)


def _constant(t: torch.Tensor) -> bool:
    return t.numel() == 0 or bool((t == t.reshape(-1)[0]).all())


def _uniform(t: torch.Tensor, bound: float, gen: torch.Generator) -> None:
    nn.init.uniform_(t, -bound, bound, generator=gen)

