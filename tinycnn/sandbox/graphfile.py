"""The traced network, handed from the probe to the grader as plain data.

The probe's process runs learner code, so every byte it leaves is
untrusted. It writes each traced mode as `graph-<mode>.json` (every op by
name, its arguments, the shape of what it computes and the module it ran
in) and the tensors the network keeps as `tensors.json` (names, shapes)
plus `tensors.bin` (the raw numbers). `read()` rebuilds them into
torch.fx graph modules with json and byte slicing only: no pickle
(torch.export.load unpickles parts of its archive, which the learner's
process can rewrite), no eval, no import by name. An op must be an ATen
operator that only computes, or one of a few Python number operators;
names, sizes and counts are checked against limits first. Anything else
is a GraphFileError that says what was refused.
"""

from __future__ import annotations

import json
import math
import operator
import os
import re
import stat
from pathlib import Path

import torch
from torch import fx, nn
from torch.fx.graph import _PyTreeCodeGen, _PyTreeInfo
from torch.utils import _pytree as pytree

TENSORS, DATA = "tensors.json", "tensors.bin"
MODES = ("train", "eval")

MAX_JSON = 16 << 20          # bytes of one graph or the tensor table
MAX_DATA = 256 << 20         # bytes of tensors.bin (20K floats are 80 KB)
MAX_NODES = 20_000
MAX_DEPTH = 8                # nesting of an op's arguments
MAX_ITEMS = 4096             # items in one list argument
MAX_VALUES = 1 << 20         # values one op computes for the traced batch
MAX_TEXT = 300               # characters of a name or a module path

DTYPES = {str(d).removeprefix("torch."): d for d in (
    torch.float32, torch.float64, torch.float16, torch.bfloat16,
    torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8,
    torch.bool)}
MEMORY_FORMATS = {"contiguous_format": torch.contiguous_format,
                  "channels_last": torch.channels_last,
                  "preserve_format": torch.preserve_format}
LAYOUTS = {"strided": torch.strided}
# Python callables a traced graph uses for sizes (X.size(0) * 2) and for
# picking an output out of a tuple (max_pool2d with indices)
PYTHON_OPS = {f.__name__: f for f in (
    operator.getitem, operator.add, operator.sub, operator.mul,
    operator.floordiv, operator.truediv, operator.mod, operator.neg,
    operator.pow, operator.eq, operator.ne, operator.lt, operator.le,
    operator.gt, operator.ge, torch.sym_int, torch.sym_float,
    torch.sym_max, torch.sym_min, torch.sym_not)}
# ATen operators that read a size of a tensor: the only ones whose
# results the Python operators above may compute with
SIZE_OPS = {torch.ops.aten.sym_size.int, torch.ops.aten.sym_numel.default,
            torch.ops.aten.sym_stride.int,
            torch.ops.aten.sym_storage_offset.default}
# ATen operators that touch files, print, or change what a tensor is
# (storage, size) rather than compute: never run in the grader
DENIED = {"from_file", "save", "_print", "warn", "wait", "set_", "set_data",
          "resize", "resize_", "resize_as", "resize_as_", "_resize_output",
          "_resize_output_", "_copy_from_and_resize", "record_stream",
          "_cufft_set_plan_cache_max_size", "set_grad_enabled", "_set_item",
          "sparse_resize_", "sparse_resize_and_clear_",
          "_test_warn_in_autograd"}
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,199}")
PATH = re.compile(r"[A-Za-z0-9_]{1,200}(\.[A-Za-z0-9_]{1,200}){0,31}")
ATEN = re.compile(r"aten\.([a-z0-9_]{1,100})\.([A-Za-z0-9_]{1,100})")


class GraphFileError(ValueError):
    """The handed-back network cannot be read; the message says why."""


class Unsupported(TypeError):
    """The probe met something its format cannot carry."""


# ------------------------------------------------------- the probe's side


def write(graphs: dict[str, fx.GraphModule], out: Path) -> None:
    """Write `graphs` (ep.module() of each mode, one network) into `out`."""
    first = graphs[MODES[0]]
    table, blob = _tensor_table(first, graphs)
    (out / DATA).write_bytes(blob)
    (out / TENSORS).write_text(json.dumps(table), encoding="utf-8")
    for mode, gm in graphs.items():
        (out / f"graph-{mode}.json").write_text(json.dumps(_graph(gm)),
                                                encoding="utf-8")


