"""What more than one check needs."""

from __future__ import annotations

from tinycnn.grader.submission import Submission


def some_left(sub: Submission, ignored: list, ops: list) -> bool:
    """Once trained (accuracy.py judges it again), some of these ops may go unused, as
    long as not all do."""
    return sub.after_training and len(ignored) < len(ops)
