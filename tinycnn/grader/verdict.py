"""What a check says: it passes with a detail, or raises one of these."""

from __future__ import annotations


class Fail(AssertionError):
    """The check fails: what it measured, and the hint that fits."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(f"{message}\nHint: {hint}")
        self.message, self.hint = message, hint


class Blocked(Exception):
    """The check could not judge: a check it needs failed first."""

    def __init__(self, by: str) -> None:
        super().__init__(f"not run: blocked by {by}")
        self.by = by
