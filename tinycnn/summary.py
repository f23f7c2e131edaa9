"""What a model does to a (1, 28, 28) image, layer by layer, from hooks.

Forward hooks on every leaf module record what actually ran, in order:
output shape, parameters and receptive field. The receptive field follows
the usual recurrence along that order (a chain of layers is assumed):

    rf  <- rf + (k - 1) * dilation * jump
    jump <- jump * stride

A global pooling or a Linear layer sees the whole image ("all").
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

GLOBAL = ("AdaptiveAvgPool", "AdaptiveMaxPool", "Linear", "Flatten")


@dataclass
class Layer:
    name: str                 # module name, e.g. "conv1" or "conv1.0"
    kind: str                 # class name(s), e.g. "Conv2d+BatchNorm2d+ReLU"
    shape: tuple[int, ...]    # output shape without the batch dimension
    params: int               # trainable parameters of this layer
    rf: int | None            # receptive field in pixels; None = whole image


def _pair(v) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def trace(model: nn.Module, input_shape=(1, 28, 28)) -> list[tuple]:
    """Run one forward pass; return (name, module, input, output) per leaf."""
    calls = []
    hooks = [
        m.register_forward_hook(
            lambda mod, args, out, name=name: calls.append(
                (name, mod, args[0] if args else None, out)))
        for name, m in model.named_modules()
        if name and not list(m.children())
    ]
    was_training = model.training
    model.eval()  # batch statistics of 2 images are no statistics
    try:
        with torch.no_grad():
            device = next(model.parameters(), torch.zeros(())).device
            # random, not zeros: a bias-free net maps zeros to zeros
            g = torch.Generator().manual_seed(0)
            model(torch.randn(2, *input_shape, generator=g).to(device))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return calls


def summarize(model: nn.Module, input_shape=(1, 28, 28),
              depth: int = 1) -> list[Layer]:
    """Leaf layers (depth=None) or layers grouped by name depth (1: top)."""
    rows: list[Layer] = []
    rf, jump = 1, 1
    for name, mod, _X, out in trace(model, input_shape):
        kind = type(mod).__name__
        if isinstance(mod, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            k, s = _pair(mod.kernel_size), _pair(mod.stride)
            d = _pair(getattr(mod, "dilation", 1))
            if rf is not None:
                rf += (k[0] - 1) * d[0] * jump
                jump *= s[0]
        elif kind.startswith(GLOBAL):
            rf = None
        params = sum(p.numel() for p in mod.parameters(recurse=False))
        shape = tuple(out.shape[1:]) if torch.is_tensor(out) else ()
        group = name if depth is None else ".".join(name.split(".")[:depth])
        if rows and rows[-1].name == group:
            last = rows[-1]
            last.kind += f"+{kind}"
            last.shape, last.params, last.rf = shape, last.params + params, rf
        else:
            rows.append(Layer(group, kind, shape, params, rf))
    return rows


def _cells(r: Layer) -> list[str]:
    return [r.name, r.kind, "×".join(map(str, r.shape)), f"{r.params:,}",
            "all" if r.rf is None else f"{r.rf}×{r.rf}"]


HEAD = ["layer", "type", "output C×H×W", "params", "receptive field"]


def markdown(rows: list[Layer]) -> str:
    lines = ["| " + " | ".join(HEAD) + " |", "|---|---|---|---:|---:|"]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in rows]
    total = sum(r.params for r in rows)
    lines.append(f"| **total** | | | **{total:,}** | |")
    return "\n".join(lines)


def text(rows: list[Layer]) -> str:
    table = [HEAD] + [_cells(r) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(HEAD))]
    fmt = "  ".join(f"{{:{'<' if i < 2 else '>'}{w}}}"
                    for i, w in enumerate(widths))
    out = [fmt.format(*row) for row in table]
    out.insert(1, "-" * len(out[0]))
    out.append(f"total parameters: {sum(r.params for r in rows):,}")
    return "\n".join(out)


def plot(rows: list[Layer], title: str):
    """The table as a picture: parameters per layer (bars), each with its
    output shape and receptive field. A matplotlib Figure, made without
    pyplot: it leaves a notebook's or a script's backend alone."""
    from matplotlib.figure import Figure

    rows = [row for row in rows if row.shape]
    fig = Figure(figsize=(7, 0.35 * len(rows) + 1))
    ax = fig.subplots()
    y = range(len(rows))[::-1]
    ax.barh(y, [row.params for row in rows], color="C0")
    top = max([row.params for row in rows] + [1])
    for yi, row in zip(y, rows, strict=True):
        rf = "all" if row.rf is None else f"{row.rf}×{row.rf}"
        ax.text(row.params + top * 0.01, yi,
                f"{row.params:,}  →  {'×'.join(map(str, row.shape))}"
                f"  (sees {rf})", va="center", fontsize=8)
    ax.set_yticks(list(y), [row.name for row in rows])
    ax.set_xlim(0, top * 1.7)
    ax.set(xlabel="parameters", title=f"{title}: "
           f"{sum(row.params for row in rows):,} parameters; output shape "
           "and receptive field beside each bar")
    return fig
