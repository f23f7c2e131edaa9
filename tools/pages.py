"""The lesson parts made from the manifest and the solutions: the task
box, the code blocks with what changed, the record, the hints and the
design hints a tier at a time, the rules table, the mistakes table, the
steps table, the change log, the recipe's fields, a results.json
example. tools/docs.py puts them where the lessons link them."""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tinycnn import course
from tinycnn.course import duration
from tinycnn.grader import run as grading
from tinycnn.learner.summary import summarize
from tinycnn.learner.workspace import load_step
from tinycnn.paths import ROOT
from tinycnn.train.recipe import Recipe
from tools.evidence import record, reference_runs
from tools.mistakes import mistakes
from tools.tables import spans


def changed_lines(prev: Path | None, cur: Path) -> list[int]:
    """1-based lines of `cur` that are new or changed since `prev`."""
    new = cur.read_text().splitlines()
    if prev is None or not prev.exists():
        return []
    old = prev.read_text().splitlines()
    out = []
    sm = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, _i1, _i2, j1, j2 in sm.get_opcodes():
        if tag in ("replace", "insert"):
            out += range(j1 + 1, j2 + 1)
    return out


def code_block(step: str, name: str) -> str:
    """A fence that embeds the real file, changed lines highlighted."""
    cur = ROOT / "solutions" / step / name
    steps = list(course.STEPS)
    i = steps.index(step)
    prev = ROOT / "solutions" / steps[i - 1] / name if i else None
    hl = spans(changed_lines(prev, cur))
    attrs = f'title="solutions/{step}/{name}" linenums="1"'
    if hl:
        attrs += f' hl_lines="{hl}"'
    return (f"``` python {attrs}\n"
            f'--8<-- "solutions/{step}/{name}"\n```\n')


def record_md(step: str) -> str:
    """The reference's run, as a short list (a one-row table of seven
    columns does not fit a phone)."""
    r = record(step)
    last = r["epochs"][-1]
    rec = r["recipe"]
    return (
        "The reference run (seed 1), from its committed run record:\n\n"
        f"- **final test accuracy {last['test_acc']:.2f} %** (train "
        f"{last['train_acc']:.2f} %)\n"
        # no parameter count: from i3 on it would narrow down the design
        f"- {course.epochs(len(r['epochs']))} of batch "
        f"{rec['batch_size']}, lr {rec['lr']} ({rec['schedule']})\n"
        f"- on {r['device']}, {r['precision']}\n")


def task_md(step: str) -> str:
    """The lesson's task box, from the manifest: files, what counts as
    done (every check the grader runs), how long a grade trains on a
    laptop CPU and on a GPU, and how often the reference passed. Each
    machine's own figures are on the Results page."""
    spec, r = course.STEPS[step], record(step)
    checks = "".join(f"    - {course.title(c, spec)}\n" for c in spec.checks)
    runs = [x for rs in reference_runs(step).values() for x in rs]
    # the GPU figure: the median of the reference's seed runs there; every
    # GPU table so far ran 7 to 16 seeds at once on one GPU (their meta)
    gpu = sorted(x["wall_s"] for p, rs in reference_runs(step).items()
                 if "GPU" in p for x in rs)
    on_gpu = (f"about {duration(gpu[len(gpu) // 2])}, or less" if gpu
              else "not measured yet, expect minutes at most")
    passed = sum(x["final_test_acc"] >= spec.pass_acc for x in runs)
    return (
        '!!! abstract "Your task"\n'
        f"    Write `Net` and `layer_shapes()` in `steps/{step}/model.py`, "
        f"and `recipe()` in `steps/{step}/train.py`; each `TODO` names the "
        "section of this page that explains it. Done when "
        f"`pytest checks/{step}` passes every check:\n\n{checks}\n"
        f"    How long a grade trains: on a laptop CPU, about "
        f"{duration(r['wall_s'])} for a network like the reference; on a "
        f"GPU, {on_gpu}. How often a correct design passes: the reference "
        f"passed {passed} of its {len(runs)} recorded seeds "
        f"([odds](#odds)). Stuck: `python -m tinycnn hint {step}`. The "
        "reference code stays folded under [After you pass](#after-you-"
        "pass): open it once you have passed, or see it beside yours with "
        f"`python -m tinycnn solution {step}`.\n")


def tiers_md(hints: tuple[str, ...], depth: int = 0) -> list[str]:
    """Hints as folds, each inside the one before, so a reader opens one
    at a time, as `tinycnn hint` gives them."""
    out = []
    for i, hint in enumerate(hints):
        pad = "    " * (depth + i)
        out += [f'{pad}??? tip "Hint {i + 1} of {len(hints)}"',
                f"{pad}    {hint}", ""]
    return out


def hints_md(step: str) -> str:
    """Each check's rule and its hints, collapsed, a tier at a time."""
    blocks = []
    for key in course.STEPS[step].checks:
        check = course.CHECKS[key]
        blocks.append("\n".join([
            f'??? tip "Hint: {course.title(key, course.STEPS[step])}"',
            f"    **Rule.** {check.rule}", "",
            *tiers_md(check.hints, 1)]))
    return "\n".join(blocks)


def design_md(step: str) -> str:
    """The step's hints for designing the network, a tier at a time (open
    them only after trying: the last is a layout)."""
    return "\n".join([
        "Stuck on the design? The hints open one at a time, as "
        f"`python -m tinycnn hint {step} design` gives them; the last is a "
        "layout that passes, without widths.", "",
        *tiers_md(course.STEPS[step].design)])


