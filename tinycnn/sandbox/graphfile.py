"""The traced network, handed from the probe to the grader as plain data.

The probe's process runs learner code, so every byte it leaves is
untrusted. It writes each traced mode as `graph-<mode>.json` (every op by
name, its arguments, the shape of what it computes and the module it ran
in) and the tensors the network keeps as `tensors.json` (names, shapes)
plus `tensors.bin` (the raw numbers); graphread.read rebuilds them into
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
from torch import fx

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
