"""The learner's loop commands, each run for real on a scratch copy of
the repo: status, watch (driven by saving a file), hint, reset,
solution, and grade() from Python as a notebook cell would."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
from conftest import with_ctrl_c

from tinycnn.paths import ROOT


@pytest.fixture
def repo(tmp_path):
    """A fresh clone's files: steps are skeletons, no runs yet."""
    for part in ("tinycnn", "solutions", "steps", "checks"):
        shutil.copytree(ROOT / part, tmp_path / part,
                        ignore=shutil.ignore_patterns("__pycache__"))
    for f in ("pyproject.toml",):
        shutil.copy(ROOT / f, tmp_path / f)
    return tmp_path


def env(repo):
    # the copy's tinycnn, so its ROOT (steps, runs) is the copy
    return {**os.environ, "PYTHONPATH": str(repo), "TINYCNN_RUNS": "",
            "TINYCNN_DATA": str(ROOT / "data"), "PYTHONUNBUFFERED": "1"}


def tinycnn(repo, *args, stdin=None):
    out = subprocess.run([sys.executable, "-m", "tinycnn", *args], cwd=repo,
                         env=env(repo), capture_output=True, text=True,
                         input=stdin, timeout=300)
    return out.returncode, out.stdout + out.stderr


def solve(repo, step):
    for name in ("model.py", "train.py"):
        shutil.copy(repo / "solutions" / step / name, repo / "steps" / step)


def test_status_of_a_fresh_clone(repo):
    rc, out = tinycnn(repo, "status")
    assert rc == 0, out
    assert out.count("not started") == 5
    assert "next: fill in steps/i0/model.py: TODO(i0)" in out


def test_status_follows_the_work(repo):
    solve(repo, "i0")
    model = repo / "steps/i1/model.py"
    model.write_text(model.read_text().replace(
        "class Net", "# started\nclass Net"))
    rc, out = tinycnn(repo, "status")
    lines = dict(line.split(None, 1) for line in out.splitlines()
                 if line[:1] == "i")
    assert "structure 5 of 5" in lines["i0"]
    assert "in progress" in lines["i1"] and "not started" in lines["i2"]
    assert "next: grade it: pytest checks/i0" in out
    broken = repo / "steps/i0/model.py"  # now a check fails: it says which
    broken.write_text(broken.read_text().replace("24 * 7 * 7", "24 * 7 * 8"))
    rc, out = tinycnn(repo, "status")
    lines = dict(line.split(None, 1) for line in out.splitlines()
                 if line[:1] == "i")
    assert "structure 1 of 5" in lines["i0"], out  # epochs; the rest blocked
    assert "python -m tinycnn hint i0 builds" in out, out


def test_status_does_not_send_a_learner_back(repo, monkeypatch):
    """A learner who designed i3 straight away: once it passed, next is
    i4, not i0's skeleton; once i4 passed too, status says the goal is
    reached and lists the steps not passed, with no 'next'."""
    from tinycnn.learner import progress as loop

    solve(repo, "i3")
    won = {"i3"}
    monkeypatch.setattr(loop, "passed", lambda f: f.name in won)
    monkeypatch.setattr(loop.Run, "of", staticmethod(
        lambda f: loop.Run(99.5, "today", True) if f.name in won else None))
    lines: list[str] = []
    nxt = loop.status(str(repo / "steps"), lines.append)
    assert nxt.startswith(f"fill in {repo / 'steps'}/i4/model.py"), lines
    solve(repo, "i4")
    won.add("i4")
    lines.clear()
    assert loop.status(str(repo / "steps"), lines.append) == ""
    assert lines[-1] == ("i4 passed, the course's goal; not passed yet: "
                         "i0, i1, i2 (each stands alone: open one any time)")


def test_hint_one_tier_at_a_time(repo):
    from tinycnn.course import CHECKS, STEPS

    tiers = CHECKS["gap"].hints
    for n in range(1, len(tiers) + 2):
        rc, out = tinycnn(repo, "hint", "i3", "gap")
        shown = min(n, len(tiers))
        assert f"hint {shown} of {len(tiers)}: {tiers[shown - 1]}" in out
        assert f"hint {shown - 1} of" not in out  # one tier, not all so far
        assert ("run it again" in out) == (shown < len(tiers))
    rc, out = tinycnn(repo, "hint", "i3", "gap", "--all")
    assert all(t in out for t in tiers)
    rc, out = tinycnn(repo, "hint", "i2")  # a skeleton: its TODOs come first
    assert "steps/i2 still raises at" in out and "TODO(i2)" in out
    assert "python -m tinycnn hint i2 design" in out
    design = STEPS["i2"].design  # the design hints, a tier at a time too
    rc, out = tinycnn(repo, "hint", "i2", "design")
    assert f"hint 1 of {len(design)}: {design[0]}" in out
    assert "at most 19,999 parameters" in out and design[1] not in out
    rc, out = tinycnn(repo, "hint", "i2", "design")
    assert f"hint 2 of {len(design)}: {design[1]}" in out
    solve(repo, "i2")
    model = repo / "steps/i2/model.py"
    model.write_text(model.read_text().replace("nn.BatchNorm2d(c_out),", ""))
    rc, out = tinycnn(repo, "hint", "i2")  # the first failing check's hint
    assert out.startswith("i2 · BatchNorm") and "hint 1 of" in out, out
    rc, out = tinycnn(repo, "hint", "i0", "gap")
    assert rc != 0 and "i0 has no check 'gap'" in out


