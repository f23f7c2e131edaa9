"""A step's checks, run in order: each once, after the checks its
`after` names (course.CHECKS), "blocked" where one of those failed. The
checks judge the submission (submission.py); this module only orders
them and turns every way a check can end into a verdict: a pass with
its detail, a Fail with its hint, never a traceback. The pytest plugin
(plugin.py), the learner's commands and the lessons' build all grade
through it.
"""

from __future__ import annotations

import time
from pathlib import Path

from tinycnn.course import CHECKS, STEPS, Spec
from tinycnn.grader import budget
from tinycnn.grader import network as nw
from tinycnn.grader.checks import JUDGES
from tinycnn.grader.hints import hint
from tinycnn.grader.submission import Setting, Submission
from tinycnn.grader.verdict import Blocked, Fail


class Grade:
    """One step folder being graded: its submission, probed once, and
    each check's verdict."""

    def __init__(self, folder: Path, spec: Spec, setting: Setting | None = None,
                 submission: Submission | None = None) -> None:
        self.sub = submission or Submission(folder, spec, setting)
        self.spec = spec
        self.verdicts: dict[str, str | Exception] = {}
        self.details: dict[str, str] = {}  # check: its pass detail

    def check(self, check: str) -> str:
        """Run one check (once): its pass detail, or Fail; Blocked if a
        check it comes after failed."""
        if check not in self.verdicts:
            try:
                for first in CHECKS[check].after:
                    try:
                        self.check(first)
                    except (Fail, Blocked):
                        raise Blocked(first) from None
                self.verdicts[check] = JUDGES[check](self.sub)
            except (Fail, Blocked) as e:
                self.verdicts[check] = e
            except nw.NoGradient:
                self.verdicts[check] = Fail(
                    "the grader cannot tell what your logits depend on: "
                    "they carry no gradient (forward detaches them, or "
                    "makes them with argmax, round or a comparison)",
                    hint("output", 2))
            except Exception as e:  # the grader's side: still a verdict
                self.verdicts[check] = Fail(_unexpected(e), hint(check))
        verdict = self.verdicts[check]
        if isinstance(verdict, Exception):
            raise verdict
        return verdict

    def close(self) -> None:
        self.sub.close()


def _unexpected(e: Exception) -> str:
    """An error no check expected, in one line (never a traceback)."""
    first = (str(e).strip().splitlines() or [""])[0][:300]
    if isinstance(e, MemoryError) or "can't allocate memory" in first:
        return ("the grader ran out of memory running your network "
                f"({budget.where_set()}): {type(e).__name__}: {first}")
    return (f"the grader could not finish this check on your network: "
            f"{type(e).__name__}: {first}")


def grade(folder: Path, step: str, checks=None, **kw) -> dict[str, dict]:
    """Every check of `step` on `folder`: {check: {status, output}}.

    status is "passed", "failed" or "blocked"; the project's tests and the
    lessons' generator use this; learners use pytest checks/iN.
    """
    g = Grade(Path(folder).resolve(), STEPS[step], Setting(**kw))
    try:
        return run_checks(g, checks)
    finally:
        g.close()


def run_checks(g: Grade, checks=None) -> dict[str, dict]:
    rows = {}
    for check in checks or g.spec.checks:
        t0 = time.perf_counter()
        try:
            rows[check] = {"status": "passed", "output": g.check(check)}
        except Fail as e:
            rows[check] = {"status": "failed", "output": e.message,
                           "hint": e.hint}
        except Blocked as e:
            rows[check] = {"status": "blocked", "output": str(e)}
        rows[check]["seconds"] = round(time.perf_counter() - t0, 2)
    return rows


def run_many(jobs: list[tuple[Path, Spec, list[str]]], timeout: float = 60,
             workers: int = 2) -> list[dict[str, dict]]:
    """run_checks for many (folder, spec, checks) of the course's own
    models (the mutants, the lessons' mistakes; never submissions): probed
    together, `workers` at a time (probe_many.py), then checked one at a
    time in this process. Rows per job, in the jobs' order."""
    from tinycnn.sandbox.probe_many import probed

    with probed([job[0] for job in jobs], timeout, workers) as results:
        rows = []
        for (folder, spec, checks), result in zip(jobs, results, strict=True):
            g = Grade(folder, spec, submission=Submission(
                folder, spec, Setting(timeout=timeout), result))
            rows.append(run_checks(g, checks))
        return rows
