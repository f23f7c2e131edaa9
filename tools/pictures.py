"""The lessons' pictures, each drawn from code and committed records.

`python -m tools docs` writes them to docs/assets/; a test fails when a
committed picture differs from what these functions draw. Each takes what
it shows from the library itself (the engine's own augment and schedule,
the reference networks and checkpoints, the summary's receptive field),
so a picture cannot drift from what training and grading do.
"""

from __future__ import annotations

import functools
import io
import math

import matplotlib
import torch
from torch import nn

from tinycnn.figure import png
from tinycnn.learner.summary import summarize
from tinycnn.learner.workspace import load_step
from tinycnn.paths import ROOT
from tinycnn.train import recipe as engine_recipe
from tinycnn.train import step as engine_step
from tinycnn.train.data import load_mnist
from tools import content

matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt

REF = ROOT / "benchmarks" / "results" / "reference-cpu"


def differs(old: bytes, new: bytes) -> str | None:
    """Why the picture `old` is not `new`, or None when they show the same.

    Pixels are compared, not bytes (another zlib writes other bytes), and a
    pixel counts as changed when a channel moves by more than a colour
    map's rounding (another CPU's last bit can move an image cell one
    level); a changed number, word, line or bar moves dozens."""
    import numpy as np
    from PIL import Image

    a, b = (np.asarray(Image.open(io.BytesIO(x)).convert("RGBA"), np.int16)
            for x in (old, new))
    if a.shape != b.shape:
        return f"size {a.shape[1]}x{a.shape[0]}, now {b.shape[1]}x{b.shape[0]}"
    changed = int((np.abs(a - b).max(-1) > 24).sum())
    if changed > 4:
        return f"{changed} of {a.shape[0] * a.shape[1]} pixels changed"
    return None


@functools.cache
def test_set() -> tuple[torch.Tensor, torch.Tensor]:
    """The test images and labels, read from disk once per build."""
    return load_mnist()[2:]