def rules_md() -> str:
    """Every check's rule, and which steps grade it; then each step's time
    budget (course.Spec.minutes)."""
    rows = ["| check | steps | rule |", "|---|---|---|"]
    for key, check in course.CHECKS.items():
        steps = ", ".join(s for s, spec in course.STEPS.items()
                          if key in spec.checks)
        rows.append(f"| {key} | {steps} | {check.rule} |")
    budgets = ", ".join(f"{s} {spec.minutes} min"
                        for s, spec in course.STEPS.items())
    return "\n".join(rows) + (
        "\n\nTime budget of a grade's training, on the grading machine: "
        f"{budgets}. Training stops as soon as its estimate after the "
        "first batches is over it. Memory budget: three quarters of the "
        "machine's memory (or its container's), at most 8 GB. An "
        "instructor sets others with `TINYCNN_TIME_BUDGET_MIN` and "
        "`TINYCNN_MEMORY_GB`.\n")


def grade_mistakes(step: str) -> list[dict[str, dict]]:
    """The real checks' rows for each of `step`'s failing mistakes (two
    probes at a time, as the mutant tests do): builds and the check named."""
    failing = [m for m in mistakes(step) if m.check]
    with tempfile.TemporaryDirectory() as d:
        jobs = []
        for i, m in enumerate(failing):
            folder = Path(d) / str(i) / step
            folder.mkdir(parents=True)
            shutil.copy(ROOT / "solutions" / step / "train.py",
                        folder / "train.py")
            (folder / "model.py").write_text(m.model)
            jobs.append((folder, course.STEPS[step],
                         list(dict.fromkeys(["builds", m.check]))))
        return grading.run_many(jobs, timeout=60)


def mistakes_md(step: str, rows: list[dict[str, dict]] | None = None) -> str:
    """Mistakes made to `step`'s own reference, and what its checks say:
    `rows`, the grade of each failing mistake (default: graded here; the
    mutant tests hand theirs)."""
    table = ["| mistake | check | the grader says |", "|---|---|---|"]
    failing = [m for m in mistakes(step) if m.check]
    for m, row in zip(failing, rows or grade_mistakes(step), strict=True):
        said = (row[m.check]["output"] if row[m.check]["status"] == "failed"
                else "(passes)")
        said = said.replace("|", "\\|").replace("\n", " ")
        table.append(f"| {m.title} | {m.check} | {said} |")
    passing = [m.title for m in mistakes(step) if not m.check]
    if passing:
        table += ["", "These pass every check: " + "; ".join(passing) + "."]
    return "\n".join(table) + "\n"


def steps_md() -> str:
    """The index's table of steps, from the manifest."""
    rows = ["| step | you add | why |", "|---|---|---|"]
    rows += [f"| [{step}]({step}.md) | {spec.about} | {spec.gain} |"
             for step, spec in course.STEPS.items()]
    return "\n".join(rows) + "\n"


def changelog_md() -> str:
    rows = ["| step | params | architecture | epochs | lr / schedule | "
            "train acc. | test acc. | what changed and why |",
            "|---|---:|---|---:|---|---:|---:|---|"]
    for step in course.STEPS:
        r = record(step)
        kinds = " → ".join(row.name for row in summarize(
            load_step(ROOT / "solutions" / step).model.Net()))
        rec, last = r["recipe"], r["epochs"][-1]
        rows.append(
            f"| {step} | {r['params']:,} | {kinds} | {len(r['epochs'])} | "
            f"{rec['lr']} / {rec['schedule']} | {last['train_acc']:.2f} % | "
            f"{last['test_acc']:.2f} % | {course.STEPS[step].why} |")
    return "\n".join(rows) + "\n"


def results_example(step: str, impl: str) -> str:
    """The results.json the real grader writes for `impl` (fast checks)."""
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "results.json"
        subprocess.run([sys.executable, "-m", "pytest", f"checks/{step}",
                        f"--impl={impl}", f"--results={out}", "-m",
                        "not slow", "-q", "-p", "no:cacheprovider"],
                       cwd=ROOT, capture_output=True, env={
                           **os.environ, "TINYCNN_RUNS": d})
        data = json.loads(out.read_text())
    # the top "output" names this machine's sandbox level: not the example's
    data.pop("output", None)
    return f"```json\n{json.dumps(data, indent=1)}\n```\n"


def recipe_fields() -> dict[str, str]:
    """{field: what it does}, read from Recipe's docstring (help(Recipe))."""

    names = [f.name for f in dataclasses.fields(Recipe)]
    text, found, current = Recipe.__doc__ or "", {}, None
    for line in text.splitlines():
        word = line.strip().split(" ", 1)[0]
        if word in names and line.startswith("    " + word):
            current = word
            found[current] = line.strip()[len(word):].strip()
        elif current and line.strip():
            found[current] += " " + line.strip()
        else:
            current = None
    return found


def recipe_md() -> str:
    """Every Recipe field: type, default, what it does, and which steps'
    reference recipes set it (to what)."""

    what = recipe_fields()
    used: dict[str, list[str]] = {}
    for step in course.STEPS:
        got = dataclasses.asdict(load_step(ROOT / "solutions" / step)
                                 .train.recipe())
        for name, value in got.items():
            if value != getattr(Recipe(), name) and name != "seed":
                used.setdefault(name, []).append(f"{step}: `{value!r}`")
    rows = ["| field | type | default | what it does | the references |",
            "|---|---|---|---|---|"]
    for f in dataclasses.fields(Recipe):
        rows.append(f"| `{f.name}` | {f.type} | `{f.default!r}` | "
                    f"{what.get(f.name, '')} | "
                    f"{', '.join(used.get(f.name, [])) or 'default'} |")
    return "\n".join(rows) + "\n"
