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

from tinycnn.course import CHECKS, STEPS, Spec
from tinycnn.grade import budget, carried, sizes
from tinycnn.grade import network as nw
from tinycnn.grade.checks import JUDGES, Blocked, Fail, random_batch
from tinycnn.grade.hints import cause_hint, hint
from tinycnn.grade.trainer import StepError, fingerprint_of, probe_error, read_recipe
from tinycnn.sandbox import probe
from tinycnn.train.recipe import Recipe

SLOW_PASS_S = 10.0  # one pass of a big batch in the checks, at most


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
    _measured: dict = field(default_factory=dict, repr=False)
    after_training: bool = False  # judging the trained network again

    @cached_property
    def result(self) -> probe.Result:
        return probe.run(self.folder, self.timeout)

    @cached_property
    def problem(self) -> Fail | None:
        """Why `builds` fails, or None: decided here, once."""
        text = probe_error(self.result)
        if text is not None:
            return Fail(text, cause_hint(text))
        try:
            graphs = self.graphs
        except Exception as e:  # any unreadable graph: a verdict, always
            return Fail(f"the exported network could not be read: "
                        f"{type(e).__name__}: {str(e)[:400]}", hint("builds"))
        for mode, gr in graphs.items():
            used = carried.batch_as_value(gr.gm)
            if used:
                return Fail(f"in {mode} mode forward uses the batch size as "
                            f"a value ({', '.join(used[:3])}): the network "
                            "would change with the batch size, and the "
                            "checks, training and evaluation each use their "
                            "own", "x.size(0) may size a tensor (x.view(x."
                            "size(0), -1), x.new_zeros(x.size(0), 10)); it "
                            "must not enter a computation.")
        changed = carried.mutated([gr.gm for gr in graphs.values()])
        for mode, gr in graphs.items():
            read = carried.state(gr.gm, changed)
            if read:
                return Fail(f"in {mode} mode forward changes a tensor in "
                            f"place and reads it: {', '.join(read[:3])}; "
                            "such a network changes from one call to the "
                            "next (only BatchNorm may read the statistics "
                            "it updates)", "Compute a new tensor instead "
                            "of changing a kept one (w.clamp(...), not "
                            "w.data.clamp_(...)), and keep counters out "
                            "of forward's arithmetic.")
        need = self.need("train", 4)
        if need > self.memory():
            return Fail(f"a training step on a batch of 4 images needs "
                        f"about {sizes.human(need)}; the grader's memory "
                        f"budget is {sizes.human(self.memory())}",
                        hint("builds", 1))
        for mode in ("train", "eval"):
            try:
                out = self.logits(mode, random_batch(4))
            except Exception as e:  # it ran in the probe, on Net()'s weights
                first = (str(e).strip().splitlines() or [""])[0][:300]
                return Fail(f"forward ran in your process, but in {mode} "
                            "mode it fails on the weights the grader starts "
                            "from (drawn as PyTorch's layers draw them): "
                            f"{type(e).__name__}: {first}", "forward must "
                            "work for any values of the weights: no checks "
                            "of their values, no ops that need them in a "
                            "range (a log or sqrt of a weight).")
            if not torch.is_tensor(out):
                return Fail(f"forward returns a {type(out).__name__}, not a "
                            "tensor of logits", "forward must return one "
                            "tensor, the (B, 10) logits: return only that.")
            if out.shape[:1] != (4,):
                continue  # the output check says what is wrong with it
            if out.is_floating_point() and not torch.isfinite(out).all():
                return Fail(f"in {mode} mode the output holds NaN or inf on "
                            "a random batch", "Look for a division, log or "
                            "sqrt that can see zero or a negative number.")
        return None

    def memory(self, train: bool = False) -> int:
        """The memory budget: of this machine (checks), or of the device
        training runs on."""
        if train and self.device.type == "cuda":
            return int(torch.cuda.get_device_properties(
                self.device).total_memory * 0.9)
        return budget.memory_bytes()

    def need(self, mode: str, batch: int) -> int:
        """Bytes a run of `mode` at `batch` needs (sizes.py), once each."""
        key = (mode, batch)
        if key not in self._measured:
            gm = self.graphs[mode].gm
            self._measured[key] = (sizes.training_bytes(gm, batch)
                                if mode == "train" else
                                sizes.eval_bytes(gm, batch))
        return self._measured[key]

    def fits(self, mode: str, batch: int) -> bool:
        """May the checks run `mode` at `batch` in this process: within
        the memory budget, and one pass in at most SLOW_PASS_S seconds? (A
        network slower than that trains for hours: the accuracy check's
        time budget stops it, and the checks need not wait for it.)"""
        return (self.need(mode, batch) <= self.memory()
                and self.pace() * batch <= SLOW_PASS_S)

    def pace(self) -> float:
        """Seconds per image of an eval-mode pass, timed on 64 images."""
        if "pace" not in self._measured:
            X = random_batch(64)
            self.logits("eval", X[:4])  # warm
            t0 = time.perf_counter()
            self.logits("eval", X)
            self._measured["pace"] = (time.perf_counter() - t0) / 64
        return self._measured["pace"]

    def trained(self, state: dict) -> Grade:
        """This grade with the trained weights `state` (a GradedNet's
        state_dict) in fresh graphs: what _judge_trained checks."""
        other = Grade(self.folder, self.spec, self.device, say=self.say,
                      after_training=True)
        other.__dict__.update(result=self.result, recipe=self.recipe,
                              problem=None)
        graphs = nw.load(self.result.out, self.recipe.seed)
        nw.GradedNet(graphs).load_state_dict(state, strict=True)
        other.__dict__["graphs"] = graphs
        return other

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
    from tinycnn.sandbox.probe_many import probed

    with probed([job[0] for job in jobs], timeout, workers) as results:
        rows = []
        for (folder, spec, checks), result in zip(jobs, results, strict=True):
            g = Grade(folder, spec, timeout=timeout)
            g.result = result  # probed with the rest
            rows.append(run_checks(g, checks))
        return rows
