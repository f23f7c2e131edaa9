"""A step is declared once: a throw-away step i5, added the documented
way (one Spec, a solutions folder, a lesson), is picked up by the
graders, the nav, the CI matrix, the README's table and the status
command."""

import os
import shutil
import subprocess
import sys

import yaml
from mkdocs.utils.yaml import get_yaml_loader

from tinycnn.paths import ROOT

SPEC = '''    Spec("i5", "A throw-away step", "proves a step is declared once",
         19_999, 20, 99.4, (*_CORE, "gap", *_TAIL), "a copy of i3"),
]}'''


def run(repo, *cmd):
    env = {**os.environ, "PYTHONPATH": str(repo), "TINYCNN_RUNS": ""}
    out = subprocess.run([sys.executable, *cmd], cwd=repo, env=env,
                         capture_output=True, text=True, timeout=600)
    return out.returncode, out.stdout + out.stderr


def test_a_new_step_needs_one_manifest_entry(tmp_path):
    repo = tmp_path / "repo"
    for part in ("tinycnn", "tools", "solutions", "steps", "checks", "docs",
                 ".github", "notebooks"):
        shutil.copytree(ROOT / part, repo / part,
                        ignore=shutil.ignore_patterns("__pycache__"))
    for f in ("mkdocs.yml", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / f, repo / f)
    shutil.copytree(ROOT / "benchmarks/results", repo / "benchmarks/results")
    course = repo / "tinycnn/course.py"
    head, end, tail = course.read_text().rpartition("\n]}")  # STEPS' end
    assert end and "STEPS = {" in head
    course.write_text(head + "\n" + SPEC + tail)
    shutil.copytree(ROOT / "solutions/i3", repo / "solutions/i5")
    (repo / "docs/i5.md").write_text("# i5 · A throw-away step\n")

    rc, out = run(repo, "-m", "tools", "derive")
    assert rc == 0, out
    assert sorted(out.split()) == sorted([
        ".github/workflows/classroom.yml", "README.md",
        "checks/i5/test_i5.py", "mkdocs.yml", "steps/i5/model.py",
        "steps/i5/train.py"])
    # the step's rules, from the manifest alone
    assert ("| [i5](docs/i5.md) | proves a step is declared once | "
            "≤ 19,999 | ≤ 20 | 99.4 % |") in (repo / "README.md").read_text()
    assert "TODO(i5)" in (repo / "steps/i5/model.py").read_text()
    # mkdocs's own loader: mkdocs.yml uses its !ENV tag
    nav = yaml.load((repo / "mkdocs.yml").read_text(),
                    Loader=get_yaml_loader())["nav"]
    steps = next(e["Steps"] for e in nav if "Steps" in e)
    assert {"i5 · A throw-away step": "i5.md"} in steps
    wf = yaml.safe_load((repo / ".github/workflows/classroom.yml").read_text())
    for job in wf["jobs"].values():
        assert job["strategy"]["matrix"]["step"][-1] == "i5"

    rc, out = run(repo, "-m", "pytest", "checks/i5", "--impl=solutions",
                  "-m", "not slow", "-p", "no:cacheprovider", "-q")
    assert rc == 0 and "grade solutions/i5" in out, out
    assert "8/8 checks passed" in out
    rc, out = run(repo, "-m", "pytest", "checks/i5", "-m", "not slow",
                  "-p", "no:cacheprovider", "-q")
    assert rc == 1 and "not implemented yet: TODO(i5)" in out
    rc, out = run(repo, "-m", "tinycnn", "status")
    assert "i5  A throw-away step" in out
    rc, out = run(repo, "-m", "tools", "derive")
    assert rc == 0 and out == ""  # nothing left to derive
    rc, out = run(repo, "-m", "tools", "check")  # its content is missing
    assert rc == 1 and "docs/lessons.yml: no 'Try this' items for i5" in out
    lessons = repo / "docs/lessons.yml"
    lessons.write_text(lessons.read_text().replace("\n  i4:\n", (
        "\n  i5:\n  - question: Does a copy of i3 pass?\n    variant: i3-15ep"
        "\n    table: try-i3-cpu.json\n    against: the reference\n"
        "    how: nothing\n  i4:\n"), 1))
    rc, out = run(repo, "-m", "tools", "check")
    assert rc == 0, out


def test_no_step_is_named_outside_the_manifest():
    from tools.check import named_steps

    assert not named_steps(), "\n".join(named_steps())


def test_tools_check_passes_and_can_fail(tmp_path):
    """`python -m tools check` (make test runs it) finds the tree as it
    is in order, and says what a step lacks."""
    rc, out = run(ROOT, "-m", "tools", "check")
    assert rc == 0 and "the tree follows the manifest" in out, out
    from tools import check

    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    (repo / "tools").mkdir()
    (repo / "tools/x.py").write_text('STEP = "i3"\n')
    said = check.named_steps(repo)
    assert said == ["tools/x.py:1: a step named: i3"]
    assert any("solutions/i0/model.py: missing" in p
               for p in check.steps_complete(repo))


def test_the_step_name_test_can_fail(tmp_path):
    from tools.check import strings

    f = tmp_path / "x.py"
    f.write_text('"""Run `pytest checks/i3`."""\n# i3 here\nSTEP = "i3"\n')
    assert [s for _, s in strings(f)] == ["i3"]
