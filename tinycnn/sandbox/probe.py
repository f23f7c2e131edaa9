"""A probe of a step folder, from the grader's side: run the child
(inside.py) in the sandbox, read what it left, as untrusted data, and say
what it means: the facts of every phase, how the child ended, why there
is nothing to train (Result.problem), the recipe it read (Result.recipe).

Whatever the child reports, the verdicts are about the traced network,
which the grader reads itself (graphfile.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from tinycnn.course import LEARNER_FILES
from tinycnn.sandbox.inside import FACTS, HANG

FACTS_BYTES = 4 << 20  # what the grader reads of facts.json


class RecipeError(ValueError):
    """The recipe the probe read cannot train; the message says why."""


@dataclass
class Result:
    """What a probe child left: facts, graphs, and how it ended."""
    out: Path                 # folder with facts.json and the graph files
    facts: dict               # see Probe.facts
    ended: str | None         # None, or why the child stopped early
    output: str               # the child's stdout and stderr (its tail)
    folder: Path | None = None  # everything of this probe, to remove
    isolation: str = ""       # how the child was kept from the grader

    def error(self, phase: str) -> dict | None:
        return self.facts.get("errors", {}).get(phase)

    @property
    def last_line(self) -> str:
        """The child's last line of output (its last words before an exit)."""
        lines = [ln for ln in self.output.splitlines() if ln.strip()]
        return lines[-1][:200] if lines else "(nothing)"

    @property
    def has_graphs(self) -> bool:
        from tinycnn.sandbox.graphfile import MODES, TENSORS

        return all((self.out / n).is_file() for n in (
            TENSORS, *(f"graph-{m}.json" for m in MODES)))

    def remove(self) -> None:
        shutil.rmtree(self.folder or self.out, ignore_errors=True)

    def problem(self) -> str | None:
        """Why the probe leaves nothing to train, in one line; None if it
        does."""
        if self.ended:
            phase = self.facts.get("phase") or "starting"
            if "did not finish" in self.ended:
                why = ": an endless loop, or a network far too big?"
            elif phase.startswith(("torch.export", "saving")):
                # the grader's own work on the network, after learner code ran
                how = self.ended.replace("ended the grading process",
                                           "stopped")
                return (f"tracing your network {how} during {phase}: most "
                        "likely it needs more memory than the sandbox allows "
                        "(TINYCNN_PROBE_MEMORY_GB, 8 GB by default); if your "
                        "forward exits or signals, it must not")
            else:
                why = (": learner code must not exit or signal; its output "
                       f"ended with: {self.last_line!r}")
            return f"your code {self.ended} during {phase}{why}"
        for phase in ("import model.py", "Net()", "Net().to(channels_last)",
                      "forward (train mode)",
                      "forward (eval mode)", "torch.export (train mode)",
                      "torch.export (eval mode)", "saving the traced network"):
            e = self.error(phase)
            if e is not None:
                if e["kind"] == "todo":
                    return f"not implemented yet: {e['message']}"
                return f"{phase} raised {e['type']}: {e['message']}{e['where']}"
        return None if self.has_graphs else "the probe left no network"

    def recipe(self):
        """The recipe the probe read (once), checked: a Recipe, or
        RecipeError saying why it cannot train."""
        from tinycnn.train.recipe import Recipe

        e = self.error("import train.py") or self.error("recipe()")
        if e is not None:
            if e["kind"] == "todo":
                raise RecipeError(f"not implemented yet: {e['message']}")
            raise RecipeError(f"recipe() raised {e['type']}: {e['message']}"
                            f"{e['where']}")
        got = self.facts.get("recipe")
        if not got:
            raise RecipeError("recipe() was not read (see the builds check)")
        if got.get("type") != "Recipe":
            raise RecipeError(f"recipe() returned a {got.get('type')} "
                            f"({got.get('repr', '')}), not a tinycnn Recipe")
        try:
            return Recipe.from_fields(got["fields"])
        except (ValueError, TypeError) as e:
            raise RecipeError(str(e)) from None


PREFIX = "tinycnn-probe-"


def run(folder: Path, timeout: float | None = None,
        seed: int | None = None) -> Result:
    """Probe the step in `folder` in a sandboxed child process (a copy of
    the folder, sandbox.py); never raises for anything the learner's code
    does (a hang, an exit, a crash). It works in a temporary folder that
    Result.remove() deletes.

    Net() is built under torch.manual_seed(seed), by default the recipe's
    seed (the grader draws the weights training starts from itself).
    """
    from tinycnn.sandbox import child as jailed
    from tinycnn.sandbox.isolation import workdir

    timeout = timeout or float(os.environ.get("TINYCNN_PROBE_TIMEOUT") or 120)
    remove_stale()
    base = workdir(f"{PREFIX}{os.getpid()}-")
    child = jailed.prepare(Path(folder), base)
    cmd = [sys.executable, "-c", "import sys; from tinycnn.sandbox.inside import "
           "main; sys.exit(main(sys.argv[1:]))", str(child.step),
           str(child.out), str(timeout),
           *([str(seed)] if seed is not None else [])]
    return read_result(child, jailed.run(cmd, child, timeout), timeout)


def read_result(child, done, timeout: float) -> Result:
    """What the probe in `child` (a child.Child) left, and how it ended
    (`done`, a child.Outcome), read as untrusted."""
    from tinycnn.sandbox import graphfile
    from tinycnn.sandbox.isolation import isolation

    try:
        facts = json.loads(graphfile.read_bytes(child.out / FACTS, FACTS_BYTES))
        if not isinstance(facts, dict):
            raise ValueError
    except ValueError:  # GraphFileError too: missing, a link, not JSON
        facts = {"phase": "starting", "errors": {}, "done": False}
    ended = None
    if done.timed_out:
        ended = f"did not finish within {timeout:.0f} s"
        with contextlib.suppress(ValueError):  # no dump: no line to name
            ended += hung_at(graphfile.read_bytes(child.out / HANG, 1 << 20)
                             .decode(errors="replace"))
    elif not facts.get("done") or done.status != 0:
        rc = done.status
        how = (f"signal {-rc}" if rc is not None and rc < 0 else
               "an unknown status" if rc is None else f"exit code {rc}")
        ended = f"ended the grading process ({how})"
    return Result(child.out, facts, ended, done.output, child.base,
                  isolation().describe())


def remove_stale() -> None:
    """Folders of probes whose grader was killed (kill -9 skips cleanup).
    POSIX: os.kill(pid, 0) asks whether a pid lives (on Windows it would
    send a Ctrl-C)."""
    import re

    from tinycnn import posix
    from tinycnn.sandbox.isolation import temp_root

    if not posix.POSIX:
        return

    for p in temp_root().glob(f"{PREFIX}*"):
        m = re.match(rf"{PREFIX}(\d+)-", p.name)
        if not m or int(m.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(m.group(1)), 0)
            continue  # its grader still runs
        except ProcessLookupError:
            pass
        except (PermissionError, OSError):
            continue
        if p.is_dir() and not p.is_symlink() and \
                p.stat().st_uid == os.geteuid():
            shutil.rmtree(p, ignore_errors=True)


def hung_at(dump: str) -> str:
    """' (model.py, line 12, in forward)' from a faulthandler dump."""
    import re

    for line in dump.splitlines():
        m = re.search(r'File "([^"]+)", line (\d+) in (\S+)', line)
        if m and Path(m.group(1)).name in LEARNER_FILES:
            return (f" ({Path(m.group(1)).name}, line {m.group(2)}, in "
                    f"{m.group(3)})")
    return ""
