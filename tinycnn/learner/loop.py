"""The learner's loop: where am I, re-check on save, one hint at a time,
start a step over, and see the reference once a step has passed.

    python -m tinycnn status               every step, and the next thing to do
    python -m tinycnn watch [iN]           structure checks on every save
    python -m tinycnn hint iN [CHECK]      the next hint (--all: every tier)
    python -m tinycnn reset iN             back up your files, restore the
                                           skeleton (--undo: bring them back)
    python -m tinycnn solution iN          your files vs the reference, once
                                           iN has passed (--anyway: before)

None of these trains: training is `python steps/iN/train.py` or
`pytest checks/iN`. In a notebook, `from tinycnn import grade`.
"""

from __future__ import annotations

import ast
import difflib
import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tinycnn.course import CHECKS, LEARNER_FILES, STEPS, Spec, epochs, structure, title
from tinycnn.grade.trainer import code_hash, run_dir
from tinycnn.learner.skeleton import strip
from tinycnn.paths import ROOT, runs_root
from tinycnn.train import records

MARKS = {"passed": "PASS", "failed": "FAIL", "blocked": "----"}


def folder_of(step: str, impl: str = "steps") -> Path:
    if step not in STEPS:
        raise SystemExit(f"no step {step!r}; steps: {', '.join(STEPS)}")
    return ROOT / impl / step


def todos(folder: Path) -> list[str]:
    """The TODO markers still raising in the learner's files."""
    found = []
    for name in LEARNER_FILES:
        path = folder / name
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        for line in text.splitlines():
            code = line.strip()
            if code.startswith("raise NotImplementedError(") and "TODO(" in code:
                try:
                    what = ast.literal_eval(code[len("raise NotImplementedError("):-1])
                except (ValueError, SyntaxError):
                    what = code
                found.append(f"{name}: {what}")
    return found


PRISTINE = "skeleton"  # checks/iN/skeleton/: the student edition's copy


def skeleton(step: str) -> dict[str, str]:
    """The step's skeleton files: derived from the reference, or, in a
    student edition (no solutions/), its pristine copy in checks/iN/."""
    ref = ROOT / "solutions" / step
    if ref.is_dir():
        return {n: strip((ref / n).read_text(encoding="utf-8"), step)
                for n in LEARNER_FILES}
    return {n: (ROOT / "checks" / step / PRISTINE / n).read_text(encoding="utf-8")
            for n in LEARNER_FILES}


def untouched(folder: Path) -> bool:
    sk = skeleton(folder.name)
    return all((folder / n).is_file()
               and (folder / n).read_text(encoding="utf-8") == sk[n]
               for n in LEARNER_FILES)


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
    from tinycnn.grade.run import grade

    return grade(folder, folder.name, structure(STEPS[folder.name]))


def first_failing(rows: dict[str, dict]) -> str | None:
    return next((c for c, r in rows.items() if r["status"] == "failed"), None)


# ------------------------------------------------------------------ status


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


# ------------------------------------------------------------------- watch


def _mtimes(folder: Path) -> tuple:
    return tuple((folder / n).stat().st_mtime_ns if (folder / n).exists()
                 else 0 for n in LEARNER_FILES)


def show(rows: dict[str, dict], spec: Spec,
         say: Callable[[str], None]) -> None:
    for check, r in rows.items():
        say(f"{MARKS[r['status']]}  {title(check, spec)}")
        if r["status"] != "passed":
            say(f"      {r['output']}")
        if r.get("hint"):
            say(f"      hint: {r['hint']}")
    ok = sum(r["status"] == "passed" for r in rows.values())
    say(f"{ok}/{len(rows)} structure checks pass"
        + ("; now train: pytest checks/" + spec.step if ok == len(rows)
           else ""))


def watch(step: str, impl: str = "steps", manual: bool = False,
          poll_s: float = 0.3, say: Callable[[str], None] = print) -> None:
    """Re-run the structure checks whenever model.py or train.py is saved
    (or, with `manual`, whenever Enter is pressed). Never trains."""
    folder, spec = folder_of(step, impl), STEPS[step]
    how = "press Enter to check again" if manual else "save a file to check"
    say(f"watching {impl}/{step} ({how}; Ctrl-C to stop)")
    seen = None
    try:
        while True:
            now = _mtimes(folder)
            if now != seen:
                seen = now
                say(f"--- checking {impl}/{step} at "
                    f"{time.strftime('%H:%M:%S')}")
                show(check_structure(folder), spec, say)
            if manual:
                if not sys.stdin.readline():
                    return  # end of input
                seen = None
            else:
                time.sleep(poll_s)
    except KeyboardInterrupt:
        say("stopped watching")


