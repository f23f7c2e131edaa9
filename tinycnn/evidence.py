"""The course's rule for one change over seeds, used by the lessons' tables
(tools/tables.py) and by the learner's `python -m tinycnn compare`: the
same code decides both, so a learner's verdict means what a lesson's does.

Two runs of one seed share their starting weights and data order, so the
seeds pair the runs: per seed the change wins, loses or ties. The verdict:

- fewer than MIN_SEEDS paired seeds: too few to say;
- **better** when every seed of the change ends above every seed of the
  baseline (the ranges do not overlap), or when it wins on more seeds than
  it loses and the exact two-sided sign test over the seeds that did not
  tie gives p <= ALPHA; **worse** the other way round;
- otherwise no measurable difference.

Either condition alone is strong evidence on five seeds: ranges apart
happen by chance with probability 2/252 (about 0.008) when the change does
nothing; five wins out of five have p = 0.0625 and do not suffice alone,
six of six do (0.031). A verdict is about these seeds on this test set:
the test set is 10,000 images, so 0.01 points is one image.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

MIN_SEEDS = 5
ALPHA = 0.05


def sign_test(wins: int, losses: int) -> float:
    """Exact two-sided sign test: the chance of a split at least this
    uneven when wins and losses are equally likely (ties left out)."""
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


@dataclass(frozen=True)
class Paired:
    """One change against its baseline on the same seeds."""
    new: tuple[float | None, ...]   # None: that seed diverged
    base: tuple[float | None, ...]

    @property
    def n(self) -> int:
        return len(self.new)

    def _pairs(self) -> list[tuple[float, float]]:
        low = -math.inf  # a diverged run ranks below every finished one
        return [(low if a is None else a, low if b is None else b)
                for a, b in zip(self.new, self.base, strict=True)]

    @property
    def wins(self) -> int:
        return sum(a > b for a, b in self._pairs())

    @property
    def losses(self) -> int:
        return sum(a < b for a, b in self._pairs())

    @property
    def ties(self) -> int:
        return self.n - self.wins - self.losses

    @property
    def p(self) -> float:
        return sign_test(self.wins, self.losses)

    @property
    def mean_difference(self) -> float | None:
        """Mean of the per-seed differences over seeds where both
        finished (None when none did)."""
        d = [a - b for a, b in zip(self.new, self.base, strict=True)
             if a is not None and b is not None]
        return statistics.mean(d) if d else None

    @property
    def verdict(self) -> str:
        if self.n < MIN_SEEDS:
            return f"{self.n} seeds: too few to say"
        pairs = self._pairs()
        new, base = [a for a, _ in pairs], [b for _, b in pairs]
        if min(new) > max(base) or (self.wins > self.losses
                                    and self.p <= ALPHA):
            return "better"
        if max(new) < min(base) or (self.losses > self.wins
                                    and self.p <= ALPHA):
            return "worse"
        return "no measurable difference"

    @property
    def statistic(self) -> str:
        """"4 wins, 1 loss, 0 ties; sign test p = 0.38"."""
        return (f"{self.wins} win{'s' * (self.wins != 1)}, {self.losses} "
                f"loss{'es' * (self.losses != 1)}, {self.ties} "
                f"tie{'s' * (self.ties != 1)}; sign test p = {self.p:.2g}")


def paired(new: list[float | None], base: list[float | None]) -> Paired:
    """`new` and `base`: final accuracies on the same seeds, in order."""
    if len(new) != len(base):
        raise ValueError(f"{len(new)} runs against {len(base)}: the seeds "
                         "must be the same")
    return Paired(tuple(new), tuple(base))
