"""What a traced network uses besides the image and the tensors it keeps.

The grader counts a network's tensors and draws their starting values
itself (network.weights, initial.py). A graph can carry data elsewhere,
and each way is closed here, on the graph, before any check runs:

- **numbers written into forward** (`numbers`): a literal in an op's
  arguments (x * 0.5, torch.full(..., 0.37)), and, where an op does not
  look at the image, every number and every item of a list it is given
  (an index into a constant, a stack of scalars). Sizes of ops on the
  image's path (a reshape's shape, a dim, a kernel size, a padding),
  dropout's p, BatchNorm's momentum and PyTorch's default eps are not
  numbers of the network. At most `MAX_NUMBERS` in either mode: weights
  are tensors the network keeps, which the grader counts and redraws.
- **values computed from numbers alone** (`fold`): what forward builds
  without the image and without a tensor training or the grader's draw
  changes (torch.linspace(...), torch.arange(...).sin(), a stack of
  scalars) becomes, where it meets the rest of the network, a buffer:
  counted, and redrawn like any buffer whose values differ.
- **the batch size as a value** (`batch_as_value`): x.size(0) may size a
  tensor (a reshape, new_zeros), never enter a computation (x * (B > 100)):
  a network that changes with the batch size is not the one the checks
  see at their own batch sizes.
- **state** (`state`): a tensor forward changes in place may be read only
  by what updates it (BatchNorm its running statistics, a step counter
  its add_): a network that reads its own changing state changes from
  one call to the next, during training, after the checks.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import torch
from torch import fx

from tinycnn.sandbox.graphfile import PYTHON_OPS, SIZE_OPS, attr

aten = torch.ops.aten

MAX_NUMBERS = 256       # numbers written into forward, per mode
MAX_FOLDED = 1 << 24    # values computed from numbers alone, all ops
PYTHON = set(PYTHON_OPS.values())
NORMS = {aten.batch_norm.default, aten.native_batch_norm.default,
         aten._native_batch_norm_legit.default,
         aten._native_batch_norm_legit_no_training.default,
         aten._native_batch_norm_legit_functional.default,
         aten.instance_norm.default, aten.group_norm.default,
         aten.native_group_norm.default, aten.layer_norm.default,
         aten.native_layer_norm.default}
DROPOUTS = {aten.dropout.default, aten.feature_dropout.default,
            aten.alpha_dropout.default, aten.feature_alpha_dropout.default,
            aten.native_dropout.default, aten.dropout_.default,
            aten.feature_dropout_.default}
RANDOM_NAMES = ("rand", "randn", "randint", "randperm", "bernoulli",
                "normal", "uniform", "multinomial", "dropout", "exponential",
                "geometric", "cauchy", "log_normal", "random")
DEFAULT_EPS = 1e-5


@dataclass(frozen=True)
class Number:
    node: str     # the op's node name
    where: str    # "x * 0.5"-like: the op and the argument
    value: object


# ------------------------------------------------------------ the graph


def image_nodes(gm: fx.GraphModule) -> set[fx.Node]:
    """The nodes whose value depends on the image (its sizes included)."""
    found: set[fx.Node] = set()
    for n in gm.graph.nodes:
        if n.op == "placeholder" or any(a in found
                                        for a in n.all_input_nodes):
            found.add(n)
    return found


def _is_size(n: fx.Node) -> bool:
    """A node that computes a size (an int), not a tensor."""
    return n.op == "call_function" and (
        n.target in SIZE_OPS or (n.target in PYTHON
                                 and n.target is not operator.getitem))


def _size_type(t) -> bool:
    """An argument type that holds sizes: int, SymInt, their lists."""
    name = str(t)
    for wrap in ("Optional[", "List["):
        while name.startswith(wrap):
            name = name[len(wrap):-1]
    return name in ("int", "SymInt")


def _arguments(n: fx.Node) -> list[tuple[str, object, bool]]:
    """(argument name, value, is a size position) of an ATen op's call."""
    schema = n.target._schema.arguments
    out = []
    for i, v in enumerate(n.args):
        a = schema[i] if i < len(schema) else None
        out.append((a.name if a else str(i), v,
                    a is not None and _size_type(a.type)))
    by_name = {a.name: a for a in schema}
    for k, v in n.kwargs.items():
        a = by_name.get(k)
        out.append((k, v, a is not None and _size_type(a.type)))
    return out


