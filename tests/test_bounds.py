"""A verdict, always, in bounded time and memory (issue 41): what a grade
may spend on one network, and what it says when a network needs more."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict

import pytest
from conftest import copy_step, edit

from tinycnn import autograde
from tinycnn.course import STEPS
from tinycnn.grader import bounded, budget, sizes
from tinycnn.grader.run import Grade
from tinycnn.grader.submission import Setting
from tinycnn.grader.verdict import Fail
from tinycnn.paths import ROOT
from tinycnn.sandbox import probe


@pytest.fixture
def i0(tmp_path, monkeypatch):
    return copy_step("i0", tmp_path, monkeypatch)


def test_the_budgets_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("TINYCNN_MEMORY_GB", "1.5")
    monkeypatch.setenv("TINYCNN_TIME_BUDGET_MIN", "3")
    assert budget.memory_bytes() == int(1.5 * (1 << 30))
    assert budget.minutes(60) == 3
    monkeypatch.setenv("TINYCNN_MEMORY_GB", "lots")
    with pytest.raises(ValueError, match="TINYCNN_MEMORY_GB"):
        budget.memory_bytes()
    monkeypatch.delenv("TINYCNN_MEMORY_GB")
    monkeypatch.delenv("TINYCNN_TIME_BUDGET_MIN")
    assert 0 < budget.memory_bytes() <= budget.MAX_DEFAULT
    assert budget.minutes(60) == 60


def test_every_step_has_time_for_its_reference():
    """Each step's time budget is at least five times its reference run's
    training time on the CPU the records were made on (and ten minutes),
    so that a slower laptop still passes the reference."""
    for step, spec in STEPS.items():
        record = json.loads((ROOT / "benchmarks/results/reference-cpu" /
                             f"{step}.json").read_text())
        assert spec.minutes >= max(10, 5 * record["wall_s"] / 60), step


def test_training_stops_at_the_estimate_over_the_time_budget(
        i0, monkeypatch):
    """The estimate after the first batches is over the budget: training
    stops there, and the check says both numbers."""
    monkeypatch.setenv("TINYCNN_TIME_BUDGET_MIN", "0.02")
    g = Grade(i0, STEPS["i0"], Setting(say=lambda s: None))
    try:
        with pytest.raises(Fail, match=r"would take about .* time budget "
                                       r"for i0 is 1 s"):
            g.check("accuracy")
    finally:
        g.close()


def test_a_batch_over_the_memory_budget_fails_before_training(
        i0, monkeypatch):
    monkeypatch.setenv("TINYCNN_MEMORY_GB", "0.25")
    edit(i0, "train.py", "batch_size=32", "batch_size=8192")
    g = Grade(i0, STEPS["i0"], Setting(say=lambda s: None))
    try:
        t0 = time.perf_counter()
        with pytest.raises(Fail, match=r"one training step at batch_size "
                                       r"8192 needs about .*memory budget "
                                       r"is 256 MB"):
            g.check("accuracy")
        assert time.perf_counter() - t0 < 60  # no training started
        # the checks themselves did not run it at that batch either
        assert g.check("output") == "(B, 10) for B = 1, 3, 64, 1000"
    finally:
        g.close()


def _job(folder, result, **over) -> bounded.Job:
    from tinycnn.grader.submission import fingerprint_of

    recipe = result.recipe()
    for k, v in over.pop("recipe", {}).items():
        setattr(recipe, k, v)
    from tinycnn.grader import network

    graphs = network.load(result.out, recipe.seed)
    return bounded.Job(**{
        "folder": str(folder), "graphs": str(result.out),
        "recipe": asdict(recipe),
        "fingerprint": fingerprint_of(folder, graphs, recipe),
        "device": "cpu", "step": folder.name, "pass_acc": 98.0,
        "budget_s": 600.0, "memory": 8 << 30, **over})


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="RLIMIT_DATA is Linux's")
def test_a_trainer_out_of_memory_says_so(tmp_path, monkeypatch):
    """The trainer's own limit: an allocation past it is an error the
    child reports as memory, not a grader killed."""
    folder = copy_step("i3", tmp_path, monkeypatch)
    result = probe.run(folder)
    try:
        job = _job(folder, result, memory=1 << 20,
                   recipe={"batch_size": 8192, "num_epochs": 1})
        done = bounded.run(job, say=lambda s: None)
    finally:
        result.remove()
    assert done.why == "memory", done
    assert "ran out of memory" in done.message and "Traceback" not in \
        done.message


def test_a_killed_trainer_is_named_with_its_signal():
    job = bounded.Job("f", "g", {}, {}, "cpu", "i3", 99.4, 60, 6 << 30)
    said = bounded._ended(-signal.SIGKILL, "", job)
    assert "killed by SIGKILL" in said and "out of memory" in said
    assert "(exit status 3): boom" in bounded._ended(3, "x\nboom\n", job)
    assert autograde.stopped(-9).startswith("killed by SIGKILL: most likely")


def test_a_trainer_that_cannot_start_is_a_verdict(tmp_path):
    """No traceback, whatever breaks in the child."""
    job = bounded.Job(str(tmp_path / "i3"), str(tmp_path / "nothing"),
                      {"num_epochs": 1}, {}, "cpu", "i3", 99.4, 60, 6 << 30)
    done = bounded.run(job, say=lambda s: None)
    assert done.why and "Traceback" not in done.message, done


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc")
def test_results_survive_a_grader_killed_while_training(i0, tmp_path):
    """Structure verdicts are in results.json before training starts; a
    grader killed then leaves them, and the accuracy check 'not
    finished'."""
    results = tmp_path / "results.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "checks/i0", f"--impl={i0.parent}",
         f"--results={results}", "-p", "no:cacheprovider", "-q"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "TINYCNN_TIME_BUDGET_MIN": "30"})
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            data = json.loads(results.read_text()) if results.exists() \
                else {"tests": []}
            if sum(t["status"] == "passed" for t in data["tests"]) >= 4:
                break
            time.sleep(0.2)
        deadline = time.monotonic() + 60
        while not (trainers := _children(proc.pid, "tinycnn.grader.bounded")) \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        assert trainers, "no trainer started"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    data = json.loads(results.read_text())
    status = {t["name"]: (t["status"], t["output"]) for t in data["tests"]}
    assert status["Net() builds and runs a forward pass"][0] == "passed"
    assert status["at most 19,999 parameters"][0] == "passed"
    acc = status["final test accuracy at least 98.0%"]
    assert acc[0] == "failed" and acc[1].startswith("not finished")
    # and the trainer died with its grader (Linux)
    if sys.platform.startswith("linux"):
        time.sleep(2)
        assert not [p for p in trainers if _alive(p)]


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for its (new) parent to reap it."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def _children(pid: int, marker: str) -> list[int]:
    """Live child processes of `pid` whose command line holds `marker`."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid and marker in cmd:
            found.append(int(entry))
    return found


def test_the_memory_a_batch_needs_grows_with_the_batch(tmp_path):
    result = probe.run(ROOT / "solutions/i3")
    try:
        from tinycnn.grader import network

        gm = network.load(result.out, 1)["train"].gm
        one, ten = (sizes.training_bytes(gm, b) for b in (100, 1000))
        assert 9 < ten / one < 11
        assert sizes.eval_bytes(gm, 1000) < sizes.training_bytes(gm, 1000)
    finally:
        result.remove()


def test_a_probe_killed_while_tracing_is_not_blamed_on_learner_code():
    """A probe killed during torch.export (the grader's work: most likely
    memory) says so; killed while learner code ran, it blames that."""
    from pathlib import Path

    def ended(phase):
        return probe.Result(
            Path("/nonexistent"), {"phase": phase, "errors": {},
                                   "done": False},
            "ended the grading process (signal 9)", "bye").problem()

    assert ended("torch.export (train mode)").startswith(
        "tracing your network stopped (signal 9)")
    assert "memory" in ended("saving the traced network")
    assert "must not exit or signal" in ended("Net()")
