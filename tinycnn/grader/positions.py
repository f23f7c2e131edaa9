"""Which axes of each tensor the network computes are the image's
positions: what a global average must reduce, all of them, and only them.

Every dim of every tensor gets a label: a tuple of atoms (kind, size),
where kind is "B" (the batch), "C" (channels), "P" (positions of the
image's grid: its rows or columns, perhaps pooled), "1" (a size-1 axis)
or "X" (anything else: values mixed across positions by a Linear, an axis
made by expand or repeat, a reshape that cuts across axes). A dim merged
from several (a flatten) holds their atoms in order; a reshape that splits
it back along the same boundaries gets them back.

The rules, op by op: convs, pools, BatchNorm, activations, dropout and
every op that keeps its input's shape keep the labels (a conv mixes
channels and neighbouring positions: its positions are still positions);
view, reshape, flatten, permute, transpose, squeeze and unsqueeze move
atoms; expand and repeat make "X"; a Linear or a matmul makes its output
axis "X"; a reduction removes the axes it reduces; an op it does not know
that changes the shape makes every axis "X".

A reduction is a global average (`global_average`) when it is an
average or a sum, the axes it reduces hold every "P" atom of its input
and nothing but "P" (and size-1) atoms, and there are more than one
position: `x.mean((2, 3))`, `AdaptiveAvgPool2d(1)`, `avg_pool2d` over the
whole map, `x.flatten(2).mean(2)`, a permute then a mean over the
positions; not a mean over an axis made by expand, over a map rebuilt
from a Linear's output, or over a reshape that mixes channels into it.
"""

from __future__ import annotations

import math
import operator

import torch
from torch import fx

aten = torch.ops.aten

Atom = tuple[str, int]
Label = tuple[Atom, ...]

VIEWS = {aten.view.default, aten._unsafe_view.default, aten.reshape.default,
         aten.flatten.using_ints, aten.unflatten.int}
PERMUTES = {aten.permute.default, aten.transpose.int, aten.t.default,
            aten.swapaxes.default, aten.movedim.int}
SQUEEZES = {aten.squeeze.default, aten.squeeze.dim, aten.squeeze.dims,
            aten.unsqueeze.default}
COPIES = {aten.expand.default, aten.repeat.default, aten.tile.default,
          aten.repeat_interleave.self_int, aten.expand_as.default}
MIXERS = {aten.linear.default, aten.addmm.default, aten.mm.default,
          aten.matmul.default, aten.bmm.default, aten.einsum.default,
          aten.index_select.default, aten.gather.default,
          aten.index.Tensor, aten.take.default, aten.embedding.default}
REDUCE = {aten.mean.dim, aten.sum.dim_IntList, aten.amax.default,
          aten.amin.default, aten.max.dim, aten.min.dim,
          aten.logsumexp.default, aten.std.correction, aten.var.correction}
WHOLE = {aten.mean.default, aten.sum.default, aten.max.default,
         aten.min.default}
AVERAGES = {aten.mean.dim, aten.sum.dim_IntList, aten.mean.default,
            aten.sum.default}
POOL_AVERAGES = {aten.avg_pool2d.default, aten.adaptive_avg_pool2d.default,
                 aten._adaptive_avg_pool2d.default, aten.avg_pool1d.default,
                 aten.adaptive_avg_pool1d.default}


def _shape(v) -> tuple[int, ...] | None:
    return tuple(int(s) for s in v.shape) if torch.is_tensor(v) else None


def _val(n) -> torch.Tensor | None:
    v = n.meta.get("val") if isinstance(n, fx.Node) else None
    if isinstance(v, (tuple, list)):
        v = v[0] if v and torch.is_tensor(v[0]) else None
    return v if torch.is_tensor(v) else None


def _mixed(shape: tuple[int, ...]) -> list[Label]:
    return [((("1" if s == 1 else "X"), s),) for s in shape]


def _size(label: Label) -> int:
    return math.prod(s for _, s in label)