def test_reset_backs_up_and_undo_brings_back(repo):
    model = repo / "steps/i1/model.py"
    skeleton = model.read_text()
    rc, out = tinycnn(repo, "reset", "i1")
    assert "already the skeleton" in out
    model.write_text(skeleton + "# my work\n")
    rc, out = tinycnn(repo, "reset", "i1")
    assert rc == 0 and model.read_text() == skeleton
    (backup,) = (repo / "runs/backups/i1").iterdir()
    assert (backup / "model.py").read_text().endswith("# my work\n")
    rc, out = tinycnn(repo, "reset", "i1", "--undo")
    assert rc == 0 and model.read_text().endswith("# my work\n")
    rc, out = tinycnn(repo, "reset", "i1", "--undo")
    assert rc != 0 and "no backup" in out


def test_solution_waits_for_a_pass(repo):
    solve(repo, "i2")
    rc, out = tinycnn(repo, "solution", "i2")
    assert rc == 1 and "has not passed yet" in out and "--anyway" in out
    assert "class Net" not in out
    model = repo / "steps/i2/model.py"
    ref = re.search(r"p_drop: float = ([\d.]+)\)", model.read_text())
    model.write_text(model.read_text().replace(ref.group(0),
                                               "p_drop: float = 0.1)"))
    rc, out = tinycnn(repo, "solution", "i2", "--anyway")
    assert rc == 0 and "teaches less" in out
    assert "-    def __init__(self, p_drop: float = 0.1)" in out
    assert f"+    def __init__(self, {ref.group(0)}" in out


def read_until(proc, needle, timeout):
    """Lines of proc's stdout up to one holding `needle`, each with the
    time it arrived."""
    got, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        got.append((time.monotonic(), line))
        if needle in line:
            return got
    raise AssertionError(f"no {needle!r} within {timeout}s: {got}")


def test_watch_regrades_within_two_seconds_of_a_save(repo):
    solve(repo, "i0")
    proc = subprocess.Popen([sys.executable, "-m", "tinycnn", "watch", "i0"],
                            cwd=repo, env=env(repo), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            preexec_fn=with_ctrl_c)
    try:
        read_until(proc, "structure checks pass", 120)
        time.sleep(0.5)  # the watcher is back to polling
        model = repo / "steps/i0/model.py"
        edited = model.with_name("model.py.new")
        edited.write_text(model.read_text().replace("24 * 7 * 7", "24 * 7 * 8"))
        saved = time.monotonic()
        os.replace(edited, model)  # one save, as an editor does: no half file
        lines = read_until(proc, "--- checking", 10)
        assert lines[-1][0] - saved < 2.0
        lines = read_until(proc, "structure checks pass", 120)
        assert any(line.startswith("FAIL") for _, line in lines)
        assert not any("train loss" in line for _, line in lines)  # no training
    finally:
        proc.send_signal(signal.SIGINT)
        out = proc.communicate(timeout=180)[0]  # a loaded machine is slow
    assert "stopped watching" in out


def test_watch_by_hand_checks_on_enter(repo):
    solve(repo, "i0")
    rc, out = tinycnn(repo, "watch", "i0", "--manual", stdin="\n\n")
    assert rc == 0 and out.count("--- checking") == 3  # start + 2 Enters


NOTEBOOK_CELL = """
from tinycnn import grade
report = grade("i0", impl="solutions", train=False)
print(report)
print(report.passed, "<table>" in report._repr_html_())
"""


def test_grade_from_python(repo):
    out = subprocess.run([sys.executable, "-c", NOTEBOOK_CELL], cwd=repo,
                         env=env(repo), capture_output=True, text=True,
                         timeout=300)
    assert "5/5 checks passed" in out.stdout, out.stdout + out.stderr
    assert out.stdout.strip().endswith("True True")


@pytest.mark.slow
def test_a_passed_step_opens_its_solution(repo):
    """One real grade of i0 (one epoch): status says passed, the next step
    is the next thing, and the solution opens."""
    solve(repo, "i0")
    out = subprocess.run([sys.executable, "-m", "pytest", "checks/i0", "-q",
                          "-p", "no:cacheprovider"], cwd=repo, env=env(repo),
                         capture_output=True, text=True, timeout=900)
    results = json.loads((repo / "runs/steps/i0/results.json").read_text())
    assert all(t["status"] == "passed" for t in results["tests"]), out.stdout
    rc, out = tinycnn(repo, "status")
    assert "i0  The baseline" in out and "passed (" in out
    assert "next: fill in steps/i1/model.py" in out
    rc, out = tinycnn(repo, "solution", "i0")
    assert rc == 0 and "model.py: the same as the reference" in out
