"""The grader's side of graphfile.py: the traced network rebuilt from
the files the probe left, as untrusted data.

`read()` rebuilds each mode into a torch.fx graph module with json and
byte slicing only: no pickle, no eval, no import by name. Names, sizes
and counts are checked against graphfile's limits first; an op must be
an ATen operator that only computes, or one of a few Python operators
on sizes. Anything else is a GraphFileError that says what was refused.
"""

from __future__ import annotations

import json
import math
import operator
from pathlib import Path

import torch
from torch import fx, nn
from torch.fx.graph import _PyTreeCodeGen, _PyTreeInfo
from torch.utils import _pytree as pytree

from tinycnn.sandbox.graphfile import (
    ATEN,
    DATA,
    DENIED,
    DTYPES,
    LAYOUTS,
    MAX_DATA,
    MAX_DEPTH,
    MAX_ITEMS,
    MAX_JSON,
    MAX_NODES,
    MAX_TEXT,
    MAX_VALUES,
    MEMORY_FORMATS,
    MODES,
    NAME,
    PATH,
    PYTHON_OPS,
    SIZE_OPS,
    TENSORS,
    GraphFileError,
    read_bytes,
)


def _json(path: Path):
    try:
        return json.loads(read_bytes(path, MAX_JSON))
    except (ValueError, RecursionError) as e:
        if isinstance(e, GraphFileError):
            raise
        raise GraphFileError(f"{path.name} is not valid JSON") from None


def read(folder: Path) -> tuple[dict[str, fx.GraphModule], list]:
    """({mode: graph module}, [(name, tensor)]) from `folder`: the tensors
    in the order Net() made them, shared by the modes' modules (a tensor
    two layers share is listed under both names). GraphFileError if any
    file is missing, malformed, over a limit or asks for a refused op."""
    folder = Path(folder)
    table = _json(folder / TENSORS)
    blob = read_bytes(folder / DATA, MAX_DATA)
    tensors = _tensors(table, blob)
    modules = {mode: _module(_json(folder / f"graph-{mode}.json"), tensors)
               for mode in MODES}
    return modules, [(name, t) for name, _, t, _ in tensors]


def _tensors(table, blob: bytes) -> list[tuple[str, str, object, dict]]:
    """[(name, kind, tensor, row)] in the probe's order; aliases share."""
    if not isinstance(table, list) or len(table) > MAX_NODES:
        raise GraphFileError("the tensor table is not a list of tensors")
    out, by_name = [], {}
    for row in table:
        if not isinstance(row, dict):
            raise GraphFileError("a tensor entry is not an object")
        name, kind = row.get("name"), row.get("kind")
        if not isinstance(name, str) or not PATH.fullmatch(name) \
                or name in by_name:
            raise GraphFileError(f"bad tensor name {str(name)[:80]!r}")
        if kind not in ("parameter", "buffer", "attribute"):
            raise GraphFileError(f"tensor {name}: unknown kind")
        if "alias" in row:
            t, of = by_name.get(row["alias"], (None, None))
            if t is None or of != kind:
                raise GraphFileError(f"tensor {name}: alias of nothing")
        else:
            t = _tensor(name, row, blob)
            if kind == "parameter":  # one Parameter, whatever shares it
                t = nn.Parameter(t, requires_grad=t.is_floating_point() and
                                 row.get("requires_grad") is not False)
        by_name[name] = t, kind
        out.append((name, kind, t, row))
    return out


def _tensor(name: str, row: dict, blob: bytes) -> torch.Tensor:
    dtype = DTYPES.get(row.get("dtype"))
    shape, offset, nbytes = (row.get("shape"), row.get("offset"),
                             row.get("nbytes"))
    if dtype is None or not _ints(shape, 0) or len(shape) > 8 \
            or not _ints([offset, nbytes], 0):
        raise GraphFileError(f"tensor {name}: bad dtype, shape or offset")
    numel = math.prod(shape)
    if numel * dtype.itemsize != nbytes or offset + nbytes > len(blob):
        raise GraphFileError(f"tensor {name}: its size does not match "
                             "the data")
    if numel == 0:
        return torch.zeros(shape, dtype=dtype)
    data = bytearray(blob[offset:offset + nbytes])
    return torch.frombuffer(data, dtype=dtype).reshape(shape).clone()


def _ints(v, low: int) -> bool:
    return isinstance(v, list) and all(
        type(i) is int and low <= i < 1 << 40 for i in v)


class _NoGuards(nn.Module):
    """Stands where export put its input-shape guards; the grader checks
    shapes itself, so it does nothing."""

    def forward(self, *args) -> None:
        return None


