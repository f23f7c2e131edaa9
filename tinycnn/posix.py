"""What of the course needs POSIX or Linux, and what it does without.

Everything a learner runs works on Windows and macOS too; these parts do
less there, and say so where it matters:

- the sandbox (sandbox.py, jail.py): namespaces, a uid of its own,
  resource limits and a child subreaper are Linux's; macOS gets a child
  in its own process group, Windows a plain child process, each killed
  when it ends or times out (the grade report names the level).
- locks (`lock` below): one trainer per run folder (records.py) and one
  grader per sandbox uid (sandbox/child.Slot) use flock, POSIX only. Without
  it two graders of one step may both train; nothing is lost, it takes
  twice the time.
- stale probe folders (probe.remove_stale) are found by asking whether
  a pid lives, os.kill(pid, 0), which on Windows would send a Ctrl-C:
  there they stay in the temp folder until the OS clears it.

tests/test_platforms.py runs the learner's path with these modules and
calls taken away (tests/nonposix/sitecustomize.py) and these flags off.
"""

from __future__ import annotations

import os
import sys
from typing import IO

LINUX = sys.platform.startswith("linux")  # jail.py: the real sandbox
POSIX = os.name == "posix"                # process groups, signals, flock


def lock(fh: IO, wait: bool) -> bool | None:
    """Lock the open file `fh` for this process (flock): True when held,
    False when another holds it and `wait` is False, None where this OS
    has no flock (then nothing is locked, and the caller goes on)."""
    if not POSIX:
        return None
    try:
        import fcntl
    except ImportError:
        return None
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


def unlock(fh: IO) -> None:
    """Let go of `lock` (closing the file does it too)."""
    if POSIX:
        try:
            import fcntl
        except ImportError:
            return
        fcntl.flock(fh, fcntl.LOCK_UN)
