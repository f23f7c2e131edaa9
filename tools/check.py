"""`python -m tools check`: every rule that ties the tree to the manifest,
in seconds (the way `rustlings dev check` checks its exercises):

- every file derived from the manifest is fresh (`python -m tools derive`);
- every step has its reference (solutions/iN: model.py, train.py), its
  lesson (docs/iN.md) and its content ("Try this" items in
  docs/lessons.yml), and nothing in them names a step the manifest lacks;
- every check of the manifest has its judge (tinycnn/grader/checks) and
  nothing else has one;
- no step is named outside the manifest and the content (the grading and
  learner code, the build, the instructors' scripts: there a step name is
  a fact kept twice).

It prints what is wrong, one line each, and exits 1 if anything is.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tinycnn.course import CHECKS, LEARNER_FILES, STEPS
from tinycnn.paths import ROOT

# Where a step may not be named: the package, the tools, the instructors'
# scripts and the build's own files. (It may be named in the manifest, in
# the files derived from it, in the lessons and their content file
# docs/lessons.yml, in the solutions, and in the benchmarks that ran it.)
MACHINERY = ("tinycnn/**/*.py", "tools/*.py", "checks/conftest.py", "make.py",
             "instructors/**/*", ".ci/*", "Makefile")
CONTENT = {"tinycnn/course.py"}


def strings(path: Path) -> list[tuple[int, str]]:
    """(line, text) of what a file says, less comments and docstrings (a
    usage line such as `pytest checks/i3` is an example, not a fact)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".py":
        return [(i, re.sub(r"(^|\s)#.*", "", line))
                for i, line in enumerate(text.splitlines(), 1)]
    tree = ast.parse(text)
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef,
                              ast.AsyncFunctionDef))
            and n.body and isinstance(n.body[0], ast.Expr)}
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)
            and id(n) not in docs]


def named_steps(root: Path = ROOT) -> list[str]:
    """'file:line: text' wherever machinery names a step."""
    name = re.compile(r"\b(?:" + "|".join(STEPS) + r")\b")
    found = []
    for pattern in MACHINERY:
        for path in sorted(root.glob(pattern)):
            rel = path.relative_to(root).as_posix()
            if path.is_file() and rel not in CONTENT and \
                    "__pycache__" not in rel:
                found += [f"{rel}:{i}: a step named: {s.strip()[:60]}"
                          for i, s in strings(path) if name.search(s)]
    return found


def stale(root: Path = ROOT) -> list[str]:
    from tools.derive import derived

    return [f"{path.relative_to(root)}: stale: run `python -m tools derive`"
            for path, text in derived(root).items()
            if not path.is_file() or path.read_text() != text]


def steps_complete(root: Path = ROOT) -> list[str]:
    from tools import content

    out = []
    for step in STEPS:
        for name in LEARNER_FILES:
            if not (root / "solutions" / step / name).is_file():
                out.append(f"solutions/{step}/{name}: missing (the "
                           "reference)")
        if not (root / "docs" / f"{step}.md").is_file():
            out.append(f"docs/{step}.md: missing (the lesson)")
        if not content.tries(step):
            out.append(f"docs/lessons.yml: no 'Try this' items for {step}")
    for step in content.raw()["try"]:
        if step not in STEPS:
            out.append(f"docs/lessons.yml: 'Try this' items for {step}, "
                       "which the manifest does not declare")
    for a in content.ablations():
        if a.step not in STEPS:
            out.append(f"docs/lessons.yml: ablation {a.page} of an unknown "
                       f"step {a.step}")
    return out


def checks_judged() -> list[str]:
    from tinycnn.grader.checks import JUDGES

    return ([f"check {c}: in the manifest, with no judge in "
             "tinycnn/grader/checks" for c in CHECKS if c not in JUDGES]
            + [f"judge {c}: no check of that id in the manifest"
               for c in JUDGES if c not in CHECKS])


def problems(root: Path = ROOT) -> list[str]:
    return [*stale(root), *steps_complete(root), *checks_judged(),
            *named_steps(root)]


def main() -> int:
    found = problems()
    for line in found:
        print(line)
    print(f"{len(found)} problem(s)" if found else
          f"the tree follows the manifest: {len(STEPS)} steps, "
          f"{len(CHECKS)} checks")
    return 1 if found else 0
