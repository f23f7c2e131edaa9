"""Instructor tooling: results.json in Gradescope's format, the classroom
workflow parsed and its grading command run, the Gradescope script run."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml
from conftest import ROOT, grade

from tinycnn.course import STEPS as SPECS


def test_results_json_is_gradescope_format(tmp_path):
    data, _, _ = grade("steps", "i2", tmp_path / "r.json", "-m", "not slow")
    assert isinstance(data["score"], float)
    for t in data["tests"]:
        assert set(t) >= {"name", "score", "max_score", "status", "output"}
        assert t["status"] in ("passed", "failed")
        assert 0 <= t["score"] <= t["max_score"]
        assert (t["status"] == "passed" or "Hint:" in t["output"]
                or t["output"] == "not run: blocked by builds"), t


def workflow():
    return yaml.safe_load((ROOT / ".github/workflows/classroom.yml").read_text())


def test_workflow_is_valid():
    wf = workflow()
    assert wf[True if True in wf else "on"] is not None  # YAML 1.1: on -> True
    jobs = wf["jobs"]
    assert set(jobs) == {"structure", "accuracy"}
    for job in jobs.values():
        steps = job["strategy"]["matrix"]["step"]
        assert steps == list(SPECS)  # every step, none that is not one
        runs = [s["run"] for s in job["steps"] if "run" in s]
        assert "make setup" in runs
        assert any("pytest checks/${{ matrix.step }}" in r for r in runs)
    assert jobs["accuracy"]["needs"] == "structure"


def test_workflow_structure_command_runs(tmp_path):
    """The structure job's grading line, as the runner would run it."""
    job = workflow()["jobs"]["structure"]
    line = next(s["run"] for s in job["steps"] if "Grade" in s.get("name", ""))
    cmd = line.replace("${{ matrix.step }}", "i1").replace(
        ".venv/bin/python", sys.executable).split()
    cmd = [c.strip('"') for c in cmd]
    cmd[cmd.index("not"):cmd.index("slow") + 1] = ["not slow"]
    out = subprocess.run(cmd + ["--impl=solutions",
                                f"--results={tmp_path}/r.json"],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_gradescope_script_grades_a_submission(tmp_path):
    """run_autograder on a fake /autograder tree: a passing submission."""
    src = (ROOT / "instructors/gradescope/run_autograder").read_text()
    ag = tmp_path / "autograder"
    (ag / "submission").mkdir(parents=True)
    for f in ("model.py", "train.py"):
        shutil.copy(ROOT / "solutions/i3" / f, ag / "submission" / f)
    script = tmp_path / "run"
    script.write_text(src.replace("/autograder", str(ag)).replace(
        "cd " + str(ag) + "/source", f"cd {ROOT}").replace(
        ".venv/bin/python", sys.executable))
    env = {**os.environ, "STEP": "i3", "SLOW": "0"}
    out = subprocess.run(["bash", str(script)], env=env, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    res = json.loads((ag / "results/results.json").read_text())
    assert res["score"] == len(res["tests"]) >= 8, res
