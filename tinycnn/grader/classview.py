"""A class view for instructors: every graded submission in a folder as one
table (CSV) and the class's designs on the map of recorded designs.

    python -m tinycnn class RESULTS_FOLDER [--csv class.csv] [--map DIR]

Reads every `results.json` below the folder: the files the autograder
wrote (Gradescope's results, one folder per submission, or the Classroom
workflow's artifacts unzipped one folder per student). A submission is
named by its folder, relative to the one given. What each grade measured
(accuracy, parameters, epochs) comes from the file's `extra_data`, which
the grader fills as the leaderboard's fields; a file that cannot be read
is a row that says so, not an error.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tinycnn.course import STEPS

COLUMNS = ("submission", "step", "score", "max_score", "passed",
           "accuracy", "parameters", "epochs", "failed_checks", "note")


@dataclass
class Row:
    submission: str
    step: str = ""
    score: float = 0.0
    max_score: float = 0.0
    passed: bool = False
    accuracy: float | None = None
    parameters: int | None = None
    epochs: int | None = None
    failed_checks: list[str] = field(default_factory=list)
    note: str = ""

    def cells(self) -> list[str]:
        return [self.submission, self.step, f"{self.score:g}",
                f"{self.max_score:g}", "yes" if self.passed else "no",
                "" if self.accuracy is None else f"{self.accuracy:.2f}",
                "" if self.parameters is None else str(self.parameters),
                "" if self.epochs is None else str(self.epochs),
                "; ".join(self.failed_checks), self.note]


def read(path: Path, name: str) -> list[Row]:
    """The rows of one results.json: one per step it graded (usually
    one), or one row saying why it could not be read."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        tests = body["tests"]
        measured = (body.get("extra_data") or {}).get("tinycnn") or {}
        if not isinstance(tests, list) or not isinstance(measured, dict):
            raise TypeError
    except (OSError, ValueError, KeyError, TypeError) as e:
        why = getattr(e, "strerror", None) or "not a grader's results.json"
        return [Row(name, note=f"unreadable: {why}")]
    rows = []
    for step, got in (measured or {"": {}}).items():
        # one step's tests: tagged with it (several steps in one file)
        mine = [t for t in tests if isinstance(t, dict) and (
            len(measured) < 2 or step in (t.get("tags") or []))]
        got = got if isinstance(got, dict) else {}
        rows.append(Row(
            name, step,
            sum(_num(t.get("score")) for t in mine),
            sum(_num(t.get("max_score")) for t in mine),
            bool(mine) and all(t.get("status") == "passed" for t in mine),
            _opt(got.get("accuracy"), float), _opt(got.get("parameters"), int),
            _opt(got.get("epochs"), int),
            [str(t.get("name")) for t in mine if t.get("status") != "passed"],
            "" if step else "no step recorded (graded before the class view)"))
    return rows


def _num(x) -> float:
    return float(x) if isinstance(x, (int, float)) else 0.0


def _opt(x, kind):
    return kind(x) if isinstance(x, (int, float)) and not isinstance(
        x, bool) else None


def gather(folder: Path) -> list[Row]:
    """Every results.json below `folder`, in name order."""
    folder = Path(folder)
    rows = []
    for path in sorted(folder.rglob("results.json")):
        name = str(path.parent.relative_to(folder)) if path.parent != folder \
            else folder.name
        rows += read(path, name)
    return rows


def csv_text(rows: list[Row]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    w.writerows(r.cells() for r in rows)
    return buf.getvalue()


def summary(rows: list[Row], step: str) -> str:
    """One line per step: how many passed, the accuracies and sizes."""
    mine = [r for r in rows if r.step == step]
    trained = [r for r in mine if r.accuracy is not None]
    line = (f"{step}: {len(mine)} submission{'s' * (len(mine) != 1)}, "
            f"{sum(r.passed for r in mine)} passed every check")
    if trained:
        accs = [r.accuracy for r in trained]
        line += (f"; accuracy {min(accs):.2f} to {max(accs):.2f}% "
                 f"(median {statistics.median(accs):.2f}) over "
                 f"{len(trained)} trained")
    sized = [r.parameters for r in mine if r.parameters is not None]
    if sized:
        line += f"; {min(sized):,} to {max(sized):,} parameters"
    return line


def class_map(rows: list[Row], step: str, path: Path | dict | None = None
              ) -> bytes:
    """The step's map of recorded designs (designs.json, or `path`) with
    the class's trained runs."""
    from tinycnn.grader import design_map

    runs = [(r.parameters, r.accuracy) for r in rows
            if r.step == step and r.parameters is not None
            and r.accuracy is not None]
    return design_map.draw(step, path=path or design_map.DESIGNS,
                           others=runs)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tinycnn class",
        description="a class's grades as one table and on the map")
    p.add_argument("folder", type=Path,
                   help="a folder with one results.json per submission")
    p.add_argument("--csv", type=Path, help="write the table here")
    p.add_argument("--map", type=Path, metavar="DIR",
                   help="write one picture per step here (class-iN.png)")
    a = p.parse_args(argv)
    if not a.folder.is_dir():
        print(f"error: {a.folder} is not a folder", file=sys.stderr)
        return 1
    rows = gather(a.folder)
    if not rows:
        print(f"no results.json below {a.folder}", file=sys.stderr)
        return 1
    steps = [s for s in STEPS if any(r.step == s for r in rows)]
    for step in steps:
        print(summary(rows, step))
    bad = [r for r in rows if r.note]
    for r in bad:
        print(f"{r.submission}: {r.note}")
    text = csv_text(rows)
    try:
        if a.csv:
            a.csv.write_text(text, encoding="utf-8")
            print(f"table: {a.csv}")
        else:
            sys.stdout.write(text)
        if a.map:
            a.map.mkdir(parents=True, exist_ok=True)
            for step in steps:
                out = a.map / f"class-{step}.png"
                out.write_bytes(class_map(rows, step))
                print(f"map: {out}")
    except OSError as e:
        print(f"error: could not write: {e}", file=sys.stderr)
        return 1
    return 0