def _tensor_table(gm: fx.GraphModule, graphs) -> tuple[list, bytes]:
    """Every tensor the module keeps, in its registration order (the order
    Net() made them in), then tensor attributes the graphs read."""
    rows, chunks, offset, seen = [], [], 0, {}
    transient = {f"{p}.{b}".lstrip(".") for p, m in gm.named_modules()
                 for b in m._non_persistent_buffers_set}
    entries = [(n, t, "parameter") for n, t in
               gm.named_parameters(remove_duplicate=False)]
    entries += [(n, t, "buffer") for n, t in
                gm.named_buffers(remove_duplicate=False)]
    known = {n for n, _, _ in entries}
    for g in graphs.values():
        for node in g.graph.find_nodes(op="get_attr"):
            t = attr(g, node.target)
            if node.target not in known and torch.is_tensor(t):
                entries.append((node.target, t, "attribute"))
                known.add(node.target)
    for name, t, kind in entries:
        row = {"name": name, "kind": kind}
        if id(t) in seen:  # one tensor under two names: shared weights
            row["alias"] = seen[id(t)]
            rows.append(row)
            continue
        seen[id(t)] = name
        t = t.detach().cpu().contiguous()
        data = t.reshape(-1).view(torch.uint8).numpy().tobytes() \
            if t.numel() else b""
        row.update(dtype=_dtype_name(t.dtype), shape=list(t.shape),
                   offset=offset, nbytes=len(data))
        if kind == "parameter":
            row["requires_grad"] = bool(attr(gm, name).requires_grad)
        if kind == "buffer":
            row["persistent"] = name not in transient
        rows.append(row)
        chunks.append(data)
        offset += len(data)
    return rows, b"".join(chunks)


def _graph(gm: fx.GraphModule) -> dict:
    info = getattr(gm.graph._codegen, "pytree_info", None)
    nodes = []
    for n in gm.graph.nodes:
        row = {"name": n.name, "op": n.op, "target": _target(n)}
        if n.args:
            row["args"] = _enc(n.args)
        if n.kwargs:
            row["kwargs"] = {k: _enc(v) for k, v in n.kwargs.items()}
        val = _val(n.meta.get("val"))
        if val is not None:
            row["val"] = val
        stack = n.meta.get("nn_module_stack")
        if stack:
            row["stack"] = [[str(p), str(t)] for p, t in stack.values()]
        nodes.append(row)
    return {"format": 1, "nodes": nodes,
            "args": list(info.orig_args) if info else ["x"],
            "out": _spec(info.out_spec) if info and info.out_spec else "*"}


def _target(n: fx.Node) -> str:
    t = n.target
    if n.op in ("placeholder", "get_attr", "call_module", "output"):
        return str(t)
    if isinstance(t, torch._ops.OpOverload):
        return str(t)  # "aten.conv2d.default"
    for name, f in PYTHON_OPS.items():
        if t is f:
            return f"python.{name}"
    raise Unsupported(f"the op {getattr(t, '__name__', t)!r}")


def _enc(v):
    if isinstance(v, fx.Node):
        return {"node": v.name}
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else {"float": repr(v)}
    if isinstance(v, tuple):
        return {"tuple": [_enc(x) for x in v]}
    if isinstance(v, list):
        return {"list": [_enc(x) for x in v]}
    if isinstance(v, torch.dtype):
        return {"dtype": _dtype_name(v)}
    if isinstance(v, torch.device):
        return {"device": str(v)}
    if isinstance(v, torch.memory_format):
        return {"memory_format": str(v).removeprefix("torch.")}
    if isinstance(v, torch.layout):
        return {"layout": str(v).removeprefix("torch.")}
    raise Unsupported(f"an op argument of type {type(v).__name__}")


def _val(v):
    if isinstance(v, (tuple, list)):
        items = [_val(x) for x in v]
        return {"tuple": items} if items and items[0] is not None else None
    if not torch.is_tensor(v):
        return None
    shape, dynamic = [], []
    for i, s in enumerate(v.shape):
        if isinstance(s, int):
            shape.append(s)
        else:  # a symbolic size: keep the size it had when traced
            dynamic.append(i)
            shape.append(int(s.node.hint) if s.node.hint is not None else 1)
    return {"shape": shape, "dtype": _dtype_name(v.dtype), "dynamic": dynamic}


def _spec(spec) -> object:
    """An output's structure: "*" (a tensor), or tuples and lists of them."""
    if spec.is_leaf():
        return "*"
    kind = {tuple: "tuple", list: "list"}.get(spec.type)
    if kind is None:
        raise Unsupported(f"forward returning a {spec.type.__name__}")
    return {kind: [_spec(c) for c in spec.children_specs]}


def _dtype_name(d: torch.dtype) -> str:
    name = str(d).removeprefix("torch.")
    if name not in DTYPES:
        raise Unsupported(f"a tensor of dtype {name}")
    return name


def attr(obj, target: str):
    """obj.a.b for target "a.b" (None where a part is missing)."""
    for part in target.split("."):
        obj = getattr(obj, part, None)
    return obj


# ------------------------------------------------------- the grader's side


def read_bytes(path: Path, limit: int) -> bytes:
    """A regular file's bytes, refused if it is a link (symbolic or hard),
    a pipe or a device, or longer than `limit`: the probe's folder is
    written by untrusted code, and the grader may read files it cannot."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise GraphFileError(f"{Path(path).name}: {e.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
            raise GraphFileError(f"{Path(path).name} is not a plain file")
        if st.st_size > limit:
            raise GraphFileError(f"{Path(path).name} is {st.st_size:,} bytes"
                                 f", over the limit of {limit:,}")
        return f.read(limit + 1)[:limit]


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
