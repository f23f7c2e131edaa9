"""Grading from a notebook cell: `from tinycnn import grade`, then
grade("i3"), which prints the epoch lines as it trains, then shows the
grade table (HTML in Jupyter) and the curves."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

from tinycnn.course import STEPS, Spec, structure
from tinycnn.grader import report
from tinycnn.learner.workspace import folder_of
from tinycnn.paths import run_dir
from tinycnn.train import records


@dataclass
class Report:
    """A step's grade: a text table for print(), an HTML one for Jupyter."""
    step: str
    rows: dict[str, dict]

    @property
    def passed(self) -> bool:
        return all(r["status"] == "passed" for r in self.rows.values())

    def __str__(self) -> str:
        return "\n".join(report.lines(report.titled(self.rows,
                                                      STEPS[self.step])))

    def _repr_html_(self) -> str:
        from html import escape

        color = {"passed": "#2e7d32", "failed": "#c62828", "blocked": "#777"}
        body = "".join(
            f"<tr><td style='color:{color[r['status']]}'><b>"
            f"{report.MARKS[r['status']]}</b></td><td>{escape(r['name'])}"
            f"<br><small>{escape(r['output'] or '')}"
            + (f"<br><i>hint: {escape(r['hint'])}</i>" if r.get("hint")
               else "") + "</small></td></tr>"
            for r in report.titled(self.rows, STEPS[self.step]))
        return f"<table>{body}</table>"


def grade(step: str, impl: str = "steps", train: bool = True,
          retrain: bool = False, device: str | None = None) -> Report:
    """Grade a step from Python or a notebook cell, as `pytest checks/iN`
    does: the structure checks, then (with `train`) the accuracy check,
    which trains (epoch lines appear as it goes) or reuses your last run
    of the same code. In Jupyter the table renders, then the curves and
    the map of where the run sits among the step's recorded designs."""
    from tinycnn.grader.run import Grade, run_checks
    from tinycnn.grader.submission import Setting
    from tinycnn.train.device import pick_device

    spec = STEPS[step]
    checks = spec.checks if train else structure(spec)
    folder = folder_of(step, impl)
    g = Grade(folder, spec, Setting(
        pick_device(device), retrain, lambda line: print(line, flush=True),
        on_row=_live_plot(spec)))
    try:
        report = Report(step, run_checks(g, checks))
    finally:
        g.close()
    from tinycnn.grader.design_map import PICTURE

    shown = [run_dir(folder) / name for name in (records.CURVES, PICTURE)]
    shown = [p for p in shown if p.is_file()]
    if train and shown and _in_jupyter():
        from IPython.display import Image, display

        display(report, *(Image(filename=str(p)) for p in shown))
    return report


def _in_jupyter() -> bool:
    ip = sys.modules.get("IPython")
    return bool(ip and ip.get_ipython() is not None)


def _live_plot(spec: Spec) -> Callable[[dict], None] | None:
    """In Jupyter, a test-accuracy plot redrawn in place after each epoch."""
    if not _in_jupyter():
        return None
    from IPython.display import Image, display

    rows: list[dict] = []
    handle = display(display_id=True)

    def update(row: dict) -> None:
        rows.append(row)
        png = records.plot_curves({
            "epochs": rows, "pass_acc": spec.pass_acc,
            "title": f"{spec.step}: epoch {row['epoch']}, test "
                     f"{row['test_acc']:.2f}% (training...)"})
        handle.update(Image(data=png))

    return update
