"""What a network does to a (1, 28, 28) image, layer by layer, read from
the same traced graph the grader judges.

`summarize` exports the network with torch.export (as the grader's probe
does: channels_last weights and batch, train mode, so dropout shows) and
walks its ATen ops. Whatever the module structure (attributes, an
`nn.Sequential`, a `ModuleList` with a functional forward), every conv,
pool, global average and Linear starts a row, and so does a flatten of a
map wider than 1x1 (the number a Linear head must be built for); the ops
after it up to the next such op (BatchNorm, activations, dropout) join
its row. Parameters are counted as the grader counts them
(`network.weights`), each in the row of the first op that uses it.

The receptive field follows every op of the graph, branches too: for a
node, the widest field and the largest jump among its inputs, then

    rf  <- rf + (k - 1) * dilation * jump      (conv, pool)
    jump <- jump * stride

A global average without a window (mean, adaptive pooling) or a Linear
sees the whole image ("all").
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import fx, nn

from tinycnn.grader import network as nw
from tinycnn.grader import shape_table

aten = torch.ops.aten

FLATTEN = {aten.flatten.using_ints, aten.view.default, aten.reshape.default,
           aten._unsafe_view.default}
FOLLOWER = {aten.batch_norm.default: "BN", aten.relu.default: "ReLU",
            aten.relu_.default: "ReLU", aten.dropout.default: "Dropout",
            aten.feature_dropout.default: "Dropout2d",
            aten.add.Tensor: "add", aten.mul.Tensor: "mul"}


class TraceError(Exception):
    """torch.export could not trace forward: the grader cannot either."""


@dataclass
class Layer:
    name: str                 # module path ("conv1", "features.4"), or
    #                           "forward: max_pool2d" for a functional op
    kind: str                 # what runs, e.g. "3×3 conv, BN, ReLU, Dropout2d"
    shape: tuple[int, ...]    # output shape without the batch dimension
    params: int               # weights this row uses, as the grader counts
    rf: int | None            # receptive field in pixels; None = whole image
    also: tuple = ()          # other shapes the row's ops give (a flatten)


def export(model: nn.Module, input_shape=(1, 28, 28)) -> dict[str, nw.Graph]:
    """Both modes of `model` as the grader traces them (on copies: the
    learner's model and its BatchNorm statistics are left as they were)."""
    model = copy.deepcopy(model)
    g = torch.Generator().manual_seed(0)
    # random, not zeros: a bias-free net maps zeros to zeros
    # the probe's batch, and like the probe a batch size export keeps free
    X = torch.randn(4, *input_shape, generator=g)
    try:
        device = next(model.parameters(), torch.zeros(())).device
        model.eval()
        with torch.no_grad():  # lazy layers get their shapes here
            model(X.to(device))
        model = model.cpu().to(memory_format=torch.channels_last)
        X = X.contiguous(memory_format=torch.channels_last)
        modules = {}
        for mode in ("train", "eval"):
            getattr(model, mode)()
            modules[mode] = torch.export.export(
                copy.deepcopy(model), (X,),
                dynamic_shapes=({0: torch.export.Dim.AUTO},)).module()
        # as the grader reads them: shapes found by running the ops,
        # values computed from numbers alone made constants (counted)
        graphs = nw.prepare(modules, [], seed=None,
                            image=tuple(input_shape))
    except Exception as e:  # the learner's forward: anything can happen
        raise TraceError(f"{type(e).__name__}: {str(e)[:600]}") from e
    return graphs


def _pair(v, default) -> int:
    """The first of an int-or-list argument (square kernels assumed)."""
    if v is None or v == []:
        return default
    return int(v[0] if isinstance(v, (list, tuple)) else v)


def _arg(n: fx.Node, i: int, default=None):
    return n.args[i] if len(n.args) > i else default


def _window(n: fx.Node) -> tuple[int, int, int] | None:
    """(kernel, stride, dilation) of a conv or pool, else None."""
    if n.target in nw.CONV:
        w = nw.val(n.args[1])
        k = int(w.shape[-1]) if w is not None else 1
        return (k, _pair(_arg(n, 3), 1), _pair(_arg(n, 5), 1))
    if nw.is_pool(n):
        k = _pair(_arg(n, 1), 1)
        dil = _pair(_arg(n, 4), 1) if n.target in nw.MAX_POOL else 1
        return (k, _pair(_arg(n, 2), k), dil)
    return None


def _starts_row(n: fx.Node) -> bool:
    if n.target in nw.CONV or nw.is_pool(n) or nw.is_global_average(n) \
            or n.target in nw.ADAPTIVE or n.target in nw.LINEAR:
        return True
    if n.target in FLATTEN and n.args and isinstance(n.args[0], fx.Node):
        src, out = nw.shape(n.args[0]), nw.shape(n)
        return (src is not None and out is not None and len(src) == 3
                and len(out) == 1 and src[1] * src[2] > 1)
    return False


def _describe(n: fx.Node) -> str:
    op = str(n.target).replace("aten.", "").split(".")[0]
    win = _window(n)
    if n.target in nw.CONV:
        k, s, _ = win
        return f"{k}×{k} conv" + (f" /{s}" if s > 1 else "")
    if nw.is_pool(n):
        return f"{op.split('_')[0]} pool {win[0]}×{win[0]}"
    if nw.is_global_average(n) or n.target in nw.ADAPTIVE:
        return f"global average ({op})" if nw.is_global_average(n) else op
    if n.target in nw.LINEAR:
        return "Linear"
    if n.target in FLATTEN:
        return "flatten"
    return FOLLOWER.get(n.target, op)


def _path(n: fx.Node) -> str:
    stack = n.meta.get("nn_module_stack") or {}
    return list(stack.values())[-1][0] if stack else ""


def _name(i: int, heads: list[fx.Node]) -> str:
    """The shortest module path that holds this row's op and no other
    row's: "conv1" for conv1.0's conv; else the op in its module."""
    parts = _path(heads[i]).split(".") if _path(heads[i]) else []
    others = [_path(h).split(".") for j, h in enumerate(heads) if j != i]
    for k in range(1, len(parts) + 1):
        if not any(o[:k] == parts[:k] for o in others):
            return ".".join(parts[:k])
    op = str(heads[i].target).replace("aten.", "").split(".")[0]
    return f"{'.'.join(parts) or 'forward'}: {op}"


def summarize(model: nn.Module, input_shape=(1, 28, 28)) -> list[Layer]:
    """The rows of the table (TraceError if forward cannot be traced)."""
    return rows_of(export(model, input_shape))


def rows_of(graphs: dict[str, nw.Graph]) -> list[Layer]:
    """The rows of the table, from the traced graphs."""
    g = graphs["train"]
    image = g.gm.graph.find_nodes(op="placeholder")[0]
    field: dict[fx.Node, tuple[int | None, int]] = {image: (1, 1)}
    rows: list[Layer] = []
    heads: list[fx.Node] = []
    row_of: dict[fx.Node, int] = {}
    for n in g.nodes:
        ins = [a for a in n.all_input_nodes if a in field]
        if not ins:
            continue  # not computed from the image (a weight, a counter)
        rfs = [field[a][0] for a in ins]
        rf = None if None in rfs else max(rfs)
        jump = max(field[a][1] for a in ins)
        win = _window(n)
        if win and rf is not None:  # an avg_pool2d over the whole map too
            k, s, d = win
            rf, jump = rf + (k - 1) * d * jump, jump * s
        elif win is None and (nw.is_global_average(n) or n.target in
                              nw.ADAPTIVE or n.target in nw.LINEAR):
            rf = None
        field[n] = (rf, jump)
        shape = nw.shape(n)
        if _starts_row(n):
            heads.append(n)
            rows.append(Layer("", _describe(n), shape or (), 0, rf))
        elif rows and shape is not None:
            last = rows[-1]
            step = _describe(n)
            if shape != last.shape and shape not in last.also:
                last.also += (shape,)
                step += f" to {'×'.join(map(str, shape))}"
            last.kind += f", {step}"
        if rows:
            row_of[n] = len(rows) - 1
    for i, row in enumerate(rows):
        row.name = _name(i, heads)
    _count(graphs, rows, row_of)
    return rows


def _count(graphs: dict[str, nw.Graph], rows: list[Layer],
           row_of: dict[fx.Node, int]) -> None:
    """Each weight the grader counts goes to the row of the first op on
    the image's path that reads it; weights no row reads, to a last row."""
    gm = graphs["train"].gm
    attrs = {n.target: n for n in gm.graph.find_nodes(op="get_attr")}
    other = 0
    for name, size in nw.weights(graphs).items():
        node, seen, row = attrs.get(name), set(), None
        todo = [node] if node is not None else []
        while todo and row is None:
            m = todo.pop(0)
            if m in row_of:
                row = row_of[m]
            elif m not in seen:
                seen.add(m)
                todo += list(m.users)
        if row is None:
            other += size
        else:
            rows[row].params += size
    if other:
        rows.append(Layer("(not on the image's path)", "unused weights", (),
                          other, None))


def _cells(r: Layer) -> list[str]:
    return [r.name, r.kind, "×".join(map(str, r.shape)), f"{r.params:,}",
            "all" if r.rf is None else f"{r.rf}×{r.rf}"]


HEAD = ["layer", "what runs", "output C×H×W", "params", "receptive field"]


def markdown(rows: list[Layer]) -> str:
    lines = ["| " + " | ".join(HEAD) + " |", "|---|---|---|---:|---:|"]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    total = sum(r.params for r in rows)
    lines.append(f"| **total** | | | **{total:,}** | |")
    return "\n".join(lines)


def text(rows: list[Layer], extra: dict[int, str] | None = None) -> str:
    """A plain table; `extra` adds a last column by row index."""
    head = HEAD + (["your layer_shapes()"] if extra is not None else [])
    table = [head] + [_cells(r) + ([extra.get(i, "")] if extra is not None
                                   else []) for i, r in enumerate(rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    fmt = "  ".join(f"{{:{'>' if i in (3, 4) else '<'}{w}}}"
                    for i, w in enumerate(widths))
    out = [fmt.format(*row).rstrip() for row in table]
    out.insert(1, "-" * max(len(line) for line in out))
    out.append(f"total parameters: {sum(r.params for r in rows):,}")
    return "\n".join(out)


def beside(rows: list[Layer], declared: list[tuple[str, tuple]]
           ) -> tuple[dict[int, str], list[str]]:
    """The learner's layer_shapes() entries placed beside the rows, for
    reading (the grader's own verdict is shape_table.judge): an entry
    named like a row's module goes there; the others, in order, on the
    next row of their shape; a layer the shapes check needs that gets
    none is marked. Returns {row: text} and the entries that fit no
    row."""
    extra: dict[int, list[str]] = {}
    lost, at = [], 0
    named = {r.name: i for i, r in enumerate(rows)}
    for name, want in declared:
        i = named.get(shape_table.key(str(name)))
        if i is None:
            # the next row of its shape, or else the row just matched
            # (an extra entry for its BatchNorm or its flatten)
            i = next((j for j in [*range(at, len(rows)), at - 1]
                      if j >= 0 and tuple(want) in (rows[j].shape,
                                                    *rows[j].also)), None)
        if i is None or tuple(want) not in (rows[i].shape, *rows[i].also):
            got = "" if i is None else \
                f" (forward gives {'×'.join(map(str, rows[i].shape))})"
            lost.append(f"{name!r}: {tuple(want)}{got}")
            continue
        extra.setdefault(i, []).append(f"✓ {name}")
        at = max(at, i + 1)
    for i, row in enumerate(rows):  # a layer the shapes check needs
        if i not in extra and not row.kind.startswith(("flatten", "unused")):
            extra[i] = ["✗ no entry"]
    return {i: ", ".join(v) for i, v in sorted(extra.items())}, lost


def plot(rows: list[Layer], title: str, budget: int | None = None):
    """The network as boxes, left to right, in lines of at most 7 layers
    (as even as they can be: no line left mostly blank): each
    box's height follows the map's H (W for a vector), its width the
    channels; under it the layer's name, output C×H×W, parameters and
    receptive field. A matplotlib Figure, made without pyplot: it leaves a
    notebook's or a script's backend alone."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Polygon, Rectangle

    rows = [row for row in rows if row.shape]
    lines = max(1, -(-len(rows) // 7))
    per_line = max(1, -(-len(rows) // lines))
    fig = Figure(figsize=(7, 2.25 * lines + 0.5))
    fig.set_layout_engine("none")  # laid out by hand: boxes on a grid
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, per_line)
    ax.set_ylim(-2.25 * lines - 0.5, 0)
    ax.axis("off")
    top_c = max([row.shape[0] for row in rows if len(row.shape) == 3]
                + [1])
    total = sum(row.params for row in rows)
    head = f"{title}: {total:,} parameters"
    if budget:
        head += f" of {budget:,} allowed ({budget - total:,} left)"
    ax.text(per_line / 2, -0.15, head, ha="center", va="top", fontsize=11,
            weight="bold")
    for i, row in enumerate(rows):
        line, col = divmod(i, per_line)
        x, base = col + 0.5, -0.5 - 2.25 * line - 1.05
        c = row.shape[0]
        if len(row.shape) == 3:
            height = 0.12 + 0.9 * row.shape[1] / 28
            width = 0.08 + 0.42 * c / top_c
        else:  # a vector: a column as tall as its length, up to 28×28
            height, width = 0.12 + 0.9 * min(c, 784) / 784, 0.06
        d = min(0.12, height / 3)  # the box's depth, drawn in perspective
        x0, y0 = x - width / 2 - d / 2, base - height / 2
        color = COLORS[_family(row.kind)]
        ax.add_patch(Polygon([(x0, y0 + height), (x0 + d, y0 + height + d),
                              (x0 + width + d, y0 + height + d),
                              (x0 + width, y0 + height)], closed=True,
                             fc=color, alpha=0.35, ec="k", lw=0.6))
        ax.add_patch(Polygon([(x0 + width, y0), (x0 + width + d, y0 + d),
                              (x0 + width + d, y0 + height + d),
                              (x0 + width, y0 + height)], closed=True,
                             fc=color, alpha=0.55, ec="k", lw=0.6))
        ax.add_patch(Rectangle((x0, y0), width, height, fc=color, alpha=0.8,
                               ec="k", lw=0.6))
        rf = "all" if row.rf is None else f"{row.rf}×{row.rf}"
        name = row.name.removeprefix("forward: ")
        ax.text(x, base + 0.62, name, ha="center", va="bottom",
                fontsize=10 if len(name) < 12 else 9, weight="bold")
        ax.text(x, base - 0.55, f"{'×'.join(map(str, row.shape))}\n"
                f"{row.params:,} params\nsees {rf}", ha="center", va="top",
                fontsize=9, linespacing=1.15)
        if col < per_line - 1 and i < len(rows) - 1:
            ax.annotate("", (x + 0.66, base), (x + 0.36, base),
                        arrowprops={"arrowstyle": "->", "lw": 0.8})
    shown = list(dict.fromkeys(_family(row.kind) for row in rows))
    fig.legend(handles=[Rectangle((0, 0), 1, 1, fc=COLORS[f], alpha=0.8,
                                  ec="k", lw=0.6, label=f) for f in shown],
               loc="upper center", bbox_to_anchor=(0.5, 1 - 0.5 / (
                   2.25 * lines + 0.5)), ncol=len(shown), fontsize=9,
               frameon=False)
    return fig


COLORS = {"conv": "C0", "pool": "C1", "global average": "C2",
          "Linear": "C4", "flatten": "C7"}


def _family(kind: str) -> str:
    """What a row's first op is, for the picture's colours."""
    first = kind.split(",")[0]
    return next((f for f in ("global average", "conv", "pool", "Linear")
                 if f in first), "global average" if "adaptive" in first
                else "flatten")
