"""The student edition (python -m tools student-edition): no answer in it,
and everything a student runs works there: the lessons build, a skeleton
fails with guidance, a reference copied in passes (structure, and i0's
accuracy by training), reset restores the skeleton, solution says the
instructor releases it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import make
from tinycnn.course import STEPS
from tinycnn.paths import ROOT
from tools.edition import answer_files, build, gradescope_zip

pytestmark = pytest.mark.install  # a copy of the course, graded there

@pytest.fixture(scope="module")
def edition(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("edition")
    build(dest)
    return dest


def answer_lines() -> set[str]:
    """The lines a learner writes in each reference model.py (inside its
    TODO blocks), long enough to be the design and not shared with the
    library's own code."""
    library = "".join(p.read_text() for p in (ROOT / "tinycnn").rglob("*.py"))
    found = set()
    for path in (ROOT / "solutions").glob("i*/model.py"):
        inside = False
        for line in path.read_text().splitlines():
            if "# >>> TODO" in line:
                inside = True
            elif line.strip() == "# <<<":
                inside = False
            else:
                code = line.split("#")[0].strip()
                if inside and len(code) >= 14 and code not in library:
                    found.add(code)
    return found


def test_no_answer_in_the_edition(edition):
    for top in ("solutions", "benchmarks", "tests", "tools", "instructors",
                ".ci", "runs", "data"):
        assert not (edition / top).exists(), top
    assert not list(edition.rglob("*.pt")), "a checkpoint"
    for rel in answer_files():
        assert not (edition / rel).exists(), rel
    lines = answer_lines()
    assert len(lines) > 40  # the check has something to find
    for path in edition.rglob("*"):
        if path.is_file() and path.suffix in (".py", ".md", ".yml", ".ipynb",
                                              ".toml", ".txt", ".json", ""):
            text = path.read_text(errors="ignore")
            leaked = [a for a in lines if a in text]
            assert not leaked, (path, leaked[:3])
    lesson = (edition / "docs/i3.md").read_text()
    assert "instructor releases it" in lesson
    assert "The reference's layer table" not in lesson


def test_the_check_finds_a_planted_answer(tmp_path):
    """The answer-line check can fail: plant one reference line."""
    line = sorted(answer_lines())[0]
    (tmp_path / "notes.md").write_text(f"my notes: {line}\n")
    text = (tmp_path / "notes.md").read_text()
    assert any(a in text for a in answer_lines())


def run(edition: Path, *args: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=edition,
                          capture_output=True, text=True, timeout=900,
                          env={**os.environ, "TINYCNN_DATA": str(ROOT / "data"),
                               "TINYCNN_RUNS": str(edition / "runs"), **env})


def grade(edition: Path, step: str, *args: str) -> dict:
    out = edition / f"results-{step}.json"
    run(edition, "-m", "pytest", f"checks/{step}", f"--results={out}",
        "-p", "no:cacheprovider", "-q", *args)
    return json.loads(out.read_text())


def test_skeleton_fails_with_guidance(edition):
    data = grade(edition, "i3", "-m", "not slow")
    assert data["score"] == 0
    assert any(t["output"].startswith("not implemented yet: TODO(i3)")
               for t in data["tests"]), data


def test_reference_copied_in_passes(edition):
    """What a student who wrote the reference gets: full marks, i0 trained
    (one epoch) by the edition's own grader."""
    import shutil

    for step in ("i3", "i0"):
        for name in ("model.py", "train.py"):
            shutil.copy(ROOT / "solutions" / step / name,
                        edition / "steps" / step / name)
    data = grade(edition, "i3", "-m", "not slow")
    assert data["score"] == len(data["tests"]) >= 7, data
    data = grade(edition, "i0", "--retrain")
    assert data["score"] == len(data["tests"]), data
    assert any(t["name"].startswith("final test accuracy")
               for t in data["tests"])


def test_learner_commands_work_without_solutions(edition):
    out = run(edition, "-m", "tinycnn", "solution", "i2")
    assert "instructor releases" in out.stdout, out.stdout + out.stderr
    skeleton = (edition / "checks/i2/skeleton/model.py").read_text()
    (edition / "steps/i2/model.py").write_text("# my work\n")
    out = run(edition, "-m", "tinycnn", "reset", "i2")
    assert out.returncode == 0, out.stdout + out.stderr
    assert (edition / "steps/i2/model.py").read_text() == skeleton


