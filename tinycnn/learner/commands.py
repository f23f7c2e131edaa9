"""The learner's commands that never train:

    python -m tinycnn watch [iN]           structure checks on every save
    python -m tinycnn hint iN [CHECK]      the next hint (--all: every tier)
    python -m tinycnn reset iN             back up your files, restore the
                                           skeleton (--undo: bring them back)
    python -m tinycnn solution iN          your files vs the reference, once
                                           iN has passed (--anyway: before)

Training is `python steps/iN/train.py` or `pytest checks/iN`; where each
step stands is `python -m tinycnn status` (progress.py).

progress.py (the grader, PyTorch: 1.5 s to import) is imported by the
commands that grade, when they do: `hint iN CHECK` and `reset` answer at
once.
"""

from __future__ import annotations

import difflib
import json
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tinycnn.course import CHECKS, LEARNER_FILES, STEPS, Spec, epochs, title
from tinycnn.grader import report
from tinycnn.learner.workspace import folder_of, skeleton, todos, untouched
from tinycnn.paths import ROOT, runs_root


def _mtimes(folder: Path) -> tuple:
    return tuple((folder / n).stat().st_mtime_ns if (folder / n).exists()
                 else 0 for n in LEARNER_FILES)


def show(rows: dict[str, dict], spec: Spec,
         say: Callable[[str], None]) -> None:
    """The structure checks' table (grader/report.py), and what next."""
    ok = all(r["status"] == "passed" for r in rows.values())
    for line in report.lines(report.titled(rows, spec),
                             what="structure checks pass" + (
                                 f"; now train: pytest checks/{spec.step}"
                                 if ok else "")):
        say(line)


def watch(step: str, impl: str = "steps", manual: bool = False,
          poll_s: float = 0.3, say: Callable[[str], None] = print) -> None:
    """Re-run the structure checks whenever model.py or train.py is saved
    (or, with `manual`, whenever Enter is pressed). Never trains."""
    from tinycnn.learner.progress import check_structure

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
        from tinycnn.learner.progress import check_structure, first_failing

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


def _free(folder: Path, name: str, undone: bool) -> Path:
    """folder/name, or name-1, -2, ... where that is taken (two resets, or
    a reset and its undo, within one second); "-undone" last, as the undo
    looks for it."""
    end = "-undone" if undone else ""
    found, n = folder / f"{name}{end}", 1
    while found.exists():
        found = folder / f"{name}-{n}{end}"
        n += 1
    return found


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
    backup = _free(_backups(step), time.strftime("%Y%m%d-%H%M%S"), undo)
    backup.mkdir(parents=True)
    for name in LEARNER_FILES:
        if (folder / name).is_file():
            shutil.copy2(folder / name, backup / name)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    if undo:
        source.rename(_free(source.parent, source.name, True))
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
    from tinycnn.learner.progress import passed

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


def show_map(step: str, impl: str = "steps", out: Path | None = None) -> Path | None:
    """Where the learner's newest run of `step` sits among the recorded
    designs (without a run: the designs alone), as a sentence and a
    picture (default: beside the run's record)."""
    from tinycnn.grader import design_map
    from tinycnn.paths import run_dir
    from tinycnn.train import records

    folder = folder_of(step, impl)
    runs = run_dir(folder)
    try:  # the learner's own run: shown, not graded, so read as it is
        record = json.loads((runs / records.RECORD).read_text("utf-8"))
        mine = (int(record["params"]), float(record["final_test_acc"]))
    except (OSError, ValueError, KeyError, TypeError):
        mine = None
    if mine is None:
        print(f"{step}: no finished run of {folder} yet (`python "
              f"{folder}/train.py` or `pytest checks/{step}` makes one); "
              "the recorded designs alone:")
    print(design_map.sentence(step, mine))
    saved = design_map.save(step, out or runs / design_map.PICTURE, mine)
    if saved is None:
        print(f"could not write the picture to {out or runs}", file=sys.stderr)
        return None
    print(f"picture: {saved}")
    return saved
