"""The course's rules of evidence, in one place: what the lessons, the
README and the seeds tables may claim from the runs committed in
benchmarks/results, and which of those runs are of the current reference.
tools/docs.py renders with them; the tests import them. Nothing here
draws or writes."""

from __future__ import annotations

import dataclasses
import functools
import json

from tinycnn import evidence as rule
from tinycnn.paths import ROOT
from tools import content

RESULTS = ROOT / "benchmarks" / "results"
REF = RESULTS / "reference-cpu"
# the rule for one change over seeds is the learner's too (compare)
MIN_SEEDS = rule.MIN_SEEDS
# the margin bar a reference must meet (every step's pass rate rests on it)
BAR_SEEDS = 10      # seeds at least
BAR_EACH = 0.05     # every seed this far above the pass mark, at least
BAR_MEAN = 0.1      # and the mean this far above


def record(step: str) -> dict:
    """`step`'s committed reference run record."""
    return json.loads((REF / f"{step}.json").read_text(encoding="utf-8"))


def at_the_bar(accs: list[float], mark: float) -> str:
    """Whether final accuracies over seeds meet the margin bar: "yes", or
    "no: ..." / "fewer than N seeds" saying why not."""
    import statistics

    if min(accs) < mark + BAR_EACH:
        return f"no: a seed under {mark + BAR_EACH:.2f}"
    if len(accs) < BAR_SEEDS:
        return f"fewer than {BAR_SEEDS} seeds"
    return "yes" if statistics.mean(accs) >= mark + BAR_MEAN else "no: the mean"


def compare(new: list[float | None], base: list[float | None]
            ) -> rule.Paired:
    """This course's rule for one change over the same seeds, in order
    (None for a run that diverged): tinycnn/evidence.py."""
    return rule.paired(new, base)


def seed_runs(name: str, folder: str) -> dict[int, dict]:
    """{seed: run} of `folder` in a results log (`name`.json's runs, or
    `name`.jsonl's lines where no table was written)."""
    path = RESULTS / f"{name}.json"
    runs = (json.loads(path.read_text())["runs"] if path.exists() else
            [json.loads(line) for line in
             (RESULTS / f"{name}.jsonl").read_text().splitlines() if line])
    return {r["seed"]: r for r in runs if r["folder"] == folder}


def _recipe_key(fields: dict) -> dict:
    """A recipe as compared across tables: older records lack newer fields
    (their defaults then), and the seed is not part of it."""
    from tinycnn.train.recipe import Recipe

    full = {**dataclasses.asdict(Recipe()), **fields}
    return {k: v for k, v in full.items() if k != "seed"}


def is_reference(step: str, r: dict) -> bool:
    """Whether seeds-table row `r` ran `step`'s current reference: its
    network (graph hash) and recipe (seed aside) are the committed
    reference record's, under whatever name it ran (a variant that is now
    the reference counts). The graph hash is of the traced code, which
    names layers but not their widths, so the parameter count must match
    too (i4's reference of Nov 2026 differs from its first only in widths).
    Rows logged before recipes were recorded count when they ran the
    reference's folder while it was the code docs/lessons.yml names
    (legacy_references)."""
    if r.get("final_test_acc") is None:  # diverged: no network recorded
        return False
    net, recipe, legacy, params, epochs = _reference_key(step)
    if "recipe" in r:
        return (r["step"] == step and r["graph_hash"] == net
                and r["params"] == params
                and _recipe_key(r["recipe"]) == recipe)
    return (r["folder"] == f"solutions/{step}" and legacy
            and r["params"] == params and r["epochs"] == epochs)


@functools.cache
def _reference_key(step: str) -> tuple:
    """What is_reference compares, read once per build (it is asked for
    every row of every results table)."""
    ref = record(step)
    return (ref["graph_hash"],
            _recipe_key(ref["recipe"]),
            ref.get("code_hash") == content.legacy().get(step),
            ref["params"], len(ref["epochs"]))


@functools.cache  # the task box and the odds both ask, once per step
def reference_runs(step: str) -> dict[str, list[dict]]:
    """{platform: runs} of the current reference of `step` (is_reference),
    from every seeds table in benchmarks/results."""
    out: dict[str, list[dict]] = {}
    for path in sorted(RESULTS.glob("*.json")):
        table = json.loads(path.read_text())
        if not isinstance(table, dict) or "runs" not in table:
            continue
        for r in table["runs"]:
            # older runs: the platform their whole table was made on
            platform = r.get("platform") or table["meta"].get("platform")
            if platform and is_reference(step, r):  # twice run: twice counted
                out.setdefault(platform, []).append(r)
    return {k: sorted(v, key=lambda r: r["seed"])
            for k, v in sorted(out.items())}