def _module(g, tensors) -> fx.GraphModule:
    if not isinstance(g, dict) or g.get("format") != 1:
        raise GraphFileError("a graph file of an unknown format")
    nodes = g.get("nodes")
    if not isinstance(nodes, list) or not 2 <= len(nodes) <= MAX_NODES:
        raise GraphFileError("a graph without nodes, or with too many")
    gm = fx.GraphModule(nn.Module(), fx.Graph())
    names = {}
    for name, kind, t, row in tensors:
        _assign(gm, name, kind, t, row, names)
    graph, made = fx.Graph(), {}
    for i, row in enumerate(nodes):
        node = _node(graph, row, made, names, last=i == len(nodes) - 1)
        made[node.name] = node
    if len(graph.find_nodes(op="placeholder")) != 1:
        raise GraphFileError("a graph must take exactly one input")
    _sizes_only(graph)
    orig_args, out = g.get("args"), g.get("out")
    if not isinstance(orig_args, list) or not 1 <= len(orig_args) <= 8 or \
            not all(isinstance(a, str) and NAME.fullmatch(a)
                    for a in orig_args):
        raise GraphFileError("bad argument names for forward")
    in_spec = pytree.tree_structure(((0,), {}))
    out_spec = pytree.tree_structure(_structure(out, 0))
    graph._codegen = _PyTreeCodeGen(_PyTreeInfo(orig_args, in_spec, out_spec))
    gm._guards_fn = _NoGuards()
    gm.graph = graph  # compiles forward from the nodes
    return gm


def _sizes_only(graph: fx.Graph) -> None:
    """Python operators compute sizes (x.size(0) * 2) and pick items out of
    tuples; any other input would make them run tensor code the grader
    cannot read as ATen ops."""
    def size(n: fx.Node) -> bool:
        return n.op == "call_function" and (
            n.target in SIZE_OPS or (n.target in PYTHON_OPS.values() and
                                     n.target is not operator.getitem))

    for n in graph.nodes:
        if n.op == "call_function" and n.target in PYTHON_OPS.values() \
                and n.target is not operator.getitem and not all(
                    size(a) for a in n.all_input_nodes):
            raise GraphFileError(f"node {n.name}: a Python operator on a "
                                 "tensor (only sizes may be computed so)")


def _assign(gm: nn.Module, name: str, kind: str, t, row: dict,
            names: dict) -> None:
    *path, leaf = name.split(".")
    mod = gm
    for part in path:
        sub = mod._modules.get(part)
        if sub is None:
            if hasattr(mod, part):
                raise GraphFileError(f"tensor {name}: clashes with {part}")
            sub = nn.Module()
            mod.add_module(part, sub)
        mod = sub
    if hasattr(mod, leaf) and leaf not in mod._parameters \
            and leaf not in mod._buffers:
        raise GraphFileError(f"tensor {name}: clashes with a module")
    if kind == "parameter":
        mod.register_parameter(leaf, t)
    elif kind == "buffer":
        mod.register_buffer(leaf, t, persistent=bool(row.get("persistent",
                                                             True)))
    else:
        setattr(mod, leaf, t)
    names[name] = t


def _structure(spec, depth: int):
    if depth > MAX_DEPTH:
        raise GraphFileError("the output's structure is too deep")
    if spec == "*":
        return 0
    if isinstance(spec, dict) and len(spec) == 1:
        (kind, items), = spec.items()
        if kind in ("tuple", "list") and isinstance(items, list) and \
                len(items) <= MAX_ITEMS:
            seq = [_structure(s, depth + 1) for s in items]
            return tuple(seq) if kind == "tuple" else seq
    raise GraphFileError("an output structure the grader does not know")


def _node(graph: fx.Graph, row, made: dict, tensors: dict,
          last: bool) -> fx.Node:
    if not isinstance(row, dict):
        raise GraphFileError("a node is not an object")
    name, op, target = row.get("name"), row.get("op"), row.get("target")
    if not isinstance(name, str) or not NAME.fullmatch(name) or name in made:
        raise GraphFileError(f"bad or repeated node name {str(name)[:80]!r}")
    if (op == "output") != last:
        raise GraphFileError("the output must be the graph's last node")
    args = _dec(row.get("args", {"tuple": []}), made, 0)
    kwargs = row.get("kwargs", {})
    if not isinstance(args, tuple) or not isinstance(kwargs, dict) or \
            not all(isinstance(k, str) and NAME.fullmatch(k) for k in kwargs):
        raise GraphFileError(f"node {name}: bad arguments")
    kwargs = {k: _dec(v, made, 0) for k, v in kwargs.items()}
    if op == "placeholder":
        node = graph.placeholder(name)
    elif op == "get_attr":
        if target not in tensors:
            raise GraphFileError(f"node {name} reads {str(target)[:80]!r}, "
                                 "which is not one of the network's tensors")
        node = graph.get_attr(target)
    elif op == "call_module":
        if target != "_guards_fn":  # export's guards: the only module call
            raise GraphFileError(f"node {name} calls a module")
        node = graph.call_module(target, args)
    elif op == "call_function":
        node = graph.call_function(_function(target, name), args, kwargs)
    elif op == "output":
        node = graph.output(args[0] if len(args) == 1 else args)
    else:
        raise GraphFileError(f"node {name}: unknown kind {str(op)[:40]!r}")
    node.name = name
    _meta(node, row)
    return node


