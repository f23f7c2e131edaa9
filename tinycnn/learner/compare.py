"""`python -m tinycnn compare A B --seeds N`: the learner's own evidence.

Trains two step folders on the same seeds, the way `python train.py` and
the grader do (each folder's code runs once, sandboxed, in the probe; what
trains is the network it exported, from the grader's starting weights),
then prints the lessons' table: each seed, the spreads, the wins and
losses seed by seed with their sign test, and the verdict by the rule the
lessons use (tinycnn/evidence.py). B is the change, A the baseline.

Resumable: each run is kept as a signed record under the folder's runs
(runs/steps/i3/seeds/s2/), and a record of the same code, traced network,
recipe and seed is reused, so an interrupted comparison picks up where it
stopped and a second comparison against the same baseline trains only
the new folder.
"""

from __future__ import annotations

import functools
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from tinycnn import evidence
from tinycnn.course import STEPS, duration
from tinycnn.grader import network, trainer
from tinycnn.grader.submission import fingerprint_of
from tinycnn.paths import run_dir
from tinycnn.sandbox import probe
from tinycnn.train import records
from tinycnn.train.recipe import Diverged


@dataclass
class Side:
    """One folder of the comparison: its probe, once, and its seeds' runs."""
    folder: Path
    result: probe.Result
    accs: dict[int, float | None] = field(default_factory=dict)
    per_run_s: float | None = None  # the first run's estimate, or its time

    def out(self, seed: int) -> Path:
        return run_dir(self.folder) / "seeds" / f"s{seed}"

    @functools.cached_property
    def _fingerprint(self) -> dict:
        """This folder's fingerprint, once: its code, traced network and
        weight count do not change with the seed, only the recipe's seed."""
        recipe = trainer.probed_recipe(self.result)
        graphs = network.load(self.result.out, recipe.seed)
        return fingerprint_of(self.folder, graphs, recipe)

    def recorded(self, seed: int) -> dict | None:
        """A signed record of exactly this run (code, network, recipe and
        seed), or None: a changed file or recipe trains again."""
        found = records.load(self.out(seed), signed=True)
        if found is None:
            return None
        want = {**self._fingerprint,
                "recipe": {**self._fingerprint["recipe"], "seed": seed}}
        record = found[0]
        return record if all(record.get(k) == v for k, v in want.items()) \
            else None


class CompareError(Exception):
    """A folder cannot be compared; the message says why."""


def run(a: Path, b: Path, seeds: list[int], device: torch.device,
        say: Callable[[str], None] = print) -> evidence.Paired:
    """Train A and B on `seeds` (reusing finished runs) and return the
    paired result: B against A."""
    if not seeds:
        raise CompareError("no seeds to run")
    sides = []
    for folder in (a, b):
        folder = Path(folder).resolve()
        if not (folder / "model.py").is_file():
            raise CompareError(f"{folder} is not a step folder (no model.py)")
        result = probe.run(folder)
        try:
            trainer.probed_recipe(result)
        except trainer.StepError as e:
            raise CompareError(f"{folder.name} ({folder}): {e}") from None
        sides.append(Side(folder, result))
    try:
        _plan(sides, seeds, say)
        for seed in seeds:
            for side in sides:
                side.accs[seed] = _one(side, seed, device, say, sides, seeds)
    finally:
        for side in sides:
            side.result.remove()
    return evidence.paired([sides[1].accs[s] for s in seeds],
                           [sides[0].accs[s] for s in seeds])


def _plan(sides: list[Side], seeds: list[int], say) -> None:
    todo = [(s.folder.name, seed) for seed in seeds for s in sides
            if s.recorded(seed) is None]
    say(f"compare: {len(seeds)} seed{'s' * (len(seeds) != 1)} "
        f"({', '.join(map(str, seeds))}) of {_name(sides[0])} (A) and "
        f"{_name(sides[1])} (B): {len(todo)} run{'s' * (len(todo) != 1)} to "
        f"train, {2 * len(seeds) - len(todo)} kept from before")


