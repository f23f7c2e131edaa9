"""Grading one step folder: the `Grade` session and the runs of its checks.

Learner code never runs in the grader's process: `probe.py` runs it in a
child process (with a time limit) and exports the network with
torch.export; a `Grade` reads what the probe handed back once (the traced
graphs, the recipe) and runs each check of the step (checks.py) on it,
each once, in the manifest's order. The pytest plugin (plugin.py), the
learner commands (loop.py) and the lessons' generator all grade through
it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import torch

from tinycnn import network as nw
from tinycnn import probe
from tinycnn.checks import JUDGES, Blocked, Fail, random_batch
from tinycnn.course import CHECKS, STEPS, Spec
from tinycnn.engine import Recipe
from tinycnn.hints import cause_hint, hint
from tinycnn.step import StepError, fingerprint_of, probe_error, read_recipe


@dataclass
class Grade:
    """One step folder being graded: the probe's result, read once."""
    folder: Path
    spec: Spec
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    retrain: bool = False
    say: Callable[[str], None] = print
    timeout: float | None = None
    details: dict[str, str] = field(default_factory=dict)  # check: detail
    verdicts: dict[str, str | Exception] = field(default_factory=dict)
    on_row: Callable[[dict], None] | None = None  # each epoch's metrics

    @cached_property
    def result(self) -> probe.Result:
        return probe.run(self.folder, self.timeout)

    @cached_property
    def problem(self) -> Fail | None:
        """Why `builds` fails, or None."""
        text = probe_error(self.result)
        if text is not None:
            return Fail(text, cause_hint(text))
        try:
            self.graphs  # noqa: B018 - load them now, or say why not
        except Exception as e:  # any unreadable graph
            return Fail(f"the exported network could not be read: "
                        f"{type(e).__name__}: {str(e)[:300]}", hint("builds"))
        for mode in ("train", "eval"):
            out = self.logits(mode, random_batch(4))
            if not torch.is_tensor(out):
                return Fail(f"forward returns a {type(out).__name__}, not a "
                            "tensor of logits", "forward must return one "
                            "tensor, the (B, 10) logits: return only that.")
            if out.shape[:1] != (4,):
                continue  # the output check says what is wrong with it
            if not torch.isfinite(out.float()).all():
                return Fail(f"in {mode} mode the output holds NaN or inf on "
                            "a random batch", "Look for a division, log or "
                            "sqrt that can see zero or a negative number.")
        return None

    @cached_property
    def graphs(self) -> dict[str, nw.Graph]:
        """The traced network, with the weights training starts from."""
        try:
            seed = self.recipe.seed
        except Fail:  # the epochs check says why; any draw will do here
            seed = 1
        return nw.load(self.result.out, seed)

    def logits(self, mode: str, X: torch.Tensor, seed: int = 0) -> torch.Tensor:
        with torch.no_grad():
            out = self.graphs[mode].run(X, seed=seed)[0]
        return out.detach() if torch.is_tensor(out) else out

    def close(self) -> None:
        """Remove the probe's folder (its graphs and facts)."""
        if "result" in self.__dict__:
            self.result.remove()

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
                self.verdicts[check] = JUDGES[check](self)
            except (Fail, Blocked) as e:
                self.verdicts[check] = e
        verdict = self.verdicts[check]
        if isinstance(verdict, Exception):
            raise verdict
        return verdict

    @cached_property
    def fingerprint(self) -> dict:
        """What a run record must say to be this network's run."""
        return fingerprint_of(self.folder, self.graphs, self.recipe)

    @cached_property
    def recipe(self) -> Recipe:
        try:
            return read_recipe(self.result)
        except StepError as e:  # an invalid recipe, or recipe() failed
            text = str(e)
            raised = re.search(r"raised \w+|was not read", text)
            raise Fail(text, cause_hint(text, "builds") if raised
                       else hint("epochs", 1)) from None


def grade(folder: Path, step: str, checks=None, **kw) -> dict[str, dict]:
    """Every check of `step` on `folder`: {check: {status, output}}.

    status is "passed", "failed" or "blocked"; the project's tests and the
    lessons' generator use this; learners use pytest checks/iN.
    """
    g = Grade(Path(folder).resolve(), STEPS[step], **kw)
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
    from tinycnn.probe_many import probed

    with probed([job[0] for job in jobs], timeout, workers) as results:
        rows = []
        for (folder, spec, checks), result in zip(jobs, results, strict=True):
            g = Grade(folder, spec, timeout=timeout)
            g.result = result  # probed with the rest
            rows.append(run_checks(g, checks))
        return rows
