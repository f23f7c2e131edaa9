"""Generate every table and image the lessons show, from committed records:
the lesson parts (task box, code, hints, record, ...) here, the results
tables in tables.py, the pictures in pictures.py, each made because a
lesson links it (MAKERS).

    python -m tools docs       # rewrites docs/generated/ and docs/assets/

Inputs are files in the repo: the solutions, the reference run records in
benchmarks/results/reference-cpu/, and the benchmark results. A test fails
when the committed output differs from what this makes.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch

from tinycnn import course
from tinycnn.course import duration
from tinycnn.grade import run as grading
from tinycnn.grade.odds import deviations
from tinycnn.grade.trainer import ROOT, load_step
from tinycnn.learner.summary import markdown, summarize
from tools import pictures
from tools.evidence import (
    REF,
    RESULTS,
    grade_times,
    record,
    reference_runs,
)
from tools.mistakes import mistakes
from tools.pictures import png
from tools.tables import (
    EVIDENCE,
    odds,
    spans,
    try_md,
    variants_md,
)


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
        f"- {r['params']:,} parameters; {course.epochs(len(r['epochs']))} "
        "of batch "
        f"{rec['batch_size']}, lr {rec['lr']} ({rec['schedule']})\n"
        f"- on {r['device']}, {r['precision']}\n")


def task_md(step: str) -> str:
    """The lesson's task box, from the manifest: files, what counts as
    done (every check the grader runs), and the reference's training time."""
    spec, r = course.STEPS[step], record(step)
    checks = "".join(f"    - {course.title(c, spec)}\n" for c in spec.checks)
    n = len(r["epochs"])
    # the GPU figure: the median of the reference's seed runs there; every
    # GPU table so far ran 7 to 16 seeds at once on one GPU (their meta)
    gpu = next(((p.split(",")[0], sorted(x["wall_s"] for x in rs))
                for p, rs in reference_runs(step).items() if "GPU" in p),
               None)
    on_gpu = (f"on an {gpu[0]} shared by several seed runs at once, "
              f"{duration(gpu[1][len(gpu[1]) // 2])} each (median of "
              f"{len(gpu[1])}); alone it would be faster" if gpu else
              "no GPU run of this reference is recorded yet")
    graded = "".join(
        f" `make course` graded it (command to grade, training included) "
        f"in {duration(row['seconds'])} on a {machine}, {row['precision']}."
        for machine, row in grade_times(step))
    return (
        '!!! abstract "Your task"\n'
        f"    Write `Net` and `layer_shapes()` in `steps/{step}/model.py`, "
        f"and `recipe()` in `steps/{step}/train.py`; each `TODO` names the "
        "section of this page that explains it. Done when "
        f"`pytest checks/{step}` passes every check:\n\n{checks}\n"
        f"    Grading trains your network by your recipe. The reference's "
        f"{n} epoch{'s' if n > 1 else ''} took {duration(r['wall_s'])} on a "
        f"2-core CPU ({r['device']}, {r['precision']}); {on_gpu}.{graded} "
        "Stuck: "
        f"`python -m tinycnn hint {step}`. The reference code stays folded "
        "under [After you pass](#after-you-pass): open it once you have "
        "passed, or see it beside yours with "
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


def speed_md() -> str:
    rows = ["| machine | seed pipeline s/epoch | engine fp32 | engine bf16 | "
            "engine picks | speed-up |", "|---|---:|---:|---:|---|---:|"]
    for f in sorted(RESULTS.glob("train_speed-*.json")):
        d = json.loads(f.read_text())
        machine = (f"{d['cpu']} ({d['capability']})" if "cpu" in d else
                   "x86 CPU with AMX (model not recorded)")
        picks = d.get("engine_picks", "bf16 (always, then)")
        rows.append(
            f"| {machine}, {d['device']}, {d['threads']} threads | "
            f"{d['seed_s_per_epoch']} | "
            f"{d.get('engine_fp32_s_per_epoch', '-')} | "
            f"{d.get('engine_bf16_s_per_epoch', d['engine_s_per_epoch'])} | "
            f"{picks} | **{d['speedup']}x** |")
    refs = []  # whole epochs of the references (train_speed.py --steps)
    for f in sorted(RESULTS.glob("train_speed-*.json")):
        d = json.loads(f.read_text())
        for step, r in d.get("references", {}).items():
            refs.append(
                f"| {d['cpu']} ({d['capability']}), {d['threads']} threads "
                f"| {step} | {r['batch_size']} | {r['fp32_s_per_epoch']} | "
                f"{r['bf16_s_per_epoch']} | {r['test_pass_s']} s | "
                f"{r['fp32_s_per_epoch'] / r['bf16_s_per_epoch']:.2f}x |")
    if refs:
        rows += ["", "Whole epochs of the references as they train (their "
                 "net, batch and augmentation, and the test pass, which is "
                 "fp32 in every run):", "",
                 "| machine | reference | batch | fp32 s/epoch | bf16 s/epoch "
                 "| of which the test pass | fp32 / bf16 |",
                 "|---|---|---:|---:|---:|---:|---:|", *refs]
    return "\n".join(rows) + "\n"


@functools.cache  # its table and its two pictures are asked for apart
def confusion(step: str) -> tuple[str, bytes, bytes]:
    """Confusion matrix and misclassified digits of the reference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from tinycnn.grade.network import GradedNet
    from tinycnn.train.step import prepare

    # the checkpoint is the traced network's, as the grader loads it
    net = GradedNet(reference_graphs(step))
    net.load_state_dict(torch.load(REF / f"{step}.pt", weights_only=True))
    net.eval()
    X, y = pictures.test_set()  # read once for every picture
    with torch.no_grad():
        pred = torch.cat([net(prepare(X[i:i + 1000])).argmax(1)
                          for i in range(0, len(X), 1000)])
    cm = torch.zeros(10, 10, dtype=torch.long)
    cm.index_put_((y, pred), torch.ones_like(y), accumulate=True)
    wrong = (pred != y).nonzero().flatten()

    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.imshow((cm.float() + 1).log().numpy(), cmap="Blues")
    for i in range(10):
        for j in range(10):
            ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=9,
                    color="white" if i == j else "black")
    ax.set(xlabel="predicted", ylabel="true", xticks=range(10),
           yticks=range(10), title=f"{step}: {len(wrong)} of {len(y)} wrong")
    cm_png = png(fig)

    # 8 columns at 8 in: the picture shows at about its own size in the
    # 720 px column, so the labels read at 12 pt
    n = min(len(wrong), 40)
    fig, axes = plt.subplots(5, 8, figsize=(8, 6.4))
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            i = int(wrong[k])
            ax.imshow(X[i, 0].numpy(), cmap="gray_r")
            ax.set_title(f"{int(y[i])}→{int(pred[i])}", fontsize=12)
    fig.suptitle("first misclassified test digits (true → predicted)",
                 fontsize=13)
    grid_png = png(fig)

    pairs = sorted(((int(cm[i, j]), i, j) for i in range(10)
                    for j in range(10) if i != j), reverse=True)[:5]
    md = (f"{len(wrong)} of {len(y):,} test digits are wrong "
          f"({100 * len(wrong) / len(y):.2f} %). The most frequent "
          "confusions (true → predicted): "
          + ", ".join(f"{i}→{j} ({c})" for c, i, j in pairs) + ".\n")
    return md, cm_png, grid_png


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
    from tinycnn.train.recipe import Recipe

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
    from tinycnn.train.recipe import Recipe

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


@functools.cache
def reference_graphs(step: str) -> dict:
    """The reference's network as the grader traces it (probed once)."""
    from tinycnn.grade import network
    from tinycnn.sandbox import probe

    result = probe.run(ROOT / "solutions" / step, seed=1)
    try:
        return network.load(result.out, 1)
    finally:
        result.remove()


def reference_hash(step: str) -> str:
    """The graph hash of the reference's code as it is now (its record
    must carry the same)."""
    from tinycnn.grade import network

    return network.graph_hash(reference_graphs(step))


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
    "assets/{step}-curves.png": lambda step: (REF / f"{step}.png").read_bytes(),
    "generated/{step}-odds.md": lambda step: odds(step)[0],
    "assets/{step}-odds.png": lambda step: odds(step)[1],
    "assets/{step}-layers.png": pictures.layers,
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
    **EVIDENCE,
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
    # for the grader's note on a thin pass (tinycnn/grade/odds.py)
    out["../tinycnn/seed_spread.json"] = json.dumps({
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
