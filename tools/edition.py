"""`python -m tools student-edition DIR`: the repository students get.

A student's copy holds the workspace (steps/, the skeletons), the graders
(checks/, each step with a pristine copy of its skeleton, which `python -m
tinycnn reset` and a missing file in an autograder use), the library
(tinycnn/), the lessons without their answers, the notebook, the Classroom
workflow and what setting up needs. It leaves out solutions/, the
reference records, checkpoints and seed tables (benchmarks/), the project's
tests (their mutants are edits of the references), the authoring tools
and the instructors' folder and page.

In the lessons, each "After you pass" section and each fold whose title
names the reference are cut, and the generated snippets and pictures that
only those held are not copied; `tests/test_edition.py` checks that no
line of a reference's code is left anywhere in the edition.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from tinycnn.course import STEPS
from tinycnn.learner.workspace import PRISTINE, skeleton
from tinycnn.paths import ROOT

TOP = ("tinycnn", "checks", "steps", "docs", "notebooks", ".github", "make.py",
       ".gitignore", "pyproject.toml", "requirements.lock", "mkdocs.yml")
LEFT_OUT_PAGES = ("instructors.md",)
# the course's own CI on three OSes grades the references: not a student's
LEFT_OUT = (".github/workflows/platforms.yml",)
ANSWER_FOLD = re.compile(r'^\?\?\?\+? \w+ ".*\breference\b', re.IGNORECASE)
INCLUDE = re.compile(r'--8<-- "([^"]+)"')
RELEASED = ("\nThe reference solution is not in your copy of the course: "
            "your instructor releases it, usually after the deadline.\n\n")
IMAGE = re.compile(r"\(((?:\.\./)?assets/[^)\s]+)\)")
# what only the course's own repository has (its make targets, benchmarks/)
COURSE_ONLY = re.compile(r"<!-- course-only -->.*?<!-- /course-only -->\n?",
                         re.S)

MAKEFILE = """\
# The commands a student needs (each is `python make.py COMMAND`, which
# works without make, on Windows too):
#   make setup   a virtual environment in .venv, PyTorch, MNIST
#   make check   the structure checks of every step (seconds each)
#   make serve   the lessons, on http://127.0.0.1:8000
PY ?= python3

.PHONY: setup check serve

setup check serve:
\t$(PY) make.py $@
"""


def readme() -> str:
    rows = "\n".join(
        f"| {s} | {spec.title} | {spec.max_params:,} | {spec.max_epochs} | "
        f"{spec.pass_acc} % |" for s, spec in STEPS.items())
    return f"""# tinycnn: a tiny CNN for MNIST, step by step

Build a convolutional network that reaches **99.4 % test accuracy on
MNIST with fewer than 20,000 parameters in at most 20 epochs**, one step at
a time. Each step is graded by its own checks, which say what is missing
and how to fix it.

| step | what | parameters, at most | epochs, at most | pass mark |
|---|---|---:|---:|---:|
{rows}

## Start

You need Python 3.10 or newer. `make setup` and `python make.py setup`
are the same command (Windows: `py make.py setup`, then
`.venv\\Scripts\\activate`).

```bash
python make.py setup            # .venv, PyTorch, MNIST
source .venv/bin/activate
python -m tinycnn status        # where you are, and the next thing to do
python make.py serve            # the lessons, on http://127.0.0.1:8000
```

Your workspace is `steps/iN/`: `model.py` (the network and its shape
table) and `train.py` (the recipe). Grade a step with `pytest checks/iN`
(it trains: minutes on a CPU) or only its structure with `pytest checks/iN
-m "not slow"` (seconds); `python -m tinycnn hint iN` gives the next hint,
`python -m tinycnn watch iN` re-checks on every save.

