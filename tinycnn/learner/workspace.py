"""A learner's step folders: where they are, the TODOs still raising in
them, the skeleton they started from, and (for trusted use only: the
course's own experiments, benchmarks and notebooks) a step's model.py
and train.py imported in-process. The grader never imports them: it
probes them in the sandbox."""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from tinycnn.course import LEARNER_FILES, STEPS
from tinycnn.learner.skeleton import strip
from tinycnn.paths import ROOT
from tinycnn.sandbox.inside import import_file


@dataclass
class Step:
    path: Path          # the folder, e.g. steps/i3
    model: ModuleType   # its model.py: Net, layer_shapes
    train: ModuleType   # its train.py: recipe, main

    @property
    def name(self) -> str:  # "i3"
        return self.path.name


def load_step(folder: str | Path) -> Step:
    folder = Path(folder).resolve()
    missing = [n for n in LEARNER_FILES if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} has no {', '.join(missing)}")
    tag = hashlib.md5(str(folder).encode()).hexdigest()[:8]
    # a unique module name per file, so steps never shadow each other
    names = [f"tinycnn_step_{tag}_{folder.name}_{f[:-3]}" for f in LEARNER_FILES]
    return Step(folder, *(import_file(folder / f, n)
                          for f, n in zip(LEARNER_FILES, names, strict=True)))


def folder_of(step: str, impl: str = "steps") -> Path:
    if step not in STEPS:
        raise SystemExit(f"no step {step!r}; steps: {', '.join(STEPS)}")
    return ROOT / impl / step


def todos(folder: Path) -> list[str]:
    """The TODO markers still raising in the learner's files."""
    found = []
    for name in LEARNER_FILES:
        path = folder / name
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        for line in text.splitlines():
            code = line.strip()
            if code.startswith("raise NotImplementedError(") and "TODO(" in code:
                try:
                    what = ast.literal_eval(code[len("raise NotImplementedError("):-1])
                except (ValueError, SyntaxError):
                    what = code
                found.append(f"{name}: {what}")
    return found


PRISTINE = "skeleton"  # checks/iN/skeleton/: the student edition's copy


def skeleton(step: str) -> dict[str, str]:
    """The step's skeleton files: derived from the reference, or, in a
    student edition (no solutions/), its pristine copy in checks/iN/."""
    ref = ROOT / "solutions" / step
    if ref.is_dir():
        return {n: strip((ref / n).read_text(encoding="utf-8"), step)
                for n in LEARNER_FILES}
    return {n: (ROOT / "checks" / step / PRISTINE / n).read_text(encoding="utf-8")
            for n in LEARNER_FILES}


def untouched(folder: Path) -> bool:
    sk = skeleton(folder.name)
    return all((folder / n).is_file()
               and (folder / n).read_text(encoding="utf-8") == sk[n]
               for n in LEARNER_FILES)
