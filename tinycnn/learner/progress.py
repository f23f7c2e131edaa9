"""Where each step stands: its signed run, whether it passed, its
structure checks, and `python -m tinycnn status`'s one line per step and
the one next thing to do."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tinycnn.course import STEPS, structure, title
from tinycnn.grader.submission import code_hash
from tinycnn.learner.workspace import folder_of, todos, untouched
from tinycnn.paths import run_dir
from tinycnn.train import records


@dataclass
class Run:
    """The signed run record of a step folder, if any."""
    acc: float
    finished: str
    current: bool  # made from the files as they are now

    @classmethod
    def of(cls, folder: Path) -> Run | None:
        found = records.load(run_dir(folder), signed=True)
        if found is None:
            return None
        r = found[0]
        try:
            same = r.get("code_hash") == code_hash(folder)
        except OSError:
            same = False
        return cls(float(r.get("final_test_acc", 0)), r.get("finished", "?"),
                   same)


def passed(folder: Path) -> bool:
    """Passed: a run of the current files at the pass mark, and the last
    grade (results.json) all green."""
    run, spec = Run.of(folder), STEPS[folder.name]
    if run is None or not run.current or run.acc < spec.pass_acc:
        return False
    results = run_dir(folder) / "results.json"
    try:
        rows = json.loads(results.read_text(encoding="utf-8"))["tests"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return bool(rows) and all(r.get("status") == "passed" for r in rows)


def check_structure(folder: Path) -> dict[str, dict]:
    from tinycnn.grader.run import grade

    return grade(folder, folder.name, structure(STEPS[folder.name]))


def first_failing(rows: dict[str, dict]) -> str | None:
    return next((c for c, r in rows.items() if r["status"] == "failed"), None)


def status(impl: str = "steps", say: Callable[[str], None] = print) -> str:
    """One line per step, then the one next thing to do; returns that:
    the first step in progress (started, not passed), else the first not
    started after the last passed one (a learner who went on to i3 is not
    sent back to i0); none once the last step passed."""
    todos_of: dict[str, tuple[str, str]] = {}  # step: (kind, its todo)
    for step, spec in STEPS.items():
        folder = folder_of(step, impl)
        run, left, todo = Run.of(folder), todos(folder), None
        if left:
            state = ("not started" if untouched(folder) else
                     f"in progress: {len(left)} TODO left")
            todo = f"fill in {impl}/{step}/{left[0]}, in docs/{step}.md"
        else:
            rows = check_structure(folder)
            ok = sum(r["status"] == "passed" for r in rows.values())
            state = f"structure {ok} of {len(rows)}"
            bad = first_failing(rows)
            if bad:
                todo = (f"{impl}/{step}: {title(bad, spec)} fails: "
                        f"python -m tinycnn hint {step} {bad}")
        if run is not None:
            state += (f"; trained {run.acc:.2f}% on {run.finished}, code "
                      + ("unchanged" if run.current else "changed since"))
        done = not left and todo is None and passed(folder)
        if done:
            state = f"passed ({run.acc:.2f}% >= {spec.pass_acc}%)"
        elif todo is None:
            todo = (f"grade it: pytest checks/{step}" if run is None
                    or not run.current or run.acc >= spec.pass_acc else
                    f"accuracy {run.acc:.2f}% < {spec.pass_acc}%: python -m "
                    f"tinycnn hint {step} accuracy")
        say(f"{step}  {spec.title:<36} {state}")
        todos_of[step] = ("passed" if done else "new" if untouched(folder)
                          else "started", todo)
    kinds = [kind for kind, _ in todos_of.values()]
    last = max((i for i, k in enumerate(kinds) if k == "passed"), default=-1)
    order = ([i for i, k in enumerate(kinds) if k == "started"]
             + [i for i, k in enumerate(kinds) if k == "new" and i > last])
    next_thing = list(todos_of.values())[order[0]][1] if order else None
    say("")
    left = [step for step, (kind, _) in todos_of.items() if kind != "passed"]
    if next_thing:
        say(f"next: {next_thing}")
    elif left:  # the last step passed, some earlier ones not
        say(f"{list(todos_of)[last]} passed, the course's goal; not passed "
            f"yet: {', '.join(left)} (each stands alone: open one any time)")
    else:
        say("every step has passed")
    return next_thing or ""