def digits(n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `n` test images (uint8) and labels: the same every time."""
    X, y = test_set()
    return X[:n], y[:n]


def reference(step: str) -> tuple[nn.Module, engine_recipe.Recipe]:
    """`step`'s reference network, untrained, and its recipe."""
    ref = load_step(ROOT / "solutions" / step)
    return ref.model.Net(), ref.train.recipe()


def schedule(step: str) -> bytes:
    """The learning rate of every batch of `step`'s recipe."""
    _, r = reference(step)
    batches = math.ceil(60_000 / r.batch_size)
    lrs = [lr for lr, _ in engine_recipe.schedule_rows(r, batches)[:-1]]
    fig, ax = plt.subplots(figsize=(7, 2.4))
    ax.plot([i / batches for i in range(len(lrs))], lrs, lw=1.2)
    ax.set(xlabel="epoch", ylabel="learning rate",
           title=f"{step}: {r.schedule}, peak {r.lr}, {batches:,} batches "
                 f"of {r.batch_size} per epoch")
    ax.grid(alpha=0.3)
    return png(fig)


def augmentation(step: str, rows: int = 3) -> bytes:
    """Real test digits, then `rows` draws of the engine's own augment
    with `step`'s recipe (what training sees; the test set never is)."""
    _, r = reference(step)
    X, _ = digits()
    torch.manual_seed(0)
    views = [X.float() / 255] + [engine_step.augment(X.float() / 255, r)
                                 for _ in range(rows)]
    fig, axes = plt.subplots(len(views), len(X), figsize=(
        0.85 * len(X), 0.85 * len(views) + 0.4))
    for i, batch in enumerate(views):
        for j, img in enumerate(batch):
            ax = axes[i, j]
            ax.imshow(img[0].numpy(), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[i, 0].set_ylabel("original" if i == 0 else f"draw {i}")
    fig.suptitle(f"{step}: rotation up to ±{r.rotation:g}°"
                 + (f", shifts up to ±{r.translate * 28:.1f} px"
                    if r.translate else ""))
    return png(fig)


def layers(step: str) -> bytes:
    """The reference as boxes sized by C×H×W, with each layer's
    parameters and receptive field (what `summary --plot` draws)."""
    from tinycnn.course import STEPS
    from tinycnn.learner.summary import plot

    net, _ = reference(step)
    return png(plot(summarize(net), step, STEPS[step].max_params))


def receptive_field(step: str) -> bytes:
    """The receptive field of the last map's centre unit, drawn on a digit
    (the last layer before the global pool or the flattening)."""
    net, _ = reference(step)
    rows = summarize(net)
    last = [row for row in rows if row.rf is not None and len(row.shape) == 3
            and row.shape[1] > 1][-1]
    X, y = digits(1)
    fig, ax = plt.subplots(figsize=(3.4, 3.6))
    ax.imshow(X[0, 0].numpy(), cmap="gray_r", extent=(0, 28, 28, 0))
    half = last.rf / 2
    ax.add_patch(plt.Rectangle((14 - half, 14 - half), last.rf, last.rf,
                               fill=False, color="C3", lw=2))
    ax.set_xlim(min(0, 14 - half) - 1, max(28, 14 + half) + 1)
    ax.set_ylim(max(28, 14 + half) + 1, min(0, 14 - half) - 1)
    h, w = last.shape[1:]
    ax.set_title(f"{step}: one unit of the last {h}×{w} map\n"
                 f"sees {last.rf}×{last.rf} pixels", fontsize=10)
    return png(fig)


def field_goal(n: int = 6) -> bytes:
    """How wide a window must be to see a whole digit, measured on the
    test set, drawn on a few digits (no network's design in it)."""
    X, _ = test_set()
    ink = X[:, 0] > 0

    def extent(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.arange(28).expand_as(m)
        lo = torch.where(m, idx, 28).min(1).values
        return lo, torch.where(m, idx, -1).max(1).values - lo + 1

    top, h = extent(ink.any(2))
    left, w = extent(ink.any(1))
    side = torch.maximum(h, w)
    fig, axes = plt.subplots(1, n, figsize=(7, 1.9))
    for i, ax in enumerate(axes):
        ax.imshow(X[i, 0].numpy(), cmap="gray_r")
        ax.add_patch(plt.Rectangle((left[i] - 0.5, top[i] - 0.5), w[i], h[i],
                                   fill=False, color="C3", lw=1.5))
        ax.set_title(f"{int(w[i])}×{int(h[i])}", fontsize=11)
        ax.axis("off")
    fig.suptitle(f"the ink of every test digit fits in "
                 f"{int(side.max())}×{int(side.max())} pixels (median "
                 f"side {int(side.median())}); boxes: the ink's extent",
                 fontsize=10)
    return png(fig)


def filters(step: str) -> bytes:
    """conv1's trained 3×3 filters (top) and what each makes of a digit."""
    net, _ = reference(step)
    state = torch.load(REF / f"{step}.pt", map_location="cpu",
                       weights_only=True)
    state = {k.removeprefix("net."): v for k, v in state.items()}
    net.load_state_dict(state)
    net.eval()
    conv = next(m for m in net.modules() if isinstance(m, nn.Conv2d))
    X, _ = digits(1)
    with torch.no_grad():
        maps = conv(engine_step.prepare(X).contiguous())[0]
    w = conv.weight.detach()[:, 0]
    n = len(w)
    # bands of 8: a filter row above its map row, at a size that shows at
    # about 1:1 in the 720 px column (labels readable)
    cols, bands = 8, math.ceil(n / 8)
    fig, axes = plt.subplots(2 * bands, cols, figsize=(7, 2 * bands + 0.7),
                             squeeze=False)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    for i in range(n):
        row, col = 2 * (i // cols), i % cols
        lim = w[i].abs().max().item()
        axes[row, col].imshow(w[i].numpy(), cmap="RdBu_r", vmin=-lim,
                              vmax=lim)
        axes[row + 1, col].imshow(maps[i].numpy(), cmap="gray_r")
    for i in range(n, bands * cols):  # the last band's empty places
        axes[2 * (i // cols), i % cols].axis("off")
        axes[2 * (i // cols) + 1, i % cols].axis("off")
    for b in range(bands):
        axes[2 * b, 0].set_ylabel("filter", fontsize=12)
        axes[2 * b + 1, 0].set_ylabel("its map", fontsize=12)
    fig.suptitle(f"{step}: conv1's {n} trained filters (red +, blue -)\n"
                 "and their output on one digit, before BatchNorm",
                 fontsize=13)
    return png(fig)


def dropout_masks(p: float = 0.25) -> bytes:
    """Which activations Dropout and Dropout2d zero in one 4-channel map."""
    torch.manual_seed(0)
    ones = torch.ones(1, 4, 8, 8)
    kinds = {"Dropout (each value)": nn.Dropout(p),
             "Dropout2d (whole channels)": nn.Dropout2d(p)}
    fig, axes = plt.subplots(2, 4, figsize=(6.6, 4))
    for i, (title, layer) in enumerate(kinds.items()):
        kept = layer.train()(ones)[0] > 0
        for c in range(4):
            ax = axes[i, c]
            ax.imshow(kept[c].numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(f"channel {c + 1}", fontsize=10)
        axes[i, 0].set_ylabel(title.replace(" (", "\n("), fontsize=10)
    fig.suptitle(f"p = {p}: black values are zeroed (the rest are scaled "
                 f"by 1/(1-p) = {1 / (1 - p):.2f})", fontsize=10)
    return png(fig)


def batchnorm(step: str) -> bytes:
    """The spread of each layer's output at initialisation, on real
    digits, with BatchNorm and with every BatchNorm removed."""
    from benchmarks.nets import without_bn

    X = engine_step.prepare(digits(256)[0])
    fig, ax = plt.subplots(figsize=(7, 3))
    for label, bn in (("with BatchNorm", True),
                      ("without (conv biases back)", False)):
        torch.manual_seed(0)
        net = reference(step)[0]
        net = (net if bn else without_bn(net)).train()
        stds = {}
        for name, layer in net.named_children():
            layer.register_forward_hook(
                lambda _m, _a, out, name=name, stds=stds: stds.__setitem__(
                    name, out.float().std().item()))
        with torch.no_grad():
            net(X)
        ax.plot(list(stds), list(stds.values()), "o-", label=label)
    ax.set(yscale="log", ylabel="std of the layer's output",
           title=f"{step} at initialisation (before any training), "
                 "256 test digits")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=10)
    return png(fig)


def idea(step: str) -> bytes:
    """The step's idea as boxes and arrows (docs/lessons.yml's `ideas`): a
    box per stage (as tall as the stage says), what comes out of it under
    it, rows top to bottom."""
    title, lines = content.ideas()[step]
    per_line = max(len(x) for x in lines)
    # a line's height: its box, then the longest text under a box
    pitch = 1.05 + 0.2 * max(s.out.count("\n") + 1 for x in lines for s in x)
    fig = plt.figure(figsize=(7, 0.55 + pitch * len(lines)))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, per_line)
    ax.set_ylim(-pitch * len(lines) - 0.55, 0)
    ax.axis("off")
    ax.text(per_line / 2, -0.2, title, ha="center", va="top", fontsize=11,
            weight="bold", wrap=True)
    for row, stages in enumerate(lines):
        y = -0.95 - pitch * row
        for col, s in enumerate(stages):
            x, h = col + 0.5, 0.64 * s.height
            ax.add_patch(plt.Rectangle((x - 0.4, y - h / 2), 0.8, h,
                                       fc=s.colour, alpha=0.35, ec="k",
                                       lw=0.8))
            ax.text(x, y, s.box, ha="center", va="center", fontsize=10,
                    weight="bold")
            ax.text(x, y - 0.42, s.out, ha="center", va="top", fontsize=10,
                    linespacing=1.15)
            if col < len(stages) - 1:
                ax.annotate("", (x + 0.6, y), (x + 0.4, y),
                            arrowprops={"arrowstyle": "->", "lw": 1})
    return png(fig)