The reference solutions are not in this copy: your instructor releases
them. Your grade for the record comes from the course's own grader, run by
your instructor (GitHub Classroom or Gradescope), on your `model.py` and
`train.py` only.
"""


def answer_files() -> set[str]:
    """Generated snippets that hold a reference: code, layer tables."""
    return {f"docs/generated/{s}-{kind}.md" for s in STEPS
            for kind in ("model", "train", "layers")}


def lesson(text: str, dropped: set[str]) -> str:
    """A lesson without its answers: no "After you pass" section, no fold
    that names the reference, no include of a dropped snippet, nothing
    marked course-only."""
    text = COURSE_ONLY.sub("", text)
    out, skipping, fold = [], False, False
    for line in text.splitlines(keepends=True):
        if line.startswith("## "):
            skipping = "after you pass" in line.lower()
            if skipping:
                out.append(line + RELEASED)
        if skipping:
            continue
        if fold:
            if line.strip() == "" or line.startswith("    "):
                continue
            fold = False
        if ANSWER_FOLD.match(line):
            fold = True
            continue
        m = INCLUDE.search(line)
        if m and m.group(1) in dropped:
            continue
        out.append(line)
    return "".join(out)


def build(dest: Path, source: Path = ROOT) -> list[Path]:
    """Write the student edition of `source` into `dest` (new or empty)."""
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise SystemExit(f"{dest} is not empty")
    tracked = subprocess.run(["git", "ls-files", "--cached", "--others",
                              "--exclude-standard"], cwd=source, text=True,
                             capture_output=True, check=True).stdout.split()
    dropped = answer_files()
    pages = {}
    for rel in tracked:
        if rel.split("/")[0] not in TOP or rel in dropped or \
                rel in LEFT_OUT or \
                rel in (f"docs/{p}" for p in LEFT_OUT_PAGES):
            continue
        if rel.startswith("docs/assets/"):
            continue  # copied below: only what the pages still show
        src = source / rel
        if rel.startswith("docs/") and rel.endswith(".md") and \
                not rel.startswith("docs/generated/"):
            pages[rel] = lesson(src.read_text(), dropped)
            continue
        if rel.startswith("docs/generated/") and rel.endswith(".md"):
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            (dest / rel).write_text(COURSE_ONLY.sub("", src.read_text()))
            continue
        _copy(src, dest / rel)
    shown = set()
    for rel, text in pages.items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text(text)
        shown |= _images(text)
    for rel in list((dest / "docs/generated").glob("*.md")):
        shown |= _images(rel.read_text())
    for rel in shown:
        src = source / "docs" / rel.removeprefix("../")
        if src.is_file():
            _copy(src, dest / "docs" / rel.removeprefix("../"))
    for step in STEPS:
        for name, text in skeleton(step).items():
            path = dest / "checks" / step / PRISTINE / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    nav = (dest / "mkdocs.yml").read_text()
    for page in LEFT_OUT_PAGES:
        nav = re.sub(rf"\n  - [^\n]*: {re.escape(page)}", "", nav)
    (dest / "mkdocs.yml").write_text(nav)
    (dest / "Makefile").write_text(MAKEFILE)
    (dest / "README.md").write_text(readme())
    return sorted(p for p in dest.rglob("*") if p.is_file())


def check_step(step: str) -> None:
    """ValueError unless `step` is a step of the course."""
    from tinycnn.course import STEPS

    if step not in STEPS:
        raise ValueError(f"{step!r} is not a step of the course "
                         f"({', '.join(STEPS)})")


def gradescope_zip(edition: Path, zip_path: Path, step: str,
                   source: Path = ROOT) -> Path:
    """The autograder zip Gradescope takes for an assignment of `step`:
    the edition, with setup.sh and run_autograder at its top (executable),
    run_autograder set to grade `step`."""
    import zipfile

    check_step(step)
    scripts = {name: (source / "instructors/gradescope" / name).read_bytes()
               for name in ("setup.sh", "run_autograder")}
    unset = b"STEP=${STEP:-}\n"
    assert scripts["run_autograder"].count(unset) == 1
    scripts["run_autograder"] = scripts["run_autograder"].replace(
        unset, b"STEP=${STEP:-%s}\n" % step.encode())

    # strict_timestamps=False: a file dated before 1980 (a checkout made
    # reproducible dates files 1970) gets 1980 instead of failing the zip
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED,
                         strict_timestamps=False) as z:
        for p in sorted(Path(edition).rglob("*")):
            if p.is_file():
                z.write(p, p.relative_to(edition))
        for name, script in scripts.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16
            z.writestr(info, script)
    return zip_path


def _images(text: str) -> set[str]:
    return {m.group(1) for m in IMAGE.finditer(text)}


def _copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dest)