def _reshape(labels: list[Label], out: tuple[int, ...]) -> list[Label]:
    """Atoms of `labels` regrouped into dims of sizes `out`, where the
    boundaries line up; "X" where they do not."""
    atoms = [a for lab in labels for a in lab if a[1] != 1]
    result: list[Label] = []
    i = 0
    for size in out:
        if size == 1:
            result.append((("1", 1),))
            continue
        took: list[Atom] = []
        while i < len(atoms) and math.prod(s for _, s in took) < size:
            took.append(atoms[i])
            i += 1
        if math.prod(s for _, s in took) != size:
            return _mixed(out)
        result.append(tuple(took))
    return result if i == len(atoms) else _mixed(out)


def _dims(dims, rank: int) -> list[int]:
    if dims is None:
        return list(range(rank))
    if isinstance(dims, int):
        dims = [dims]
    return sorted({d % rank for d in dims}) if rank else []


def reduced_dims(n: fx.Node) -> list[int] | None:
    """The input dims an average (or a pool to one value per channel)
    reduces; None if it is not such a reduction."""
    src = n.args[0] if n.args else None
    v, out = _val(src), _val(n)
    if v is None or out is None:
        return None
    rank = v.dim()
    if n.target in (aten.mean.dim, aten.sum.dim_IntList):
        dims = n.args[1] if len(n.args) > 1 else n.kwargs.get("dim")
        return _dims(dims, rank)
    if n.target in (aten.mean.default, aten.sum.default):
        return list(range(rank))
    if n.target in POOL_AVERAGES:
        k = 2 if "2d" in str(n.target) else 1
        if all(s == 1 for s in out.shape[rank - k:]):
            return list(range(rank - k, rank))
    return None


def annotate(gm: fx.GraphModule) -> None:
    """Set node.meta["axes"] (a label per dim) on every tensor the image
    reaches; nodes.meta["val"] must hold shapes (sizes.annotate)."""
    labels: dict[fx.Node, object] = {}
    for n in gm.graph.nodes:
        if n.op == "placeholder":
            shape = _shape(_val(n)) or (4, 1, 28, 28)
            labels[n] = [(("B", shape[0]),), (("C", shape[1]),),
                         (("P", shape[2]),), (("P", shape[3]),)]
        elif n.op == "call_function":
            ins = [a for a in n.all_input_nodes if a in labels]
            if ins:
                labels[n] = _rule(n, labels)
        if n in labels:
            n.meta["axes"] = labels[n]


def _first(n: fx.Node, labels: dict) -> tuple[fx.Node | None, list | None]:
    """The image input an op's output is shaped like (the map, not a
    per-channel scale broadcast over it), else its first image input."""
    ins = [a for a in n.all_input_nodes if isinstance(labels.get(a), list)]
    out = _shape(_val(n))
    for a in ins:
        if _shape(_val(a)) == out:
            return a, labels[a]
    return (ins[0], labels[ins[0]]) if ins else (None, None)


def _rule(n: fx.Node, labels: dict):
    out = _val(n)
    if n.target is operator.getitem:
        src = labels.get(n.args[0])
        if isinstance(src, tuple) and isinstance(n.args[1], int) \
                and n.args[1] < len(src):
            return src[n.args[1]]
        return _mixed(_shape(out)) if out is not None else None
    mv = n.meta.get("val")
    if isinstance(mv, (tuple, list)):  # several outputs: each like the first
        src, lab = _first(n, labels)
        each = []
        for t in mv:
            s = _shape(t)
            each.append(lab if s is not None and lab is not None and
                        s == _shape(_val(src)) else
                        _keep_size(lab, s) if s is not None else None)
        return tuple(each)
    if out is None:
        return None
    shape = _shape(out)
    src, lab = _first(n, labels)
    if lab is None:
        return _mixed(shape)
    in_shape = _shape(_val(src))
    t = n.target
    if t in VIEWS:
        return _reshape(lab, shape)
    if t in PERMUTES:
        return _permute(n, lab, shape)
    if t in SQUEEZES:
        return _reshape(lab, shape)
    if t is aten.select.int and len(lab) == len(shape) + 1:
        return [d for i, d in enumerate(lab) if i != n.args[1] % len(lab)]
    if t in COPIES:
        return _mixed(shape) if in_shape is None or len(in_shape) != len(
            shape) else [lab[i] if in_shape[i] == shape[i] else
                         (("X", shape[i]),) for i in range(len(shape))]
    if t in MIXERS:
        if t is aten.addmm.default or t is aten.linear.default or (
                len(shape) == len(lab) and _only_last(n, labels)):
            return [*lab[:-1], (("X", shape[-1]),)] if len(shape) == len(
                lab) else _mixed(shape)
        return _mixed(shape)
    if t in REDUCE or t in WHOLE:
        return _reduce(n, lab, shape)
    if in_shape == shape:
        return _combine(n, labels, lab)
    if in_shape is not None and len(in_shape) == len(shape):
        return _keep_size(lab, shape)
    return _mixed(shape)


