"""The lessons' content, read from docs/lessons.yml: which recorded runs
each lesson shows and how ("Try this" items, ablations, margins tables,
copied tables, searches, legacy references). The tools render it; they
hold none of it (tests/test_course.py)."""

from __future__ import annotations

import dataclasses
import functools

import yaml

from tinycnn.paths import ROOT

FILE = ROOT / "docs" / "lessons.yml"


@dataclasses.dataclass(frozen=True)
class Try:
    """One "Try this": a question to answer before running, the variant
    that answers it, and the recorded runs of the same comparison."""
    question: str
    variant: str          # the change (benchmarks/variants.py)
    table: str            # the results log with its runs
    against: str          # the baseline, in words
    how: str              # the change, made to the learner's own copy
    ref_folder: str | None = None  # the baseline's folder (default: the
    #                                step's reference)
    ref_table: str | None = None   # the baseline's log (default: `table`)


@dataclasses.dataclass(frozen=True)
class Ablation:
    """Variants of a step against a baseline on the same seeds."""
    page: str
    step: str
    variants: tuple[str, ...]
    table: str
    against: str
    ref_table: str | None = None


@functools.cache
def raw() -> dict:
    with open(FILE, encoding="utf-8") as f:
        return yaml.safe_load(f)


def tries(step: str) -> list[Try]:
    return [Try(**t) for t in raw()["try"].get(step, [])]


def ablations() -> list[Ablation]:
    return [Ablation(**{**a, "variants": tuple(a["variants"])})
            for a in raw()["ablations"]]


def margins() -> dict[str, dict]:
    """{page: {log, order?}}."""
    return raw()["margins"]


def copies() -> dict[str, str]:
    """{page: results file}."""
    return raw()["copies"]


def searches() -> dict[str, dict]:
    """{page: {step, rows: [{label, log, folder, rf}]}}."""
    return raw()["searches"]


def legacy() -> dict[str, str]:
    """{step: the code hash of the reference its untagged runs ran}."""
    return raw()["legacy_references"]


@dataclasses.dataclass(frozen=True)
class Stage:
    """One box of a step's schematic (docs/lessons.yml's `ideas`)."""
    box: str
    colour: str
    out: str = ""        # what comes out of it, written under it
    height: float = 1.0  # the box's height, where the map's size matters


def ideas() -> dict[str, tuple[str, list[list[Stage]]]]:
    """{step: (title, rows of stages)} of the steps' schematics."""
    out = {}
    for step, idea in raw()["ideas"].items():
        rows: list[list[Stage]] = [[]]
        for s in idea["stages"]:
            if s == "next line":
                rows.append([])
            else:
                rows[-1].append(Stage(**s))
        out[step] = (idea["title"], rows)
    return out