def test_make_py_in_the_edition(edition):
    """A student's two commands without make: check runs every step's
    structure checks (skeletons: not passed), course says it is not
    theirs; the course's own three-OS workflow is not in the copy."""
    venv = ["make.py", "--venv", sys.prefix]
    for name in make.LOCKED:  # so make.py never installs this copy into
        os.utime(edition / name, (0, 0))  # the venv that runs the tests
    out = run(edition, *venv, "check", "i1", "i2")
    assert out.returncode == 1 and "not passed yet: i1, i2" in out.stderr, \
        out.stdout + out.stderr
    out = run(edition, *venv, "course")
    assert out.returncode == 1 and "no solutions/" in out.stderr
    assert not (edition / ".github/workflows/platforms.yml").exists()
    assert (edition / ".github/workflows/classroom.yml").exists()


def test_lessons_build(edition, tmp_path):
    mkdocs = Path(sys.executable).with_name("mkdocs")
    if not mkdocs.exists():
        pytest.skip("mkdocs not installed")
    out = subprocess.run([str(mkdocs), "build", "--strict", "-d",
                          str(tmp_path / "site")], cwd=edition,
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert out.returncode == 0, out.stdout + out.stderr


def test_gradescope_zip(edition, tmp_path):
    os.utime(edition / "pyproject.toml", (0, 0))  # dated 1970: still zips
    with pytest.raises(ValueError, match="not a step"):
        gradescope_zip(edition, tmp_path / "bad.zip", "i99")
    path = gradescope_zip(edition, tmp_path / "autograder.zip", "i2")
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        # the assignment's step, unless the environment says otherwise
        assert "STEP=${STEP:-i2}\n" in z.read("run_autograder").decode()
        assert {"setup.sh", "run_autograder", "tinycnn/autograde.py",
                "checks/i3/test_i3.py"} <= names
        assert not [n for n in names if n.startswith("solutions/")]
        mode = z.getinfo("run_autograder").external_attr >> 16
        assert mode & 0o111
    assert set(STEPS) <= {p.name for p in (edition / "steps").iterdir()}


# what a student's copy can run: its Makefile's targets, make.py's commands
# that work without solutions/ and tests/, and every `python -m tinycnn`
EDITION_MAKE = {"setup", "check", "serve"}
EDITION_MAKE_PY = EDITION_MAKE | {"install", "data", "lint"}
COMMAND = re.compile(r"(?:^\s*|`)make ([a-z][\w-]*)|make\.py ([a-z][\w-]*)|"
                     r"python -m tinycnn ([a-z]+)|(python -m tools\b)|"
                     r"(python benchmarks/)", re.M)


def foreign_commands(text: str, tinycnn: set[str],
                     provenance: bool = False) -> list[str]:
    """Commands `text` gives that a student's copy does not have.
    `provenance`: a page of records (Results), which may say which
    script of the course's repository made a number."""
    bad = []
    for m in COMMAND.finditer(text):
        target, script, sub, tools, bench = m.groups()
        if (target and target not in EDITION_MAKE
                or script and script not in EDITION_MAKE_PY
                or sub and sub not in tinycnn
                or (tools or bench) and not provenance):
            bad.append(m.group(0).strip(" `"))
    return bad


def tinycnn_commands() -> set[str]:
    """Every `python -m tinycnn` command, from its parser's source."""
    from tinycnn.paths import ROOT

    src = (ROOT / "tinycnn" / "__main__.py").read_text()
    return set(re.findall(r'add_parser\(\s*"(\w+)"', src)) | {"class"}


def test_the_command_finder_finds_what_a_copy_lacks():
    have = {"status", "hint"}
    assert foreign_commands("run `make course` then `make test`", have) == \
        ["make course", "make test"]
    assert foreign_commands("`python make.py test`", have) == ["make.py test"]
    assert foreign_commands("python -m tinycnn frobnicate", have)
    assert foreign_commands("python -m tools docs", have)
    assert foreign_commands("python benchmarks/seeds.py", have)
    assert not foreign_commands("python benchmarks/seeds.py", have, True)
    assert not foreign_commands("make setup; python make.py check; python "
                                "-m tinycnn hint i3; make the net", have)


def test_the_edition_names_only_commands_it_has(edition):
    have = tinycnn_commands()
    assert {"status", "compare", "map", "summary"} <= have
    pages = [edition / "README.md", *sorted((edition / "docs").rglob("*.md"))]
    for page in pages:
        bad = foreign_commands(page.read_text(), have,
                               provenance=page.name == "results.md")
        assert not bad, (page.relative_to(edition), bad)
