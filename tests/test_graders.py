"""The graders, run as a learner runs them (pytest checks/iN in a
subprocess): references pass, skeletons fail clearly, the test files agree
with the course manifest, Ctrl-C is reported, results.json is complete.
Broken and unusual models are the mutant library's (test_mutants.py)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT, grade, with_ctrl_c

from tinycnn.course import CHECKS, STEPS, structure, title
from tinycnn.sandbox.isolation import temp_root
from tinycnn.sandbox.probe import PREFIX

STEP_NAMES = list(STEPS)


@pytest.mark.parametrize("step", STEP_NAMES)
def test_solutions_pass_structure(step, tmp_path):
    data, failed, out = grade("solutions", step, tmp_path / "r.json",
                              "-m", "not slow")
    assert not failed, out
    names = [t["name"] for t in data["tests"]]
    # one row per check of the manifest, in its order (accuracy is slow)
    assert names == [title(c, STEPS[step]) for c in structure(STEPS[step])]
    assert all(t["output"] for t in data["tests"]), data  # a pass says why


@pytest.mark.parametrize("step", STEP_NAMES)
def test_skeletons_fail_clearly(step, tmp_path):
    data, failed, out = grade("steps", step, tmp_path / "r.json",
                              "-m", "not slow")
    assert len(failed) == len(data["tests"]), out
    for t in data["tests"]:
        assert (t["output"].startswith("not implemented yet: TODO(")
                or t["output"] == "not run: blocked by builds"), t
        assert "Traceback" not in t["output"]


def test_check_files_follow_the_manifest():
    """checks/iN exists for every step and nothing else; each names one
    test per check of the step, in the manifest's order, documented by
    the check's title and rule, and registered by the grader."""
    import ast

    from tinycnn.grader.checks import JUDGES

    assert set(JUDGES) == set(CHECKS)
    found = sorted(p.name for p in (ROOT / "checks").glob("i*") if p.is_dir())
    assert found == sorted(STEPS)
    for step, spec in STEPS.items():
        tree = ast.parse((ROOT / f"checks/{step}/test_{step}.py").read_text())
        tests = [f for f in tree.body if isinstance(f, ast.FunctionDef)]
        assert [f.name for f in tests] == [f"test_{c}" for c in spec.checks]
        for f, c in zip(tests, spec.checks, strict=True):
            doc = ast.get_docstring(f)
            assert doc.splitlines()[0] == title(c, spec)
            assert " ".join(doc.split()[len(title(c, spec).split()):]) == \
                " ".join(CHECKS[c].rule.split())


def test_two_steps_in_one_run_keep_all_rows(tmp_path):
    out = tmp_path / "r.json"
    cmd = [sys.executable, "-m", "pytest", "checks/i0", "checks/i1",
           "--impl=solutions", f"--results={out}", "-m", "not slow",
           "-p", "no:cacheprovider", "-q"]
    subprocess.run(cmd, cwd=ROOT, capture_output=True, timeout=300)
    data = json.loads(out.read_text())
    n = sum(len(STEPS[s].checks) - 1 for s in ("i0", "i1"))
    assert len(data["tests"]) == n and data["score"] == n


def test_ctrl_c_is_reported_as_interrupted(tmp_path):
    """SIGINT while the probe runs: that check is 'interrupted', never passed."""
    impl = tmp_path / "impl"
    shutil.copytree(ROOT / "solutions/i3", impl / "i3")
    model = impl / "i3/model.py"
    # the probe runs sandboxed in a copy of the folder: it marks that copy
    tag = f"started-{os.getpid()}"
    model.write_text(f"import time\nopen({tag!r}, 'w').close()\n"
                     "time.sleep(60)\n" + model.read_text())
    out = tmp_path / "r.json"
    cmd = [sys.executable, "-m", "pytest", "checks/i3", f"--impl={impl}",
           f"--results={out}", "-m", "not slow", "-p", "no:cacheprovider"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            preexec_fn=with_ctrl_c)
    deadline = time.monotonic() + 180  # a cold start imports torch twice
    while not list(temp_root().glob(f"{PREFIX}*/step/{tag}")):  # in it
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    text, _ = proc.communicate(timeout=240)  # a loaded machine is slow
    data = json.loads(out.read_text())
    statuses = [t["output"] for t in data["tests"]]
    assert any("interrupted" in s for s in statuses), text
    assert data["score"] == 0, data
    assert "STOP" in text


def test_learner_sees_training_lines(tmp_path):
    """The grader prints epoch lines and a time estimate while it trains,
    through pytest's capture (a 1-epoch i0, a few seconds)."""
    env = {**os.environ, "TINYCNN_RUNS": str(tmp_path / "runs")}
    cmd = [sys.executable, "-m", "pytest", "checks/i0", "--impl=solutions",
           f"--results={tmp_path / 'r.json'}", "-p", "no:cacheprovider",
           "-k", "accuracy"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                         env=env, timeout=600)
    assert "epoch  1" in out.stdout, out.stdout
    assert "about" in out.stdout and "this machine" in out.stdout, out.stdout
    assert "final test accuracy" in out.stdout
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                           env=env, timeout=600)
    assert "reusing the run of" in again.stdout, again.stdout


def test_each_check_comes_after_what_it_needs():
    """A check runs only after the checks it needs (Check.after), so each
    must be graded earlier in every step that grades it; and exactly the
    checks that train are the ones `-m "not slow"` leaves out."""
    for spec in STEPS.values():
        for i, c in enumerate(spec.checks):
            assert set(CHECKS[c].after) <= set(spec.checks[:i]), (spec.step, c)
    import importlib.util

    path = ROOT / "checks/i3/test_i3.py"
    spec_ = importlib.util.spec_from_file_location("test_i3_file", path)
    module = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(module)
    tests = {n: t for n, t in vars(module).items() if n.startswith("test_")}
    slow = {n for n, t in tests.items()
            if any(m.name == "slow" for m in getattr(t, "pytestmark", []))}
    assert slow == {f"test_{c}" for c in STEPS["i3"].checks
                    if c not in structure(STEPS["i3"])}