# -------------------------------------------------------------------- hint


def _hint_state() -> Path:
    return runs_root() / "hints.json"


def hint(step: str, check: str | None = None, every: bool = False,
         impl: str = "steps", say: Callable[[str], None] = print) -> int:
    """Say the next tier of `check`'s hints (the first failing check when
    none is named; "design": the step's hints for designing the network);
    returns the tier shown (1-based)."""
    spec = STEPS[step]
    if check is None:
        folder = folder_of(step, impl)
        left = todos(folder)
        if left:  # nothing to grade yet: the TODOs are the next thing
            say(f"{impl}/{step} still raises at {len(left)} TODO:")
            for todo in left:
                say(f"  {todo}")
            say("Replace each `raise NotImplementedError(...)` with your "
                "code; the section it names in the lesson explains what to "
                f"write (docs/{step}.md). Name a check for its hints: "
                f"python -m tinycnn hint {step} CHECK ({', '.join(spec.checks)})")
            if spec.design:
                say("Designing the network: python -m tinycnn hint "
                    f"{step} design")
            return 0
        check = (first_failing(check_structure(folder))
                 or next(c for c in spec.checks if CHECKS[c].trains))
    if check == "design" and spec.design:
        heading = f"{step} · designing your network"
        rule = (f"at most {spec.max_params:,} parameters, the parts the "
                f"task box lists, {spec.pass_acc}% within "
                f"{epochs(spec.max_epochs)}")
        tiers = spec.design
    elif check in spec.checks:
        heading, rule, tiers = (f"{step} · {title(check, spec)}",
                                CHECKS[check].rule, CHECKS[check].hints)
    else:
        raise SystemExit(f"{step} has no check {check!r}; its checks: "
                         f"{', '.join(spec.checks)}"
                         + (", and design" if spec.design else ""))
    state_file = _hint_state()
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        state = {}
    key = f"{step}/{check}"
    shown = len(tiers) if every else min(state.get(key, 0) + 1, len(tiers))
    say(heading)
    say(f"rule: {rule}")
    for tier in range(1 if every else shown, shown + 1):
        say(f"hint {tier} of {len(tiers)}: {tiers[tier - 1]}")
    if shown < len(tiers):
        say(f"(run it again for hint {shown + 1})")
    state[key] = shown
    try:
        from tinycnn.paths import write_atomic

        write_atomic(state_file, json.dumps(state, indent=1).encode())
    except OSError:
        pass  # a read-only runs folder: hints still show, from the first
    return shown


# ------------------------------------------------------- reset and undo


def _backups(step: str) -> Path:
    return runs_root() / "backups" / step


def reset(step: str, undo: bool = False, impl: str = "steps",
          say: Callable[[str], None] = print) -> Path | None:
    """Save the learner's files, then restore the skeleton (or, with
    `undo`, the files of the newest reset). Returns the backup made."""
    folder = folder_of(step, impl)
    if undo:
        made = sorted(p for p in _backups(step).glob("*") if p.is_dir()
                      and not p.name.endswith("-undone"))
        if not made:
            raise SystemExit(f"no backup of {impl}/{step} to bring back")
        source = made[-1]
        files = {n: (source / n).read_text(encoding="utf-8") for n in LEARNER_FILES
                 if (source / n).is_file()}
    else:
        files = skeleton(step)
        if untouched(folder):
            say(f"{impl}/{step} is already the skeleton: nothing to reset")
            return None
    backup = _backups(step) / (time.strftime("%Y%m%d-%H%M%S")
                               + ("-undone" if undo else ""))
    n = 1
    while backup.exists():  # two resets within a second
        backup = backup.with_name(f"{backup.name}-{n}")
        n += 1
    backup.mkdir(parents=True)
    for name in LEARNER_FILES:
        if (folder / name).is_file():
            shutil.copy2(folder / name, backup / name)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    if undo:
        source.rename(source.with_name(source.name + "-undone"))
        say(f"{impl}/{step}: your files from {source.name} are back "
            f"(what was there is in {backup})")
    else:
        say(f"{impl}/{step}: skeleton restored; your files are in {backup}"
            f"\nbring them back with: python -m tinycnn reset {step} --undo")
    return backup


# ---------------------------------------------------------------- solution


