"""Where a design sits: parameters against final test accuracy for every
recorded design of a step, the budget and the pass mark as lines, and
(after a grade) the learner's run marked, with one sentence that says it.

`designs.json` beside this file is written by `python -m tools docs` from
every seeds table in benchmarks/results (tools/measured.py: designs), so
the map is refreshed with the records and ships with the student edition,
which has no benchmarks/. A design is one folder's network at one
parameter count and epoch count; its seeds make its spread. A design
"passes" here when the mean of its seeds reaches the step's mark (one
seed can land either side of it: the spread shows how far).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from tinycnn import figure
from tinycnn.course import STEPS

DESIGNS = Path(__file__).with_name("designs.json")
PICTURE = "map.png"  # beside a graded run's record (runs/steps/iN/)


@dataclass(frozen=True)
class Design:
    label: str           # the folder it ran ("reference" for solutions/iN)
    params: int
    epochs: int
    accs: tuple[float, ...]  # final test accuracy per seed, %
    diverged: int = 0        # seeds that ended without a network

    @property
    def mean(self) -> float:
        return statistics.mean(self.accs)


def designs(step: str, path: Path | dict = DESIGNS) -> list[Design]:
    """The recorded designs of `step` in the designs file at `path` (or in
    its content, already made: tools/designs.py), none when it is missing
    or unreadable: the map then says there is nothing to compare with."""
    try:
        table = path if isinstance(path, dict) else json.loads(
            path.read_text(encoding="utf-8"))
        rows = table.get(step) or []
        return [Design(r["label"], int(r["params"]), int(r["epochs"]),
                       tuple(float(a) for a in r["accs"]),
                       int(r.get("diverged", 0))) for r in rows if r["accs"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []


def sentence(step: str, mine: tuple[int, float] | None = None,
             path: Path | dict = DESIGNS) -> str:
    """What the map says, in one sentence: beside the learner's run
    (parameters, final accuracy) when given, else about the step."""
    spec = STEPS[step]
    found = designs(step, path)
    if not found:
        return f"{step}: no recorded designs to compare with"
    passing = sorted((d for d in found if d.mean >= spec.pass_acc),
                     key=lambda d: (d.params, -d.mean))
    if mine is None:
        if not passing:
            return (f"{len(found)} recorded designs of {step}; none passes "
                    "on the mean of its seeds")
        least = passing[0]
        return (f"{len(found)} recorded designs of {step}, {len(passing)} "
                f"pass on the mean of their seeds; the fewest parameters "
                f"among those: {_name(least)}")
    params, acc = mine
    fewer = [d for d in passing if d.params < params]
    higher = sum(d.mean > acc for d in found)
    head = (f"{len(fewer)} of {len(found)} recorded designs pass (on their "
            f"seeds' mean) with fewer parameters than your {params:,}"
            + (f"; the fewest is {_name(fewer[0])}" if fewer else ""))
    return head + (f"; {higher} end{'s' * (higher == 1)} higher on average "
                   f"than your {acc:.2f}%"
                   if higher else f"; none ends higher on average than "
                   f"your {acc:.2f}%")


def _name(d: Design) -> str:
    n = len(d.accs)
    return (f"{d.label} ({d.params:,} parameters, {d.mean:.2f}% mean over "
            f"{n} seed{'s' * (n != 1)})")


def draw(step: str, mine: tuple[int, float] | None = None,
         path: Path | dict = DESIGNS,
         others: list[tuple[int, float]] = ()) -> bytes:
    """The map as PNG bytes (2x, text readable on a phone): each design a
    numbered dot at its mean and a bar over its seeds' range, numbered in
    the list under it; the budget and the pass mark as dashed lines;
    `mine` a star, `others` (a class's graded runs) crosses."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spec = STEPS[step]
    found = sorted(designs(step, path), key=lambda d: (d.params, -d.mean))
    # the key under the map, in two columns: the picture keeps the
    # lessons' column width (tinycnn/figure.py) and its text its size
    rows = -(-len(found) // 2) + 1
    fig, (ax, key) = plt.subplots(
        2, 1, figsize=(7, 4.2 + 0.19 * rows),
        gridspec_kw={"height_ratios": [4.2, 0.19 * rows]})
    accs = [a for d in found for a in d.accs] + ([mine[1]] if mine else []) \
        + [a for _, a in others]
    top = max([*accs, spec.pass_acc]) + 0.08
    floor = min([*accs, spec.pass_acc]) - 0.08
    floor = max(floor, spec.pass_acc - 0.8)  # an outlier: an arrow, below
    x_all = [d.params for d in found] + ([mine[0]] if mine else []) + \
        [p for p, _ in others] + [spec.max_params]
    spread = max(x_all) - min(x_all) or spec.max_params
    count: dict[int, int] = {}
    for d in found:
        count[d.params] = count.get(d.params, 0) + 1
    same: dict[int, int] = {}
    for i, d in enumerate(found, 1):
        k = same[d.params] = same.get(d.params, -1) + 1
        # designs of one size side by side, not on top of each other
        # (within 10 % of the axis however many there are: their numbers
        # must not overlap)
        x = d.params + (k - (count[d.params] - 1) / 2) * spread * min(
            0.012, 0.1 / count[d.params])
        color = "tab:blue" if d.mean >= spec.pass_acc else "tab:gray"
        lo, hi = min(d.accs), max(d.accs)
        ax.plot([x, x], [max(lo, floor), min(hi, top)], color=color, lw=1.6)
        if lo < floor:
            ax.annotate("", (x, floor), (x, floor + 0.06),
                        arrowprops={"arrowstyle": "->", "color": color})
        y = min(max(d.mean, floor), top)
        ax.plot([x], [y], "o", color=color, ms=5)
        ax.annotate(str(i), (x, y), xytext=(3, 3 if k % 2 else -11),
                    textcoords="offset points", fontsize=9, color=color)
    if others:
        ax.plot([p for p, _ in others],
                [min(max(a, floor), top) for _, a in others], "x",
                color="tab:red", ms=8, mew=2,
                label=f"the class: {len(others)} graded runs")
        low = [p for p, a in others if a < floor]
        if low:  # off the bottom: where, and how many
            ax.plot(low, [floor] * len(low), "v", color="tab:red", ms=9)
            ax.text(min(x_all), floor + 0.02, f"▼ {len(low)} below "
                    f"{floor:.2f}%", color="tab:red", fontsize=9)
    if mine:
        ax.plot([mine[0]], [min(max(mine[1], floor), top)], "*",
                color="tab:red", ms=16, label=f"your run: {mine[0]:,}, "
                f"{mine[1]:.2f}%")
    if mine or others:
        ax.legend(loc="best", fontsize=10)
    ax.axhline(spec.pass_acc, color="tab:green", ls="--", lw=1)
    ax.axvline(spec.max_params, color="tab:orange", ls="--", lw=1)
    ax.text(spec.max_params, top, f" budget {spec.max_params:,}",
            color="tab:orange", fontsize=10, va="top", ha="right",
            rotation=90)
    ax.text(min(x_all), spec.pass_acc, f"mark {spec.pass_acc}%",
            color="tab:green", fontsize=10, va="bottom")
    ax.set_ylim(floor - 0.02, top)
    ax.set_xlabel("parameters", fontsize=11)
    ax.set_ylabel("final test accuracy, % (dot: mean; bar: seeds)",
                  fontsize=11)
    ax.set_title(f"{step}: recorded designs", fontsize=12)
    ax.tick_params(labelsize=10)
    ax.grid(alpha=0.3)
    key.axis("off")
    w = max([len(d.label[:22]) for d in found] + [6])
    lines = [f"{i:>2} {d.label[:22]:<{w}} {d.params:>6,} {d.mean:6.2f} "
             f"({len(d.accs)}{'+' + str(d.diverged) + 'x' if d.diverged else ''})"
             for i, d in enumerate(found, 1)]
    head = f"   {'design':<{w}} params  mean (seeds)"
    half = -(-len(lines) // 2)
    for col, part in enumerate((lines[:half], lines[half:])):
        if part:
            key.text(col / 2, 1, "\n".join([head, *part]),
                     family="monospace", va="top", fontsize=9,
                     transform=key.transAxes)
    return figure.png(fig)


def save(step: str, out: Path, mine: tuple[int, float] | None = None
         ) -> Path | None:
    """Draw the map into `out` (a PNG); None when it could not be written
    (a read-only folder: the sentence still says it)."""
    from tinycnn.paths import write_atomic

    try:
        write_atomic(out, draw(step, mine))
    except OSError:
        return None
    return out
