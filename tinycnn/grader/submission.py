"""A step folder as the sandbox handed it back: what every check judges.

A `Submission` probes the folder once (sandbox.probe: learner code runs
only there) and holds what came back, each read when first needed: the
probe's result and its facts, the recipe it read (checked), the traced
graphs read as untrusted data with the grader's own starting weights
(network.load), and the fingerprint a run record of this network must
carry. It also says what running the network costs (the memory at a
batch, from sizes.py; the time per image) so that no check runs it where
it would not fit. It judges nothing: the checks do (checks/), in the
order run.py gives them.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from tinycnn.course import LEARNER_FILES, Spec
from tinycnn.grader import budget, sizes
from tinycnn.grader import network as nw
from tinycnn.grader.batches import EVAL_BATCH, images
from tinycnn.grader.hints import cause_hint, hint
from tinycnn.grader.verdict import Fail
from tinycnn.sandbox import probe
from tinycnn.train.recipe import Recipe

SLOW_PASS_S = 10.0  # one pass of a big batch in the checks, at most


@dataclass
class Setting:
    """How a grade runs, whoever asks for it (pytest, a notebook, the
    lessons' build): where training runs, whether a signed run of the
    same network may be reused, where its lines go."""
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    retrain: bool = False
    say: Callable[[str], None] = print
    on_row: Callable[[dict], None] | None = None  # each epoch's metrics
    timeout: float | None = None  # seconds the probe may take


class Submission:
    """One step folder, probed once."""

    def __init__(self, folder: Path, spec: Spec,
                 setting: Setting | None = None,
                 result: probe.Result | None = None,
                 graphs: dict[str, nw.Graph] | None = None,
                 after_training: bool = False) -> None:
        self.folder, self.spec = Path(folder), spec
        self.setting = setting or Setting()
        # the trained network, judged again by the rules it passed
        # (checks/accuracy.py): some of many layers may go unused then
        self.after_training = after_training
        self._result, self._graphs = result, graphs
        self._recipe: Recipe | Fail | None = None
        self._measured: dict = {}
        self._logits: dict[tuple, torch.Tensor] = {}
        # what the checks measured, by name: the leaderboard's fields
        # (results.json) and the class view's columns
        self.scores: dict[str, float] = {}

    # ------------------------------------------------ what came back

    @property
    def result(self) -> probe.Result:
        """The probe's facts and files (probed on first use)."""
        if self._result is None:
            self._result = probe.run(self.folder, self.setting.timeout)
        return self._result

    @property
    def recipe(self) -> Recipe:
        """The recipe the probe read, checked; Fail if it cannot train."""
        if self._recipe is None:
            try:
                self._recipe = self.result.recipe()
            except probe.RecipeError as e:  # invalid, or recipe() failed
                text = str(e)
                raised = re.search(r"raised \w+|was not read", text)
                self._recipe = Fail(text, cause_hint(text, "builds")
                                    if raised else hint("epochs", 1))
        if isinstance(self._recipe, Fail):
            raise self._recipe
        return self._recipe

    @property
    def graphs(self) -> dict[str, nw.Graph]:
        """The traced network with the weights training starts from,
        drawn under the recipe's seed (any draw where there is no
        recipe: the epochs check says why). Raises what reading them
        raises: the builds check says so."""
        if self._graphs is None:
            try:
                seed = self.recipe.seed
            except Fail:
                seed = 1
            self._graphs = nw.load(self.result.out, seed)
        return self._graphs

    @property
    def fingerprint(self) -> dict:
        """What a run record must say to be this network's run."""
        return fingerprint_of(self.folder, self.graphs, self.recipe)

    def logits(self, mode: str, X: torch.Tensor, seed: int = 0):
        """The network's output on `X` in `mode`, without autograd; once
        per input (by its values: the checks' batches share images,
        batches.py), as a run is a function of the input and the seed
        alone: its buffers are read as copies (network.Graph.run), and a
        forward that reads what it changes in place fails the builds
        check first (carried.state)."""
        data = X.detach().cpu().contiguous().view(-1).view(torch.uint8)
        key = (mode, seed, str(X.dtype), tuple(X.shape), X.stride(),
               hashlib.blake2b(data.numpy().tobytes(), digest_size=16)
               .digest())
        if key in self._logits:
            return self._logits[key].clone()
        out = self._run(mode, X, seed)
        if torch.is_tensor(out) and out.numel() <= 1 << 20:
            self._logits[key] = out.clone()
        return out

    def _run(self, mode: str, X: torch.Tensor, seed: int = 0):
        with torch.no_grad():
            out = self.graphs[mode].run(X, seed=seed)[0]
        return out.detach() if torch.is_tensor(out) else out

    def trained(self, state: dict) -> Submission:
        """The same submission with the trained weights `state` (a
        GradedNet's state_dict), in graphs of its own."""
        graphs = nw.load(self.result.out, self.recipe.seed)
        nw.GradedNet(graphs).load_state_dict(state, strict=True)
        return Submission(self.folder, self.spec, self.setting, self.result,
                          graphs, after_training=True)

    def close(self) -> None:
        """Remove the probe's folder (its graphs and facts)."""
        if self._result is not None:
            self._result.remove()

    # ---------------------------------------------- what running costs

    def memory(self, train: bool = False) -> int:
        """The memory budget: of this machine (checks), or of the device
        training runs on."""
        if train and self.setting.device.type == "cuda":
            return int(torch.cuda.get_device_properties(
                self.setting.device).total_memory * 0.9)
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

    def pace(self) -> float:
        """Seconds per image of an eval-mode pass, timed on 64 images."""
        if "pace" not in self._measured:
            X = images(64)
            self._run("eval", X[:4])  # warm
            t0 = time.perf_counter()
            self._run("eval", X)
            self._measured["pace"] = (time.perf_counter() - t0) / 64
        return self._measured["pace"]

    def fits(self, mode: str, batch: int) -> bool:
        """May the checks run `mode` at `batch` in this process: within
        the memory budget, and one pass in at most SLOW_PASS_S seconds? (A
        network slower than that trains for hours: the accuracy check's
        time budget stops it, and the checks need not wait for it.)"""
        return (self.need(mode, batch) <= self.memory()
                and self.pace() * batch <= SLOW_PASS_S)

    def big_batches(self) -> dict[str, int]:
        """{mode: batch}: the batches where the network really runs, where
        they fit: train mode at the recipe's batch size, eval mode at the
        evaluation batch. One that does not fit is left out here; the
        accuracy check fails on it."""
        out = {}
        with contextlib.suppress(Fail):  # the epochs check says why
            out["train"] = self.recipe.batch_size
        out["eval"] = EVAL_BATCH
        return {mode: b for mode, b in out.items() if self.fits(mode, b)}


def code_hash(folder: Path) -> str:
    """sha256 of the files the learner edits: what a record was made from."""
    h = hashlib.sha256()
    for name in LEARNER_FILES:
        h.update(name.encode() + b"\0" + (folder / name).read_bytes())
    return h.hexdigest()


def fingerprint_of(folder: Path, graphs: dict[str, nw.Graph],
                   recipe: Recipe) -> dict:
    """What a run record must say to be this network's run: this code,
    this traced network (its graph hash names the layers but not their
    widths, which a config file could change: so the weight count too),
    started from the grader's own weights, by this recipe."""
    return {"code_hash": code_hash(folder),
            "graph_hash": nw.graph_hash(graphs),
            "params": nw.weight_count(graphs), "init": nw.INIT,
            "recipe": asdict(recipe)}