def _function(target, name: str):
    if not isinstance(target, str):
        raise GraphFileError(f"node {name}: bad op")
    if target.startswith("python."):
        f = PYTHON_OPS.get(target.removeprefix("python."))
        if f is None:
            raise GraphFileError(f"node {name} calls {target[:80]}, which "
                                 "the grader does not run")
        return f
    m = ATEN.fullmatch(target)
    if m is None or m.group(1) in DENIED:
        raise GraphFileError(f"node {name} calls {target[:80]!r}, which the "
                             "grader does not run")
    try:
        op = getattr(getattr(torch.ops.aten, m.group(1)), m.group(2))
    except (AttributeError, RuntimeError):
        raise GraphFileError(f"node {name}: no ATen op {target[:80]!r}") \
            from None
    if not isinstance(op, torch._ops.OpOverload):
        raise GraphFileError(f"node {name}: {target[:80]!r} is not an op")
    return op


def _dec(v, made: dict, depth: int):
    if depth > MAX_DEPTH:
        raise GraphFileError("op arguments nested too deep")
    if v is None or isinstance(v, (bool, int, float)):
        return v
    if isinstance(v, str):
        if len(v) > MAX_TEXT:
            raise GraphFileError("a text argument is too long")
        return v
    if not isinstance(v, dict) or len(v) != 1:
        raise GraphFileError("an op argument the grader does not know")
    (kind, x), = v.items()
    if kind in ("tuple", "list") and isinstance(x, list):
        if len(x) > MAX_ITEMS:
            raise GraphFileError("a list argument is too long")
        items = [_dec(i, made, depth + 1) for i in x]
        return tuple(items) if kind == "tuple" else items
    table = {"node": made, "dtype": DTYPES, "memory_format": MEMORY_FORMATS,
             "layout": LAYOUTS, "device": {"cpu": torch.device("cpu")},
             "float": {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}}
    if kind in table and isinstance(x, str) and x in table[kind]:
        return table[kind][x]
    raise GraphFileError(f"an op argument the grader does not know "
                         f"({str(kind)[:20]})")


def _meta(node: fx.Node, row: dict) -> None:
    val = row.get("val")
    if val is not None:
        node.meta["val"] = _fake(val, 0)
        first = val["tuple"][0] if "tuple" in val else val
        if isinstance(first, dict):  # checked by _fake
            node.meta["dynamic"] = tuple(first.get("dynamic", ()))
    stack = row.get("stack")
    if stack is not None:
        if not isinstance(stack, list) or len(stack) > 32 or not all(
                isinstance(s, list) and len(s) == 2 and all(
                    isinstance(p, str) and len(p) <= MAX_TEXT for p in s)
                for s in stack):
            raise GraphFileError(f"node {node.name}: bad module path")
        node.meta["nn_module_stack"] = {f"m{i}": tuple(s)
                                        for i, s in enumerate(stack)}


def _fake(val, depth: int):
    """What an op computes, as a tensor on the meta device (shape and dtype,
    no data); node.meta["dynamic"] lists the sizes that follow the batch."""
    if isinstance(val, dict) and "tuple" in val and depth < 2:
        items = val["tuple"]
        if isinstance(items, list) and len(items) <= MAX_ITEMS:
            return tuple(_fake(v, depth + 1) for v in items)
    if val is None:
        return None
    if not isinstance(val, dict) or DTYPES.get(val.get("dtype")) is None or \
            not _ints(val.get("shape"), 0) or len(val["shape"]) > 8 or \
            not _ints(val.get("dynamic", []), 0):
        raise GraphFileError("a node's shape is malformed")
    if math.prod(val["shape"]) > MAX_VALUES:
        raise GraphFileError(f"an op computes {math.prod(val['shape']):,} "
                             "values for a batch of 4 images; the grader "
                             f"runs networks up to {MAX_VALUES:,}")
    return torch.empty(val["shape"], dtype=DTYPES[val["dtype"]],
                       device="meta")
