"""How often a network this close to the mark passes, from the course's
own seed records.

`seed_spread.json` (written by `python -m tools docs` from the references'
runs in benchmarks/results) holds, per step, how far each recorded seed of
the reference ended from the mean of its machine's seeds. Moved onto a
learner's result, those deviations say how another seed of a network like
it could land: when some of them would fall under the mark, the pass is
thin, and the grade says so (the verdict stays what it is).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

SPREAD = Path(__file__).with_name("seed_spread.json")


def deviations(runs: dict[str, list[float]]) -> list[float]:
    """Each run's distance from the mean of its machine's runs (machines
    with a single run say nothing about spread)."""
    out = []
    for accs in runs.values():
        if len(accs) > 1:
            mean = statistics.mean(accs)
            out += [round(a - mean, 3) for a in accs]
    return sorted(out)


def thin(step: str, acc: float, mark: float,
         spread: Path = SPREAD) -> str:
    """A sentence for a pass within the references' seed spread of the
    mark, else ""."""
    try:
        devs = json.loads(spread.read_text(encoding="utf-8")).get(step) or []
    except (OSError, ValueError, AttributeError):
        return ""  # no records shipped: nothing to say
    if not devs:
        return ""
    kept = sum(acc + d >= mark for d in devs)
    if kept == len(devs):
        return ""
    return (f"a thin margin: the reference's recorded seeds end "
            f"{min(devs):+.2f} to {max(devs):+.2f} points from their mean; "
            f"spread the same way around your {acc:.2f}%, {kept} of "
            f"{len(devs)} would pass. "
            f"Another seed of this code may not: try `python "
            f"steps/{step}/train.py --seed 2` (the grade stands)")
