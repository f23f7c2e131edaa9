"""Every recorded design of every step, from the seeds tables in
benchmarks/results, for the map of where a design sits
(tinycnn/grader/design_map.py reads what `designs_json` writes)."""

from __future__ import annotations

import functools
import json
import re

from tinycnn.course import STEPS
from tools.evidence import RESULTS, is_reference


def step_of(folder: str) -> str | None:
    """The step a run's folder belongs to: solutions/i3 and every variant
    named i3-… or i3x are i3's (benchmarks/variants.py names them so)."""
    m = re.match(r"(i\d+)", folder.rsplit("/", 1)[-1])
    return m[1] if m and m[1] in STEPS else None


def runs() -> list[tuple[str, dict]]:
    """(table, run) for every run in every seeds table (`name`.json, or
    `name`.jsonl where no table was written), each run once: a run copied
    into two tables (the same folder, seed, result and time) counts once."""
    out, seen = [], set()
    tables = {p.stem: p for p in sorted(RESULTS.glob("*.jsonl"))}
    tables.update({p.stem: p for p in sorted(RESULTS.glob("*.json"))})
    for name, path in sorted(tables.items()):
        if path.suffix == ".json":
            table = json.loads(path.read_text(encoding="utf-8"))
            if not (isinstance(table, dict) and "runs" in table):
                continue  # a speed or timing record, not seeds
            rows = table["runs"]
        else:
            rows = [json.loads(line) for line in
                    path.read_text(encoding="utf-8").splitlines() if line]
        for r in rows:
            key = (r["folder"], r["seed"], r.get("params"),
                   r.get("final_test_acc"), r.get("wall_s"))
            if key not in seen:
                seen.add(key)
                out.append((name, r))
    return out


def label(step: str, r: dict) -> str:
    if r["folder"] != f"solutions/{step}":
        return r["folder"]
    return "reference" if is_reference(step, r) else "an older reference"


@functools.cache  # a docs build asks for it once per map and sentence
def table() -> dict[str, list[dict]]:
    """{step: designs}: one per (label, parameters, epochs), with the final
    accuracy of each seed and the tables they come from (read, not to be
    changed: every caller shares it)."""
    groups: dict[tuple, dict] = {}
    for name, r in runs():
        step = step_of(r["folder"])
        if step is None:
            continue
        diverged = r.get("final_test_acc") is None or r.get("params") is None
        # a diverged run has no network recorded: it joins its folder's
        # design at the parameters it had on another seed
        key = (step, r["folder"], r.get("params"), r.get("epochs"))
        g = groups.setdefault(key, {
            "label": label(step, r), "folder": r["folder"],
            "params": r.get("params"), "epochs": r.get("epochs"),
            "accs": [], "seeds": [], "tables": [], "diverged": 0})
        if diverged:
            g["diverged"] += 1
            g["tables"].append(name)
            continue
        g["accs"].append(r["final_test_acc"])
        g["seeds"].append(r["seed"])
        g["tables"].append(name)
    out: dict[str, list[dict]] = {s: [] for s in STEPS}
    # (the diverged-only groups last: their folder's design is there then)
    for (step, folder, params, _), g in sorted(
            groups.items(), key=lambda kv: (kv[0][2] is None, kv[0][0],
                                            kv[0][1], kv[0][2] or 0,
                                            kv[0][3] or 0)):
        if params is None:  # diverged runs only: fold into the folder's
            twin = next((d for d in out[step] if d["folder"] == folder),
                        None)
            if twin:
                twin["diverged"] += g["diverged"]
                twin["tables"] += g["tables"]
            continue
        g["tables"] = sorted(set(g["tables"]))
        out[step].append(g)
    # a folder seen at two sizes or epoch counts: say which is which
    for ds in out.values():
        for d in ds:
            if sum(e["label"] == d["label"] for e in ds) > 1:
                d["label"] = f"{d['label']} ({d['params']:,}, {d['epochs']} ep)"
    return out


def designs_json() -> str:
    return json.dumps(table(), indent=1) + "\n"


def map_png(step: str) -> bytes:
    """The lessons' map: every recorded design of `step`, no learner."""
    from tinycnn.grader import design_map

    # drawn from the records as they are now, not from the shipped file
    # this build is about to rewrite
    return design_map.draw(step, path=table())


def map_md(step: str) -> str:
    """The sentence under the lessons' map, and how to see one's own run."""
    from tinycnn.grader import design_map

    said = design_map.sentence(step, path=table())
    return (f"{said}. A design is one network and recipe, run on several "
            "seeds: the dot is their mean, the bar their range; it passes "
            "here when the mean reaches the mark. Every design is a change "
            "to a reference tried for these lessons (the names are "
            "`benchmarks/variants.py`'s). Your own graded run on the same "
            f"map: `python -m tinycnn map {step}`.\n")


SAMPLE = RESULTS / "sample-class"


def _sample() -> tuple[list, str]:
    """The sample class's rows and the step it was graded on."""
    from tinycnn.grader import classview

    rows = classview.gather(SAMPLE)
    steps = sorted({r.step for r in rows if r.step})
    if len(steps) != 1:
        raise ValueError(f"the sample class should be of one step, not "
                         f"{steps or 'none'}: python benchmarks/"
                         "sample_class.py")
    return rows, steps[0]


def class_md() -> str:
    """The sample class as the class view prints it, and its table."""
    from tinycnn.grader import classview

    rows, step = _sample()
    lines = [f"`{classview.summary(rows, step)}`", "",
             "| submission | score | passed | accuracy | parameters | "
             "epochs | failed checks |", "|---|---:|---|---:|---:|---:|---|"]
    for r in rows:
        c = dict(zip(classview.COLUMNS, r.cells(), strict=True))
        lines.append(f"| {c['submission']} | {c['score']} of "
                     f"{c['max_score']} | {c['passed']} | {c['accuracy']} | "
                     f"{c['parameters']} | {c['epochs']} | "
                     f"{c['failed_checks']} |")
    return "\n".join(lines) + "\n"


def class_png() -> bytes:
    from tinycnn.grader import classview

    rows, step = _sample()
    return classview.class_map(rows, step, table())
