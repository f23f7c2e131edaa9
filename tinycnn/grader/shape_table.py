"""Does the learner's layer_shapes() table describe the traced network?

The rule (course.CHECKS["shapes"]): the table is right about every layer
it names, and covers every conv, pool and Linear. Entries are matched to
what forward computes:

- by name, where an entry's name is a module's path ("conv1", "block.0"):
  it states that module's output (its last op), or the output of a conv,
  pool or Linear inside it, wherever it stands in the table;
- by order otherwise: the other entries, in their order, each state the
  output of some op of forward, in forward order.

Forward splits into segments, one per conv, pool, global average and
Linear (the layer and the ops after it up to the next one: BatchNorm,
activations, dropout, a flatten). An entry covers the segment of the op it
states; every segment must be covered. So extra entries that are right
(a BatchNorm's output, a block's output, the flattened map) are fine, in
the table's order or under their module's name; a missing layer or a
wrong shape fails with what forward really computes there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import fx

from tinycnn.grader import network as nw


@dataclass
class Verdict:
    ok: bool
    message: str = ""   # why not, for the learner
    tier: int = 1       # which hint of the shapes check fits


def _ordinal(i: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(i, f"{i}th")


def layers(ev: nw.Graph) -> list[fx.Node]:
    """The layers the table must cover: convs, pools, Linears, in order."""
    kinds = nw.CONV | nw.MAX_POOL | nw.AVG_POOL | nw.ADAPTIVE | nw.LINEAR
    return [n for n in ev.nodes if n.target in kinds
            or nw.is_global_average(n)]


def _on_path(ev: nw.Graph) -> list[fx.Node]:
    """The input, then every op whose output depends on the image and has
    a shape: what an entry may describe."""
    inp = ev.gm.graph.find_nodes(op="placeholder")[0]
    reached, out = {inp}, [inp]
    for n in ev.nodes:
        if any(a in reached for a in n.all_input_nodes):
            reached.add(n)
            if nw.shape(n) is not None:
                out.append(n)
    return out


def _modules(ops: list[fx.Node]) -> dict[str, list[int]]:
    """{module path: the indices in `ops` of its ops} for modules called
    once (their ops one contiguous run)."""
    runs: dict[str, list[int]] = {}
    for i, n in enumerate(ops):
        for path, _ in (n.meta.get("nn_module_stack") or {}).values():
            if path:
                runs.setdefault(path, []).append(i)
    return {p: ix for p, ix in runs.items() if ix[-1] - ix[0] + 1 == len(ix)}


def key(name: str) -> str:
    """'features[3]' -> 'features.3': how a learner may write a path."""
    return name.replace("[", ".").replace("]", "").strip(".")


def judge(declared: list[tuple[str, tuple[int, ...]]],
          ev: nw.Graph) -> Verdict:
    real = layers(ev)
    ops = _on_path(ev)
    index = {n: i for i, n in enumerate(real)}
    segment, s = {}, -1
    for n in ops:
        s = index.get(n, s)
        segment[n] = s
    if len(declared) < len(real):
        functional = next((_functional(n) for n in real if _functional(n)),
                          "")
        return Verdict(False, f"layer_shapes() has {len(declared)} entries; "
                       f"your forward runs {len(real)} layers (one entry "
                       f"each, in order): "
                       f"{_listed(real)}{functional}",
                       2)
    modules = _modules(ops)
    named: dict[int, int] = {}  # table index -> op index, for named entries
    for i, (name, want) in enumerate(declared):
        run = modules.get(key(name))
        if run is None:
            continue
        # the module's output, or else a layer inside it (a block whose
        # conv the learner meant): the latest one of that shape
        fits = [p for p in run if nw.shape(ops[p]) == want and
                (p == run[-1] or ops[p] in real)]
        if not fits:
            out = ops[run[-1]]
            return Verdict(False, f"entry {name!r} ({_ordinal(i + 1)}): you "
                           f"declared {want}; your module {key(name)} gives "
                           f"{nw.shape(out)} (its last op: {nw.label(out)})")
        named[i] = run[-1] if run[-1] in fits else fits[-1]
    # named entries in forward order also place the others between them
    places = [named[i] for i in sorted(named)]
    in_order = places == sorted(places)
    loose = []
    for i, (name, want) in enumerate(declared):
        if i in named:
            continue
        before = [j for j in named if j < i] if in_order else []
        after = [j for j in named if j > i] if in_order else []
        a, b = max(before, default=None), min(after, default=None)
        loose.append(Entry(
            i + 1, name, want, named[a] if before else 0,
            named[b] if after else len(ops) - 1,
            (declared[a][0] if before else None,
             declared[b][0] if after else None)))
    covered = {segment[ops[p]] for p in named.values()}
    need = [k for k in range(len(real)) if k not in covered]
    return _by_order(loose, ops, segment, need, real)


@dataclass
class Entry:
    """An entry that names no module: it may stand on ops lo..hi."""
    index: int
    name: str
    want: tuple[int, ...]
    lo: int
    hi: int
    between: tuple[str | None, str | None]  # the named entries around it


def _by_order(loose: list[Entry], ops, segment, need, real) -> Verdict:
    """Place the unnamed entries on ops in forward order (each on an op
    with its shape, within its bounds, never before the one before it) so
    that every segment in `need` gets one. A dynamic programme over the
    entries: reach[i] holds the ops entry i can stand on with every
    needed segment up to its own covered. Where it stands after entry
    i - 1 matters only through the latest such op at or before it (the
    latest covers the most), so each entry costs a sorted search over its
    candidate ops: linear in entries times ops, in numpy."""
    seg = np.array([segment[n] for n in ops], dtype=np.int64)
    by_shape: dict[tuple, list[int]] = {}
    for p, n in enumerate(ops):
        by_shape.setdefault(nw.shape(n), []).append(p)
    by_shape = {k: np.array(v, dtype=np.int64) for k, v in by_shape.items()}
    # after[s + 1]: the first needed segment above segment s (s >= -1)
    top = len(real) + 1
    after = np.full(top + 1, top, dtype=np.int64)
    needed, nxt = sorted(need), top
    for s in range(top - 1, -2, -1):
        after[s + 1] = nxt
        if s in need:
            nxt = s
    reach: list[np.ndarray] = []
    for i, e in enumerate(loose):
        cands = by_shape.get(e.want, np.empty(0, dtype=np.int64))
        cands = cands[(cands >= e.lo) & (cands <= e.hi)]
        if i == 0:
            ok = seg[cands] <= after[0]  # no needed segment before it
        else:
            prev = reach[-1]
            j = np.searchsorted(prev, cands, side="right") - 1
            q = prev[np.maximum(j, 0)]
            ok = (j >= 0) & (seg[cands] <= after[seg[q] + 1])
        here = cands[ok]
        if not len(here):
            return _wrong(loose, i, reach, ops, segment, need, real)
        reach.append(here)
    last = int(seg[reach[-1]].max()) if loose else -2
    missing = [k for k in needed if k > last]
    if not missing:
        return Verdict(True)
    k = missing[0]
    return Verdict(False, f"layer_shapes() has no entry for "
                   f"{nw.label(real[k])} {nw.shape(real[k])}"
                   f"{_functional(real[k])}, the "
                   f"{_ordinal(k + 1)} layer of your forward (one entry per "
                   "conv, pool and Linear, in order: "
                   f"{_listed(real)})", 2)


def _listed(real: list[fx.Node], limit: int = 12) -> str:
    shown = ", ".join(nw.label(n) for n in real[:limit])
    return shown + (f", and {len(real) - limit:,} more"
                    if len(real) > limit else "")


def _functional(n: fx.Node) -> str:
    """A functional call (F.max_pool2d, X.mean in forward) is a layer as
    well: learners leave those out of the table."""
    return (" (a functional call in forward is a layer too: it needs an "
            "entry)" if nw.where(n) == "forward" else "")


def _wrong(loose: list[Entry], i: int, reach, ops, segment, need,
           real) -> Verdict:
    """Entry i fits nowhere: say what forward computes where it stands."""
    e = loose[i]
    head = f"entry {e.name!r} ({_ordinal(e.index)}): you declared {e.want}"
    a, b = e.between
    if a or b:  # named entries around it pin where it stands
        there = sorted({nw.shape(ops[p]) for p in range(e.lo, e.hi + 1)},
                       key=str)
        where = (f"between your entries {a!r} and {b!r}" if a and b else
                 f"after your entry {a!r}" if a else
                 f"before your entry {b!r}")
        return Verdict(False, f"{head}; {where} your forward computes "
                       f"{', '.join(map(str, there))}")
    after = max((segment[ops[p]] for p in reach[i - 1]), default=-1) \
        if i else -1
    nxt = next((k for k in need if k > after), None)
    if nxt is not None:
        n = real[nxt]
        return Verdict(False, f"{head}; the {_ordinal(nxt + 1)} layer of "
                       f"your forward ({nw.label(n)}) gives {nw.shape(n)}"
                       f"{_functional(n)}")
    return Verdict(False, f"{head}, but nothing your forward computes there "
                   "has that shape (an extra entry must be right too)")