def solution(step: str, anyway: bool = False, impl: str = "steps",
             say: Callable[[str], None] = print) -> bool:
    """Show the diff from the learner's files to the reference, once the
    step has passed (or `anyway`). Returns whether it was shown."""
    folder = folder_of(step, impl)
    ref = ROOT / "solutions" / step
    if not ref.is_dir():
        say(f"The reference solutions are not in this copy of the course: "
            f"your instructor releases {step}'s (usually after its "
            "deadline).")
        return False
    if not passed(folder):
        if not anyway:
            say(f"{impl}/{step} has not passed yet: the reference opens once "
                f"`pytest checks/{step}` passes with your current files.\n"
                f"Stuck? python -m tinycnn hint {step}. To look now anyway: "
                f"python -m tinycnn solution {step} --anyway")
            return False
        say("Before passing: reading the answer now teaches less than "
            "getting there. Try the hints first.\n")
    for name in LEARNER_FILES:
        mine = (folder / name).read_text(encoding="utf-8").splitlines(keepends=True) \
            if (folder / name).is_file() else []
        theirs = (ref / name).read_text(encoding="utf-8").splitlines(keepends=True)
        diff = list(difflib.unified_diff(
            mine, theirs, f"{impl}/{step}/{name} (yours)",
            f"solutions/{step}/{name} (reference)"))
        say("".join(diff).rstrip("\n") if diff else
            f"{name}: the same as the reference")
    return True


# --------------------------------------------------------------- notebooks


@dataclass
class Report:
    """A step's grade: a text table for print(), an HTML one for Jupyter."""
    step: str
    rows: dict[str, dict]

    @property
    def passed(self) -> bool:
        return all(r["status"] == "passed" for r in self.rows.values())

    def __str__(self) -> str:
        spec, lines = STEPS[self.step], []
        for check, r in self.rows.items():
            lines.append(f"{MARKS[r['status']]}  {title(check, spec)}")
            if r["output"]:
                lines.append(f"      {r['output']}")
            if r.get("hint"):
                lines.append(f"      hint: {r['hint']}")
        ok = sum(r["status"] == "passed" for r in self.rows.values())
        return "\n".join([*lines, f"{ok}/{len(self.rows)} checks passed"])

    def _repr_html_(self) -> str:
        from html import escape

        spec = STEPS[self.step]
        color = {"passed": "#2e7d32", "failed": "#c62828", "blocked": "#777"}
        body = "".join(
            f"<tr><td style='color:{color[r['status']]}'><b>"
            f"{MARKS[r['status']]}</b></td><td>{escape(title(c, spec))}"
            f"<br><small>{escape(r['output'] or '')}"
            + (f"<br><i>hint: {escape(r['hint'])}</i>" if r.get("hint")
               else "") + "</small></td></tr>"
            for c, r in self.rows.items())
        return f"<table>{body}</table>"


def grade(step: str, impl: str = "steps", train: bool = True,
          retrain: bool = False, device: str | None = None) -> Report:
    """Grade a step from Python or a notebook cell, as `pytest checks/iN`
    does: the structure checks, then (with `train`) the accuracy check,
    which trains (epoch lines appear as it goes) or reuses your last run
    of the same code. In Jupyter the table renders, then the curves."""
    from tinycnn.grade.run import Grade, run_checks
    from tinycnn.train.device import pick_device

    spec = STEPS[step]
    checks = spec.checks if train else structure(spec)
    g = Grade(folder_of(step, impl), spec, pick_device(device), retrain,
              lambda line: print(line, flush=True), on_row=_live_plot(spec))
    try:
        report = Report(step, run_checks(g, checks))
    finally:
        g.close()
    curves = run_dir(g.folder) / records.CURVES
    if train and curves.is_file() and _in_jupyter():
        from IPython.display import Image, display

        display(report, Image(filename=str(curves)))
    return report


def _in_jupyter() -> bool:
    ip = sys.modules.get("IPython")
    return bool(ip and ip.get_ipython() is not None)


def _live_plot(spec: Spec) -> Callable[[dict], None] | None:
    """In Jupyter, a test-accuracy plot redrawn in place after each epoch."""
    if not _in_jupyter():
        return None
    from IPython.display import Image, display

    rows: list[dict] = []
    handle = display(display_id=True)

    def update(row: dict) -> None:
        rows.append(row)
        png = records.plot_curves({
            "epochs": rows, "pass_acc": spec.pass_acc,
            "title": f"{spec.step}: epoch {row['epoch']}, test "
                     f"{row['test_acc']:.2f}% (training...)"})
        handle.update(Image(data=png))

    return update
