"""Deliberately broken versions of each step's reference, one mistake each.

Every mistake is an edit of that step's own solutions/iN/model.py, worked
out from the reference itself (its layer names, shape table and parameter
count), so each lesson shows its own layers and its own limits. The
project's tests prove that each fails exactly the check named here (and
the ones whose check is None, legitimate variants, fail none); the lessons
show what the grader says about each. An edit that no longer finds its
text raises, so a reference that changes cannot leave a stale mistake.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from tinycnn.course import STEPS
from tinycnn.learner.workspace import load_step
from tinycnn.paths import ROOT


@dataclass(frozen=True)
class Mistake:
    title: str        # the lesson's row: what the learner did
    check: str | None  # the one check it fails (None: it passes them all)
    model: str        # the edited model.py


def sub(pattern: str, repl: str, src: str, count: int = 1) -> str:
    """re.sub that must match `count` times (0: at least once)."""
    new, n = re.subn(pattern, repl, src, flags=re.M)
    if n == 0 or (count and n != count):
        raise ValueError(f"stale edit: {pattern!r} matched {n} times")
    return new


INIT = r"^(        super\(\).__init__\(\)\n)"
POOL1 = r"^(        X = self\.pool1\(X\).*\n)"  # forward's first pool


def no_bn(src: str) -> str:
    return sub(r"^ *nn\.BatchNorm2d\(\w+\),\n", "", src, count=0)


def no_drop(src: str) -> str:
    return sub(r"p_drop: float = [\d.]+\)", "p_drop: float = 0.0)", src)


def linear_head(src: str, shapes: dict, spare: int) -> str:
    """The GAP head swapped for a Linear over the flattened last map, the
    last conv thinned so the whole still fits the parameter limit."""
    names = list(shapes)
    last = names[names.index("gap") - 1]
    c, h, w = shapes[last]
    found = re.search(rf"self\.{last} = block\((\d+), {c},", src)
    if not found:
        raise ValueError(f"stale edit: no self.{last} = block(..., {c}, ...)")
    c_in = int(found.group(1))
    # what the head and the last block cost now, and per channel after
    freed = 9 * c_in * c + 2 * c + 10 * c + 10
    thin = (spare + freed - 10) // (9 * c_in + 2 + 10 * h * w)
    src = sub(rf"(self\.{last} = block\({c_in}, ){c},", rf"\g<1>{thin},",
              src)
    src = sub(r"^        self\.gap = .*\n", "", src)
    src = sub(r"self\.head = nn\.Conv2d\(\d+, 10, 1\)",
              f"self.head = nn.Linear({thin} * {h} * {w}, 10)", src)
    src = sub(r"^        X = self\.gap\(X\).*\n", "", src)
    src = sub(r"return self\.head\(X\)\.flatten\(1\)",
              "return self.head(X.flatten(1))", src)
    src = sub(rf'"{last}": \({c},', f'"{last}": ({thin},', src)
    src = sub(r'^ *"gap": .*\n', "", src)
    return sub(r'"head": \(10, 1, 1\)', '"head": (10,)', src)


def no_transitions(src: str, shapes: dict) -> str:
    """Every conv -> pool -> 1x1 transition(a, b) becomes conv -> pool: the
    conv before the pool makes the b channels itself, so what follows is
    unchanged and the network only gets smaller."""
    names = list(shapes)
    for trans, a, b in re.findall(r"self\.(trans\d+) = transition\((\d+), "
                                  r"(\d+)\)", src):
        pool = names[names.index(trans) - 1]
        conv = names[names.index(pool) - 1]
        if not pool.startswith("pool"):
            raise ValueError(f"stale edit: {trans} follows {pool}, not a pool")
        src = sub(rf"(self\.{conv} = block\(\d+, ){a},", rf"\g<1>{b},", src)
        for layer in (conv, pool):  # the shape table and forward's comment
            src = sub(rf'("{layer}": \(){a},', rf"\g<1>{b},", src)
            src = sub(rf"(X = self\.{layer}\(X\) +# \(B, ){a},",
                      rf"\g<1>{b},", src)
        src = sub(rf"^        self\.{trans} = .*\n", "", src)
        src = sub(rf"^        X = self\.{trans}\(X\).*\n", "", src)
        src = sub(rf'^ *"{trans}": .*\n', "", src)
    return src


@functools.cache
def mistakes(step: str) -> tuple[Mistake, ...]:
    """The mistakes of `step`'s lesson, made to its own reference."""
    spec = STEPS[step]
    src = (ROOT / "solutions" / step / "model.py").read_text()
    ref = load_step(ROOT / "solutions" / step).model
    shapes = ref.layer_shapes()
    params = sum(p.numel() for p in ref.Net().parameters())
    out = []

    def add(title: str, check: str | None, model: str) -> None:
        if check is None or check in spec.checks:
            out.append(Mistake(title, check, model))

    if "batchnorm" in spec.checks:
        add("no BatchNorm", "batchnorm", no_bn(src))
        add("a BatchNorm defined but never called", "batchnorm",
            sub(INIT, r"\1        self.bn = nn.BatchNorm2d(8)\n", src))
    if "dropout" in spec.checks:
        add("no dropout (p = 0)", "dropout", no_drop(src))
        add("F.dropout without training=self.training (on in eval mode)",
            "dropout", sub(POOL1, r"\1        X = nn.functional.dropout(X, "
                           r"0.1)\n", no_drop(src)))
        add("F.dropout with training=self.training passes", None,
            sub(POOL1, r"\1        X = nn.functional.dropout(X, 0.1, "
                r"self.training)\n", no_drop(src)))
    if "transitions" in spec.checks:
        add("no 1x1 transitions: the 3x3 conv before each pool makes the "
            "channels the next stage takes", "transitions",
            no_transitions(src, shapes))
    if "gap" in spec.checks:
        add("a Linear over the flattened last map instead of GAP", "gap",
            linear_head(src, shapes, spec.max_params - params))
        add("global max pooling instead of average", "gap",
            sub(r"nn\.AdaptiveAvgPool2d\(1\)", "nn.AdaptiveMaxPool2d(1)",
                src))
        add("GAP, then Linear(C, 10) instead of a 1x1 conv passes", None,
            sub(r'"head": \(10, 1, 1\)', '"head": (10,)',
                sub(r"return self\.head\(X\)\.flatten\(1\)",
                    "return self.head(X.flatten(1))",
                    sub(r"self\.head = nn\.Conv2d\((\d+), 10, 1\)",
                        r"self.head = nn.Linear(\1, 10)", src))))
    over = spec.max_params + 1
    add(f"{over:,} parameters, one over the limit", "params",
        sub(INIT, rf"\1        self.extra = nn.Parameter(torch.zeros("
                  rf"{over - params}))\n", src))
    # the shape table: the layer after the first pool, still at the size
    # before it would be right; this one is given at half that size
    after = list(shapes)[list(shapes).index("pool1") + 1]
    c, h, w = shapes[after]
    add(f"'{after}' in the shape table pooled once too often", "shapes",
        sub(rf'"{after}": \({c}, {h}, {w}\)',
            f'"{after}": ({c}, {h // 2}, {w // 2})', src))
    last = list(shapes)[-1]
    add("9 classes instead of 10", "output",
        sub(rf'"{last}": \(10,', f'"{last}": (9,',
            sub(r"(nn\.(?:Linear|Conv2d)\([^()\n]*), 10(, 1)?\)",
                r"\1, 9\2)", src)))
    if "self.fc(X.flatten(1))" in src:
        add("X.view(X.size(0), -1) on a channels_last batch", "builds",
            sub(r"self\.fc\(X\.flatten\(1\)\)",
                "self.fc(X.view(X.size(0), -1))", src))
    return tuple(out)
