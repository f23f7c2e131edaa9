"""How much memory and time a grade may spend on one network.

Memory: TINYCNN_MEMORY_GB (an instructor's setting), else three quarters
of what this machine has, or its container if that is less (cgroup
limits: an autograder's container usually is), at most 8 GB. The checks
run a network at a batch only when its ops fit (sizes.py says how much
they need); training runs in a process limited to it (bounded.py).

Time: the step's `minutes` (course.Spec: about eight times its
reference's training time on the 2-core CPU the course's records were
made on), or TINYCNN_TIME_BUDGET_MIN for every step. Training stops as
soon as the estimate after its first batches says it would take longer,
and at the budget in any case.
"""

from __future__ import annotations

import os
from pathlib import Path

MAX_DEFAULT = 8 << 30


def _env(name: str, env=None) -> float | None:
    value = (os.environ if env is None else env).get(name, "").strip()
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a number") from None
    if not number > 0:
        raise ValueError(f"{name}={value!r} must be above 0")
    return number


def machine_bytes() -> int | None:
    """The memory this process may use: the smaller of the machine's and
    its cgroup's limit (v2 or v1); None where neither can be read."""
    found = []
    try:
        meminfo = Path("/proc/meminfo").read_text(encoding="ascii")
        for line in meminfo.splitlines():
            if line.startswith("MemTotal:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    for path in ("/sys/fs/cgroup/memory.max",
                 "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text(encoding="ascii").strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 1 << 50:  # "max": no limit
            found.append(int(text))
    if not found:
        try:
            found.append(os.sysconf("SC_PAGE_SIZE") *
                         os.sysconf("SC_PHYS_PAGES"))
        except (ValueError, OSError, AttributeError):
            return None
    return min(found)


def memory_bytes(env=None) -> int:
    """The memory budget of one network's checks, training or evaluation
    (`env`: the environment to read, default this process's)."""
    gb = _env("TINYCNN_MEMORY_GB", env)
    if gb is not None:
        return int(gb * (1 << 30))
    have = machine_bytes()
    return min(MAX_DEFAULT, int(have * 0.75)) if have else MAX_DEFAULT


def minutes(step_minutes: float) -> float:
    """The training time budget: TINYCNN_TIME_BUDGET_MIN, else the
    step's."""
    return _env("TINYCNN_TIME_BUDGET_MIN") or step_minutes


def where_set() -> str:
    """How an instructor changes the budgets, for messages."""
    return ("TINYCNN_MEMORY_GB and TINYCNN_TIME_BUDGET_MIN set the "
            "grader's budgets")
