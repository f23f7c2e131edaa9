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
    assert data["output"].startswith("learner code ran in a sandbox: ")
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
        assert "make -C grader setup" in runs
        assert any("tinycnn.autograde --step ${{ matrix.step }}" in r
                   for r in runs)
        assert "TINYCNN_GRADER_REPO" in job["if"]  # nothing runs unset
    assert jobs["accuracy"]["needs"] == "structure"
    # running the grading command on attacks and the reference:
    # tests/test_attacks.py


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_gradescope_script_grades_a_submission(tmp_path):
    """run_autograder on a fake /autograder tree (AUTOGRADER moves it): a
    passing submission, and a missing file graded as the skeleton."""
    ag = tmp_path / "autograder"
    (ag / "submission").mkdir(parents=True)
    (ag / "source").symlink_to(ROOT)
    for f in ("model.py", "train.py"):
        shutil.copy(ROOT / "solutions/i3" / f, ag / "submission" / f)
    script = ROOT / "instructors/gradescope/run_autograder"
    env = {**os.environ, "STEP": "i3", "SLOW": "0", "AUTOGRADER": str(ag),
           "PYTHON": sys.executable}
    out = subprocess.run(["bash", str(script)], env=env, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    res = json.loads((ag / "results/results.json").read_text())
    assert res["score"] == len(res["tests"]) >= 8, res
    (ag / "submission/train.py").unlink()
    out = subprocess.run(["bash", str(script)], env=env, capture_output=True,
                         text=True)
    res = json.loads((ag / "results/results.json").read_text())
    assert "graded as the skeleton: ['train.py']" in out.stdout
    assert res["score"] < len(res["tests"]), res


def test_the_autograder_parent_does_not_import_torch():
    """It only copies files, starts the grader and writes the results:
    importing torch there cost 1.4 s of every submission's grade."""
    code = ("import sys, tinycnn.autograde; "
            "sys.exit('torch' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
