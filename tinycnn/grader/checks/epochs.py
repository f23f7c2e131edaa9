"""The epochs check: the recipe trains at most the step's epochs."""

from __future__ import annotations

from tinycnn.course import epochs
from tinycnn.grader.hints import hint
from tinycnn.grader.submission import Submission
from tinycnn.grader.verdict import Fail


def check_epochs(sub: Submission) -> str:
    r = sub.recipe
    sub.scores["epochs"] = r.num_epochs
    if r.num_epochs > sub.spec.max_epochs:
        raise Fail(f"recipe trains {epochs(r.num_epochs)}; {sub.spec.step} "
                   f"allows 1 to {sub.spec.max_epochs}", hint("epochs", 1))
    return epochs(r.num_epochs)