def _aten(n: fx.Node) -> bool:
    return n.op == "call_function" and isinstance(n.target,
                                                  torch._ops.OpOverload)


def _op(n: fx.Node) -> str:
    return str(n.target).replace("aten.", "").split(".")[0] \
        if _aten(n) else getattr(n.target, "__name__", str(n.target))


def _leaves(v, in_list: bool = False):
    """(number or node, inside a list) for every leaf of an argument."""
    if isinstance(v, (list, tuple)):
        for x in v:
            yield from _leaves(x, True)
    elif isinstance(v, fx.Node) or (isinstance(v, (int, float))
                                    and not isinstance(v, bool)):
        yield v, in_list


# ---------------------------------------------------- numbers in forward


def _hyper(n: fx.Node, name: str, v) -> bool:
    """A number of a standard layer that carries no weights: dropout's p,
    BatchNorm's momentum, PyTorch's default eps."""
    if n.target in DROPOUTS:
        return name in ("p", "train")
    if n.target in NORMS:
        return name in ("momentum", "training") or (
            name == "eps" and v == DEFAULT_EPS)
    return False


def _counter(n: fx.Node) -> bool:
    """add_(t, 1) on a kept tensor, read by nothing but the next such
    add_ (a BatchNorm called twice counts on): a step count."""
    m = n
    while True:
        if not (m.op == "call_function" and m.target is aten.add_.Tensor
                and len(m.args) >= 2 and isinstance(m.args[0], fx.Node)
                and m.args[1] == 1 and not m.kwargs):
            return False
        if any(not (u.target is aten.add_.Tensor and u.args[0] is m)
               for u in m.users):
            return False
        m = m.args[0]
        if m.op == "get_attr":
            return True


def numbers(gm: fx.GraphModule) -> list[Number]:
    """The numbers written into forward (see the module's docstring)."""
    image = image_nodes(gm)
    found = []
    for n in gm.graph.nodes:
        if n.op != "call_function" or _is_size(n) or n.target in SIZE_OPS:
            continue
        if n.target is operator.getitem:
            if n not in image:  # picking from an image-free tuple
                found += [Number(n.name, f"{n.args[0]}[{v}]", v)
                          for v, _ in _leaves(n.args[1:])
                          if not isinstance(v, fx.Node)]
            continue
        if not _aten(n) or _counter(n):
            continue
        free = n not in image
        for name, v, size in _arguments(n):
            for leaf, in_list in _leaves(v):
                if isinstance(leaf, fx.Node):
                    if free and in_list:  # a list of values, built
                        found.append(Number(n.name, f"{_op(n)}({name}=["
                                            f"{leaf.name}, ...])", leaf.name))
                elif free or (not size and not _hyper(n, name, leaf)):
                    found.append(Number(n.name, f"{_op(n)}({name}={leaf!r})",
                                        leaf))
    return found


# ------------------------------------------------------ the batch size


def batch_as_value(gm: fx.GraphModule) -> list[str]:
    """Ops that take a size of the image (the batch size, or a number
    computed from it) where a value goes, as 'op(argument)'."""
    sizes = {n for n in gm.graph.nodes if _is_size(n)}
    bad = []
    for n in gm.graph.nodes:
        if not _aten(n) or n.target in SIZE_OPS:
            continue
        for name, v, size in _arguments(n):
            if not size and any(leaf in sizes for leaf, _ in _leaves(v)):
                bad.append(f"{_op(n)}({name})")
    return bad


# ------------------------------------------------------------ state


def _writes(n: fx.Node) -> list[fx.Node]:
    """The argument nodes an op changes in place."""
    if not _aten(n):
        return []
    out = []
    for i, a in enumerate(n.target._schema.arguments):
        if a.alias_info is not None and a.alias_info.is_write:
            v = n.args[i] if i < len(n.args) else n.kwargs.get(a.name)
            if isinstance(v, fx.Node):
                out.append(v)
    return out


def _stats_of(n: fx.Node) -> list[fx.Node]:
    """The running statistics a BatchNorm op reads (and updates)."""
    if n.target not in NORMS or n.target in (
            aten.group_norm.default, aten.native_group_norm.default,
            aten.layer_norm.default, aten.native_layer_norm.default):
        return []
    return [a for a in n.args[3:5] if isinstance(a, fx.Node)]


