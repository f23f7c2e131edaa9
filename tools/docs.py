"""Generate every table and image the lessons show, from committed records:
the lesson parts (task box, code, hints, record, ...) in pages.py, what
the runs measured in measured.py, the results tables in tables.py, the
pictures in pictures.py, each made because a lesson links it (MAKERS).

    python -m tools docs       # rewrites docs/generated/ and docs/assets/

Inputs are files in the repo: the solutions, the reference run records in
benchmarks/results/reference-cpu/, and the benchmark results. A test fails
when the committed output differs from what this makes.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from pathlib import Path

from tinycnn import course
from tinycnn.grader.odds import deviations
from tinycnn.learner.summary import markdown, summarize
from tinycnn.learner.workspace import load_step
from tinycnn.paths import ROOT
from tinycnn.train import records
from tools import designs, pictures
from tools.evidence import REF, reference_runs
from tools.measured import confusion, speed_md
from tools.pages import (
    changelog_md,
    code_block,
    design_md,
    hints_md,
    mistakes_md,
    recipe_md,
    record_md,
    results_example,
    rules_md,
    steps_md,
    task_md,
)
from tools.tables import (
    evidence,
    odds,
    try_md,
    variants_md,
)

# What a lesson may ask for, by the name it links: a file under docs/ ->
# what makes it ({step}: any step; the function gets the step). A lesson
# asks for a file by linking it (![...](assets/i3-schedule.png), or
# --8<-- "generated/i3-task.md"), and the build makes exactly what the
# lessons ask for: a picture is declared where it is shown.
MAKERS: dict[str, Callable] = {
    "generated/{step}-layers.md": lambda step: markdown(summarize(
        load_step(ROOT / "solutions" / step).model.Net())) + "\n",
    "generated/{step}-model.md": lambda step: code_block(step, "model.py"),
    "generated/{step}-train.md": lambda step: code_block(step, "train.py"),
    "generated/{step}-record.md": record_md,
    "generated/{step}-hints.md": hints_md,
    "generated/{step}-design.md": design_md,
    "generated/{step}-task.md": task_md,
    "generated/{step}-mistakes.md": mistakes_md,
    "generated/{step}-try.md": try_md,
    "assets/{step}-map.png": designs.map_png,
    "generated/class.md": designs.class_md,
    "assets/class-map.png": designs.class_png,
    "generated/{step}-map.md": designs.map_md,
    "assets/{step}-curves.png": lambda step: records.plot_curves(
        json.loads((REF / f"{step}.json").read_text())),
    "generated/{step}-odds.md": lambda step: odds(step)[0],
    "generated/{step}-pass-rate.md": lambda step: odds(step)[1],
    "assets/{step}-odds.png": lambda step: odds(step)[2],
    "assets/{step}-layers.png": pictures.layers,
    "assets/{step}-idea.png": pictures.idea,
    "assets/{step}-schedule.png": pictures.schedule,
    "assets/{step}-receptive-field.png": pictures.receptive_field,
    "assets/{step}-augmentation.png": pictures.augmentation,
    "assets/{step}-filters.png": pictures.filters,
    "assets/{step}-batchnorm.png": pictures.batchnorm,
    "generated/{step}-confusion.md": lambda step: confusion(step)[0],
    "assets/{step}-confusion.png": lambda step: confusion(step)[1],
    "assets/{step}-misclassified.png": lambda step: confusion(step)[2],
    "assets/field-goal.png": pictures.field_goal,
    "assets/dropout-masks.png": pictures.dropout_masks,
    "generated/rules.md": rules_md,
    "generated/steps.md": steps_md,
    "generated/recipe.md": recipe_md,
    "generated/changelog.md": changelog_md,
    "generated/variants.md": variants_md,
    "generated/speed.md": speed_md,
    "generated/{step}-results-fail.md": lambda step: results_example(
        step, "steps"),
    # a pass, on a design made from the lessons alone: the reference's
    # would print its widths, parameter and layer counts on an open page
    "generated/{step}-results-pass.md": lambda step: results_example(
        step, "benchmarks/learners"),
    **evidence(),
}
LINK = re.compile(r"(?:assets|generated)/[\w.-]+\.(?:png|md)")


def asked(docs: Path = ROOT / "docs") -> list[str]:
    """Every generated file the lessons (docs/*.md) link, in the order
    first linked. docs/generated and docs/assets hold only these: `write`
    removes what no lesson links any more."""
    seen: dict[str, None] = {}
    for page in sorted(docs.glob("*.md")):
        seen.update(dict.fromkeys(LINK.findall(page.read_text())))
    return list(seen)


def maker(name: str) -> Callable[[], bytes | str]:
    """What makes docs/`name`; ValueError if nothing does."""
    if name in MAKERS:
        return MAKERS[name]
    m = re.fullmatch(r"(assets|generated)/([^/-]+)-(.+)", name)
    if m and m[2] in course.STEPS and f"{m[1]}/{{step}}-{m[3]}" in MAKERS:
        return functools.partial(MAKERS[f"{m[1]}/{{step}}-{m[3]}"], m[2])
    raise ValueError(f"a lesson links {name}, and nothing in tools/docs.py "
                     "MAKERS makes it")


def build(leave: str | None = None) -> dict[str, bytes | str]:
    """{path relative to docs/: content} for every file the lessons link
    (and the grader's seed spread), less those whose name matches the
    glob `leave`."""
    from fnmatch import fnmatch

    out: dict[str, bytes | str] = {
        name: maker(name)() for name in asked()
        if not (leave and fnmatch(name, leave))}
    # the map of where a design sits (tinycnn/grader/design_map.py)
    out["../tinycnn/grader/designs.json"] = designs.designs_json()
    # for the grader's note on a thin pass (tinycnn/grader/odds.py)
    out["../tinycnn/grader/seed_spread.json"] = json.dumps({
        step: deviations({p: [r["final_test_acc"] for r in rs
                              if r["final_test_acc"] is not None]
                          for p, rs in reference_runs(step).items()})
        for step in course.STEPS}, indent=1) + "\n"
    return out


def write(docs: Path = ROOT / "docs") -> list[str]:
    files = build()
    for folder in ("generated", "assets"):  # no lesson links it any more
        for path in (docs / folder).glob("*"):
            if f"{folder}/{path.name}" not in files and path.is_file():
                path.unlink()
    for rel, content in files.items():
        path = docs / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_bytes(content)
    return sorted(files)