def _only_last(n: fx.Node, labels: dict) -> bool:
    """A matmul with one image tensor: it mixes the last axis only."""
    return sum(isinstance(labels.get(a), list)
               for a in n.all_input_nodes) == 1 and labels.get(
                   n.args[0]) is not None


def _keep_size(lab: list[Label] | None, shape) -> list[Label] | None:
    """Same rank, new sizes (a conv, a pool, a slice): each dim keeps its
    kind if it had one atom, else it is mixed."""
    if lab is None or shape is None:
        return None
    out = []
    for old, s in zip(lab, shape, strict=False):
        if s == _size(old):
            out.append(old)
        elif s == 1:
            out.append((("1", 1),))
        elif len(old) == 1 and old[0][0] != "1":
            out.append(((old[0][0], s),))
        else:
            out.append((("X", s),))
    return out


def _permute(n: fx.Node, lab: list[Label], shape) -> list[Label]:
    rank = len(lab)
    order = list(range(rank))
    if n.target is aten.permute.default:
        order = [d % rank for d in n.args[1]]
    elif n.target in (aten.transpose.int, aten.swapaxes.default):
        a, b = n.args[1] % rank, n.args[2] % rank
        order[a], order[b] = order[b], order[a]
    elif n.target is aten.t.default and rank == 2:
        order = [1, 0]
    else:
        return _mixed(shape)
    return [lab[i] for i in order]


def _reduce(n: fx.Node, lab: list[Label], shape) -> list[Label]:
    rank = len(lab)
    if n.target in WHOLE:
        return []
    dims = n.args[1] if len(n.args) > 1 else n.kwargs.get("dim")
    dims = _dims(dims, rank)
    keep = bool(n.args[2]) if len(n.args) > 2 else bool(
        n.kwargs.get("keepdim", False))
    out = [(("1", 1),) if i in dims else lab[i] for i in range(rank)] \
        if keep else [lab[i] for i in range(rank) if i not in dims]
    return out if len(out) == len(shape) else _mixed(shape)


def _combine(n: fx.Node, labels: dict, lab: list[Label]) -> list[Label]:
    """An op that keeps the shape: the labels of its image inputs, where
    they agree (a residual add of two maps keeps positions)."""
    others = [labels[a] for a in n.all_input_nodes
              if isinstance(labels.get(a), list) and len(labels[a]) ==
              len(lab)]
    return [lab[i] if all(o[i] == lab[i] or _size(o[i]) == 1
                          for o in others) else
            ((("X", _size(lab[i])),)) for i in range(len(lab))]


def global_average(n: fx.Node) -> bool:
    """Is `n` an average (or sum) over every position of its input, and
    over nothing else? (the module's docstring)"""
    if n.op != "call_function" or not (n.target in AVERAGES or n.target in
                                       POOL_AVERAGES) or not n.args:
        return False
    src = n.args[0]
    lab = src.meta.get("axes") if isinstance(src, fx.Node) else None
    dims = reduced_dims(n)
    if not isinstance(lab, list) or dims is None:
        return False
    cut = [a for i in dims for a in lab[i] if a[1] != 1]
    kept = [a for i, d in enumerate(lab) if i not in dims for a in d]
    positions = math.prod(s for k, s in cut if k == "P")
    return (bool(cut) and all(k == "P" for k, _ in cut) and positions > 1
            and not any(k == "P" for k, _ in kept)
            and any(k == "B" for k, _ in kept))