def mutated(gms) -> set[str]:
    """Names of the kept tensors some op of these graphs changes in place
    (BatchNorm's running statistics included)."""
    out = set()
    for gm in gms:
        for n in gm.graph.nodes:
            for a in _writes(n) + _stats_of(n):
                if a.op == "get_attr":
                    out.add(a.target)
    return out


def state(gm: fx.GraphModule, changed: set[str]) -> list[str]:
    """Kept tensors forward changes in place and reads besides: 'name
    (read by op)'."""
    bad = []
    for n in gm.graph.find_nodes(op="get_attr"):
        if n.target not in changed:
            continue
        for u in n.users:
            if n in _stats_of(u) and u.args[0] is not n:
                continue
            if _counter(u) and u.args[0] is n:
                continue
            if n in _writes(u) and not u.users and u.target in (
                    aten.copy_.default, aten.add_.Tensor):
                continue  # written, and the result unused: an update
            bad.append(f"{n.target} (read by {_op(u)})")
    return bad


# ----------------------------------------------- computed from numbers


def _random(n: fx.Node) -> bool:
    return any(r in _op(n) for r in RANDOM_NAMES)


def _constant(t: torch.Tensor) -> bool:
    return t.numel() == 0 or bool((t == t.reshape(-1)[0]).all())


def fold(gms: dict[str, fx.GraphModule], params: set[str], changed: set[str],
         drawn: set[str]) -> list[tuple[str, torch.Tensor]]:
    """In each graph, replace every floating-point value computed from
    numbers alone, whose values differ, by a buffer (the same tensor in
    both modes where they compute the same). `params` are the parameters'
    names, `changed` the tensors forward changes, `drawn` the tensors the
    grader's draw sets (initial.roles). Returns the new buffers, in the
    order made: the grader draws them last. SizeError-free: sizes were
    checked (sizes.annotate); ValueError if they add up past MAX_FOLDED."""
    made: list[tuple[str, torch.Tensor]] = []
    by_value: dict[tuple, str] = {}
    total = 0
    for gm in gms.values():
        free: dict[fx.Node, object] = {}  # node -> its value
        for n in gm.graph.nodes:
            if n.op == "get_attr":
                t = attr(gm, n.target)
                if torch.is_tensor(t) and n.target not in params | changed \
                        | drawn and _constant(t):
                    free[n] = t
                continue
            if n.op != "call_function" or _is_size(n) or _random(n) or \
                    not all(a in free for a in n.all_input_nodes) or \
                    any(a.op == "get_attr" for a in _writes(n)):
                continue
            args, kwargs = fx.node.map_arg((n.args, n.kwargs),
                                           free.__getitem__)
            with torch.no_grad():
                v = n.target(*args, **kwargs)
            total += sum(t.numel() for t in (v if isinstance(v, (tuple, list))
                                             else [v]) if torch.is_tensor(t))
            if total > MAX_FOLDED:
                raise ValueError(f"forward computes more than {MAX_FOLDED:,}"
                                 " values from numbers alone; weights are "
                                 "tensors the network keeps")
            free[n] = v
        for n, v in list(free.items()):
            if n.op != "call_function" or all(u in free for u in n.users) \
                    or not torch.is_tensor(v) or not v.is_floating_point() \
                    or _constant(v):
                continue
            v = v.detach().clone()
            key = (v.dtype, tuple(v.shape), v.contiguous().reshape(-1).view(
                torch.uint8).numpy().tobytes())
            name = by_value.get(key)
            if name is None:
                name = _fresh(gms.values(), len(made))
                by_value[key] = name
                made.append((name, v))
            t = dict(made)[name]
            if not hasattr(gm, name):
                gm.register_buffer(name, t, persistent=False)
            with gm.graph.inserting_before(n):
                g = gm.graph.get_attr(name)
            g.meta.update(n.meta)
            n.replace_all_uses_with(g)
        for n in reversed(list(free)):  # what only led to those is gone
            if n.op == "call_function" and not n.users:
                gm.graph.erase_node(n)
        gm.recompile()
    return made


def _fresh(gms, k: int) -> str:
    """A buffer name no graph uses yet."""
    while any(hasattr(gm, f"computed_{k}") for gm in gms):
        k += 1
    return f"computed_{k}"


def describe(found: list[Number], limit: int = 4) -> str:
    """'x * 0.5 in mul_3, ...' for a message."""
    shown = ", ".join(f"{x.where} in {x.node}" for x in found[:limit])
    more = len(found) - limit
    return shown + (f" and {more:,} more" if more > 0 else "")
