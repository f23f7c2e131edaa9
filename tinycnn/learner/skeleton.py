"""Derive the learner's skeletons (steps/) from the solutions (solutions/).

In a solution file, the learner's part sits between two marker lines:

    # >>> TODO: what to write (lesson: "Section")
    ...solution...
    # <<<

In the skeleton it becomes `raise NotImplementedError("TODO(iN): ...")`,
at the same indentation, so signatures and type hints stay exact.
"""

from __future__ import annotations

import re
from pathlib import Path

BEGIN = re.compile(r"^(\s*)# >>> TODO: (.*)$")
END = re.compile(r"^\s*# <<<\s*$")


def strip(source: str, step: str) -> str:
    out, inside = [], False
    for n, line in enumerate(source.splitlines(), 1):
        m = BEGIN.match(line)
        if m:
            if inside:
                raise ValueError(f"line {n}: '# >>> TODO' inside a block")
            indent, what = m.groups()
            todo = f"TODO({step}): {what}"
            out.append(f"{indent}raise NotImplementedError({todo!r})")
            inside = True
        elif END.match(line):
            if not inside:
                raise ValueError(f"line {n}: '# <<<' without '# >>> TODO'")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError("a '# >>> TODO' block is never closed")
    return "\n".join(out) + "\n"


def generate(solutions: Path, steps: Path) -> dict[Path, str]:
    """{path in steps/: skeleton text} for every solution file."""
    files = {}
    for src in sorted(solutions.glob("i*/*.py")):
        step = src.parent.name
        files[steps / step / src.name] = strip(src.read_text(encoding="utf-8"), step)
    return files


def write(solutions: Path, steps: Path) -> list[Path]:
    files = generate(solutions, steps)
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)