def _name(side: Side) -> str:
    return f"{side.folder.parent.name}/{side.folder.name}"


def _one(side: Side, seed: int, device: torch.device, say,
         sides: list[Side], seeds: list[int]) -> float | None:
    """One seed of one folder: its kept record, else trained now."""
    kept = side.recorded(seed)
    if kept is not None:
        say(f"{_name(side)} seed {seed}: kept from before, "
            f"{kept['final_test_acc']:.2f}%")
        side.per_run_s = side.per_run_s or kept.get("wall_s")
        return kept["final_test_acc"]

    def estimated(seconds: float) -> None:
        if side.per_run_s is None:
            side.per_run_s = seconds
            _left(sides, seeds, say)

    out = side.out(seed)
    with records.locked(out, lambda: say(
            f"{_name(side)} seed {seed}: another run is training it; "
            "waiting")):
        try:
            record, _ = trainer.train(
                side.folder, device, seed=seed, out=out, progress=False,
                result=side.result, on_epoch=say, on_estimate=estimated)
        except Diverged:
            say(f"{_name(side)} seed {seed}: diverged (the loss stopped "
                "being a number): it counts below every finished run")
            return None
    say(f"{_name(side)} seed {seed}: {record['final_test_acc']:.2f}%")
    return record["final_test_acc"]


def _left(sides: list[Side], seeds: list[int], say) -> None:
    """Once both folders' pace is known: the time for all the runs."""
    if all(s.per_run_s for s in sides):
        total = sum(s.per_run_s for s in sides) * len(seeds)
        say(f"compare: about {duration(sides[0].per_run_s)} a run of A, "
            f"{duration(sides[1].per_run_s)} of B: all {2 * len(seeds)} "
            f"runs about {duration(total)} on this machine (finished ones "
            "are kept: stop and run the same command again to go on)")


def table(a: Path, b: Path, seeds: list[int], result: evidence.Paired,
          mark: float | None) -> str:
    """The lessons' table for one change: per seed, the spreads, the
    paired count and the verdict."""
    def cell(x: float | None) -> str:
        return "diverged" if x is None else f"{x:.2f}"

    rows = [f"| seed | A: {a} | B: {b} | B - A |", "|---:|---:|---:|---:|"]
    for seed, x, y in zip(seeds, result.base, result.new, strict=True):
        diff = "" if x is None or y is None else f"{y - x:+.2f}"
        rows.append(f"| {seed} | {cell(x)} | {cell(y)} | {diff} |")
    for what, f in (("min", min), ("mean", statistics.mean), ("max", max)):
        row = [f(done) if (done := [v for v in side if v is not None])
               else None for side in (result.base, result.new)]
        rows.append(f"| {what} | {cell(row[0])} | {cell(row[1])} | |")
    lines = ["\n".join(rows), ""]
    if mark is not None:
        lines.append("passed the {0} % mark: A {1} of {3}, B {2} of {3}".format(
            mark, *(sum(v is not None and v >= mark for v in side)
                    for side in (result.base, result.new)), result.n))
    diff = result.mean_difference
    lines += [
        "seed by seed, B against A: " + result.statistic
        + (f"; mean difference {diff:+.3f} points" if diff is not None
           else ""),
        f"verdict (the lessons' rule: tinycnn/evidence.py): "
        f"{result.verdict}",
        "(a verdict on these seeds and this test set: 0.01 points is one "
        "of the 10,000 test images)"]
    return "\n".join(lines)


def main(a: Path, b: Path, seeds: list[int], device: torch.device) -> int:
    try:
        result = run(a, b, seeds, device)
    except (CompareError, trainer.StepError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: the finished runs are kept; the same command "
              "goes on from there", file=sys.stderr)
        return 130
    step = Path(a).resolve().name
    mark = STEPS[step].pass_acc if step in STEPS else None
    print()
    print(table(Path(a), Path(b), seeds, result, mark))
    return 0
