"""Every file that follows from the course manifest (tinycnn/course.py)
and the solutions, written in one go:

- steps/iN/*.py: the learner's skeletons (tinycnn.learner.skeleton);
- checks/iN/test_iN.py: the thin grader of each step;
- the "Steps" section of mkdocs.yml's nav;
- the step matrix of the Classroom workflow;
- the first code cell of each notebook (notebooks/setup_cell.py: where
  the course is, or on Colab clone and install it);
- the README's step table, from the manifest and the committed records
  (a step without a record or a timed `make course` says "not measured").

Adding a step is a `Spec` in the manifest, a solutions/iN folder and a
lesson docs/iN.md; `python -m tools derive` does the rest, and a test
fails while any of these is stale.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from tinycnn.course import STEPS
from tinycnn.learner.skeleton import generate

CHECK_FILE = '''"""Grader for step {step}: one test per check that tinycnn/course.py
lists for {step}, each documented by its rule as the lesson states it.

    pytest checks/{step}                  every check; the accuracy check trains
    pytest checks/{step} -m "not slow"    the structure checks: seconds

Each test hands its check to the grader (tinycnn/grade: CONTRIBUTING says
the path a grade walks); your code runs only in a sandboxed process.
Written by `python -m tools derive` from the manifest: edit the manifest.
"""

import pytest

from tinycnn.grader.plugin import judge
{tests}'''
CHECK_TEST = '''

{mark}def test_{check}(graded):
    """{title}

{rule}
    """
    judge(graded, "{check}")
'''


def check_file(step: str) -> str:
    """checks/{step}/test_{step}.py: a named test per check of the step."""
    import textwrap

    from tinycnn.course import CHECKS, title

    spec = STEPS[step]
    tests = "".join(CHECK_TEST.format(
        check=c, title=title(c, spec),
        mark="@pytest.mark.slow\n" if CHECKS[c].trains else "",
        rule=textwrap.fill(CHECKS[c].rule, 72, initial_indent="    ",
                           subsequent_indent="    "))
        for c in spec.checks)
    return CHECK_FILE.format(step=step, tests=tests)


def nav(text: str) -> str:
    """mkdocs.yml with its Steps section listing every step."""
    lines = "".join(f'      - "{s} · {spec.title}": {s}.md\n'
                    for s, spec in STEPS.items())
    new, n = re.subn(r"(  - Steps:\n)(?:      - .*\n)+",
                     lambda m: m.group(1) + lines, text)
    if n != 1:
        raise ValueError("mkdocs.yml has no '  - Steps:' section in its nav")
    return new


def matrix(text: str) -> str:
    """The Classroom workflow with every step in each job's matrix."""
    new, n = re.subn(r"(\n\s+step: )\[[^\]]*\]",
                     lambda m: m.group(1) + "[" + ", ".join(STEPS) + "]",
                     text)
    if n == 0:
        raise ValueError("the workflow has no 'step: [...]' matrix")
    return new


SETUP_CELL = "course-setup"  # the id of the cell setup_cell.py fills


def setup_cell(text: str, cell: str) -> str:
    """A notebook (its JSON) whose setup cell holds `cell`."""
    nb = json.loads(text)
    found = [c for c in nb["cells"] if c.get("id") == SETUP_CELL]
    if len(found) != 1:
        raise ValueError(f"no cell with id {SETUP_CELL!r}")
    found[0]["source"] = cell.rstrip("\n").splitlines(keepends=True)
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


TABLE = re.compile(r"(<!-- steps:[^\n]*-->\n).*?(<!-- /steps -->)", re.S)


def readme(text: str) -> str:
    """The README with its step table made from the manifest: each step's
    rules, nothing of its reference (no widths, no parameter count) and
    no machine's timing (those are on the Results page)."""
    rows = [" | ".join([
        f"| [{step}](docs/{step}.md)", spec.about,
        f"≤ {spec.max_params:,}",
        str(spec.max_epochs) if spec.max_epochs == 1
        else f"≤ {spec.max_epochs}", f"{spec.pass_acc} %"]) + " |"
        for step, spec in STEPS.items()]
    table = "\n".join([
        "| step | you add | parameters | epochs | pass mark |",
        "|---|---|---:|---:|---:|", *rows]) + "\n"
    new, n = TABLE.subn(lambda m: m.group(1) + table + m.group(2), text)
    if n != 1:
        raise ValueError("README.md has no <!-- steps: --> ... "
                         "<!-- /steps --> table")
    return new


def derived(root: Path) -> dict[Path, str]:
    """{path: content} of every derived file under `root`."""
    files = dict(generate(root / "solutions", root / "steps"))
    for step in STEPS:
        files[root / "checks" / step / f"test_{step}.py"] = check_file(step)
    for path, fix in ((root / "mkdocs.yml", nav),
                      (root / ".github/workflows/classroom.yml", matrix),
                      (root / "README.md", readme)):
        files[path] = fix(path.read_text())
    cell = (root / "notebooks" / "setup_cell.py").read_text()
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        files[path] = setup_cell(path.read_text(), cell)
    return files


def write(root: Path) -> list[Path]:
    """Write what changed; return those paths."""
    changed = []
    for path, text in derived(root).items():
        if not path.is_file() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            changed.append(path)
    return changed
