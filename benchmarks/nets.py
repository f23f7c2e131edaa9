"""Networks of the structural variants: what no `Net` argument reaches.

Two kinds, both small: a reference's own network changed by a transform
(BatchNorm taken out, padding put in), or a layer list built from the
reference's own `block` and `transition`. `NETS[name](**kwargs)` builds
one; benchmarks/variants.py names which a variant uses.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from torch import nn

from tinycnn.learner.workspace import load_step
from tinycnn.paths import ROOT

# a variant's folder holds a copy of this file beside copies of the
# references (variants.folder): the grader's sandbox shows a step nothing
# outside its own folder
HERE = Path(__file__).resolve().parent
SOLUTIONS = (HERE if (HERE / "solutions").is_dir() else ROOT) / "solutions"


def reference(step: str):
    """The model module of solutions/<step>."""
    return load_step(SOLUTIONS / step).model


def without_bn(net: nn.Module) -> nn.Module:
    """Every BatchNorm becomes Identity and the conv before it gets its
    bias back, as a network written without BatchNorm would have."""
    for parent in net.modules():
        names = list(parent._modules)
        for prev, name in zip([None, *names], names, strict=False):
            if isinstance(parent._modules[name], nn.BatchNorm2d):
                conv = parent._modules[prev]
                parent._modules[prev] = nn.Conv2d(
                    conv.in_channels, conv.out_channels, conv.kernel_size,
                    conv.stride, conv.padding)
                parent._modules[name] = nn.Identity()
    return net


def relu_first(net: nn.Module) -> nn.Module:
    """Every conv -> BatchNorm -> ReLU becomes conv -> ReLU -> BatchNorm:
    the same weights, normalising what the ReLU lets through."""
    for m in net.modules():
        kids = list(m._modules)
        if (isinstance(m, nn.Sequential) and len(kids) >= 3
                and isinstance(m._modules[kids[1]], nn.BatchNorm2d)
                and isinstance(m._modules[kids[2]], nn.ReLU)):
            a, b = kids[1], kids[2]
            m._modules[a], m._modules[b] = m._modules[b], m._modules[a]
    return net


def padded(net: nn.Module, within: str = "") -> nn.Module:
    """Every 3x3 conv (under the layer named `within`, if given) pads by
    one: same weights, the maps keep their size."""
    for name, m in net.named_modules():
        if (isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)
                and name.startswith(within)):
            m.padding = (1, 1)
    return net


class Stack(nn.Module):
    """Layers from a list, named as a learner would (conv1, pool1, trans1,
    ...), ending in GAP and a 1x1 head to the 10 classes:

        ("conv", c_out)  the reference's 3x3 block   ("pool",)  2x2 max pool
        ("trans", c_out) the reference's 1x1 transition
        ("conv1x1", c_out)  a bare 1x1 conv, no BatchNorm or ReLU
    """

    def __init__(self, step: str, layers: list[tuple], p_drop: float) -> None:
        super().__init__()
        ref = reference(step)
        c, count = 1, {}
        for kind, *args in layers:
            prefix = "trans" if kind == "conv1x1" else kind
            count[prefix] = count.get(prefix, 0) + 1
            name = f"{prefix}{count[prefix]}"
            if kind == "conv":
                layer = ref.block(c, args[0], p_drop)
            elif kind == "trans":
                layer = ref.transition(c, args[0])
            elif kind == "conv1x1":
                layer = nn.Conv2d(c, args[0], 1, bias=False)
            else:
                layer = nn.MaxPool2d(2)
            c = args[0] if args else c
            self.add_module(name, layer)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Conv2d(c, 10, 1)

    def forward(self, X):
        for layer in self.children():
            X = layer(X)
        return X.flatten(1)


class Plain(nn.Module):
    """i0's layout with other widths: two 3x3 convs, a pool, two more, a
    pool, a linear head over the flattened 7x7 map (ReLU after each conv,
    as in i0)."""

    def __init__(self, widths: tuple[int, int, int, int]) -> None:
        super().__init__()
        a, b, c, d = widths
        self.conv1 = nn.Conv2d(1, a, 3, padding=1)
        self.conv2 = nn.Conv2d(a, b, 3, padding=1)
        self.pool1 = nn.MaxPool2d(2)
        self.conv3 = nn.Conv2d(b, c, 3, padding=1)
        self.conv4 = nn.Conv2d(c, d, 3, padding=1)
        self.pool2 = nn.MaxPool2d(2)
        self.fc = nn.Linear(d * 7 * 7, 10)

    def forward(self, X):
        X = self.pool1(self.conv2(self.conv1(X).relu()).relu())
        X = self.pool2(self.conv4(self.conv3(X).relu()).relu())
        return self.fc(X.flatten(1))


class Blocks(nn.Module):
    """i1's layout with other widths: two of the reference's blocks, a
    pool, two more, a pool, a linear head over the flattened 7x7 map."""

    def __init__(self, widths: tuple[int, int, int, int],
                 p_drop: float = 0.05) -> None:
        super().__init__()
        block = reference("i1").block
        a, b, c, d = widths
        self.conv1 = block(1, a, p_drop)
        self.conv2 = block(a, b, p_drop)
        self.pool1 = nn.MaxPool2d(2)
        self.conv3 = block(b, c, p_drop)
        self.conv4 = block(c, d, p_drop)
        self.pool2 = nn.MaxPool2d(2)
        self.fc = nn.Linear(d * 7 * 7, 10)

    def forward(self, X):
        X = self.pool1(self.conv2(self.conv1(X)))
        X = self.pool2(self.conv4(self.conv3(X)))
        return self.fc(X.flatten(1))


class TransFirst(nn.Module):
    """i2's reference with each 1x1 transition before its pool instead of
    after it: the same layers, the same count, the 1x1 at four times as
    many positions (and the pool then takes the max of mixed channels)."""

    def __init__(self, **kw) -> None:
        super().__init__()
        for name, layer in reference("i2").Net(**kw).named_children():
            self.add_module(name, layer)

    def forward(self, X):
        X = self.pool1(self.trans1(self.conv2(self.conv1(X))))
        X = self.pool2(self.trans2(self.conv4(self.conv3(X))))
        return self.fc(X.flatten(1))


class LinearHead(nn.Module):
    """i3's reference with nn.Linear after the global average instead of
    the 1x1 conv: the same inputs, outputs and weight count."""

    def __init__(self, **kw) -> None:
        super().__init__()
        for name, layer in reference("i3").Net(**kw).named_children():
            self.add_module(name, layer)
        # in the conv's place (the same slot in the module order)
        self.head = nn.Linear(self.head.in_channels, self.head.out_channels)

    def forward(self, X):
        for name, layer in self.named_children():
            if name == "head":
                X = X.flatten(1)
            X = layer(X)
        return X


def _stack(step: str, layers: list[tuple], p_drop: float):
    return lambda p_drop=p_drop: Stack(step, layers, p_drop)


# the seed README's i3 table: two pools, 1x1 convs each side of the second
_I3_TABLE = [("conv", 16), ("conv", 16), ("pool",)]

# i4's reference until Nov 2026 (7,848 weights); its ablations and first
# two margin searches ran on it
_I4_V1 = _stack("i4", [("conv", 10), ("conv", 10), ("conv", 14), ("pool",),
                       ("trans", 10), ("conv", 12), ("conv", 16),
                       ("conv", 16)], 0.01)

NETS: dict[str, Callable[..., nn.Module]] = {
    # i0's budget spent on the early convs: 18,810 weights against 17,950
    "i0-early": lambda: Plain((16, 16, 20, 20)),
    # i1's count (20,950) with a last map a third narrower: 20,947 weights,
    # a third of the head's moved into the convs
    "i1-smallhead": lambda **kw: Blocks((16, 23, 27, 16), **kw),
    "i2-transfirst": TransFirst,
    "i3-linear": LinearHead,
    "i4-v1": _I4_V1,
    "i1-nobn": lambda **kw: without_bn(reference("i1").Net(**kw)),
    "i4-nobn": lambda **kw: without_bn(_I4_V1(**kw)),
    "i4-pad": lambda **kw: padded(_I4_V1(**kw)),
    # transitions as bare 1x1 convs (i3a) or with BN and ReLU (i3b)
    "i3a": _stack("i3", [*_I3_TABLE, ("conv1x1", 12), ("conv", 28),
                         ("conv", 28), ("pool",), ("conv1x1", 32)], 0.05),
    "i3b": _stack("i3", [*_I3_TABLE, ("trans", 12), ("conv", 28),
                         ("conv", 28), ("pool",), ("trans", 32)], 0.05),
    "i4-pad6": lambda **kw: padded(_I4_V1(**kw), "conv6."),
    # the i3 layout (padded, two pools) thinned to 8K
    "i4-i3layout": _stack("i3", [("conv", 10), ("conv", 12), ("pool",),
                                 ("trans", 8), ("conv", 16), ("conv", 18),
                                 ("pool",), ("conv", 16)], 0.01),
    # i4 margin candidates (same 8K rule, unpadded): no 1x1 after the pool,
    # its weights spent on a wider conv4; or the pool after two convs, four
    # after it
    "i4-notrans": _stack("i4", [("conv", 10), ("conv", 10), ("conv", 12),
                                ("pool",), ("conv", 12), ("conv", 16),
                                ("conv", 16)], 0.01),
    "i4-pool2": _stack("i4", [("conv", 8), ("conv", 12), ("pool",),
                              ("conv", 12), ("conv", 14), ("conv", 14),
                              ("conv", 16)], 0.01),
    # third round: ReLU before BatchNorm; weights moved from the 26-22 px
    # convs to the last; one conv more after the pool (maps 9, 7, 5, 3)
    "i4-relubn": lambda **kw: relu_first(_I4_V1(**kw)),
    "i4-late": _stack("i4", [("conv", 8), ("conv", 8), ("conv", 12),
                             ("pool",), ("trans", 8), ("conv", 14),
                             ("conv", 16), ("conv", 20)], 0.01),
    "i4-deep": _stack("i4", [("conv", 8), ("conv", 10), ("conv", 12),
                             ("pool",), ("trans", 8), ("conv", 10),
                             ("conv", 12), ("conv", 14), ("conv", 18)],
                      0.01),
}
