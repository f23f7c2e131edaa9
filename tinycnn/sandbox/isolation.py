"""Where learner code runs for the grader: as far from it as this machine
allows, and never longer than the grader says.

Four levels, the first this machine can give (`isolation()`; the grade
report names it; TINYCNN_SANDBOX names a lower one, for tests):

- "user + namespaces" (the grader is root and may make namespaces:
  Gradescope, CI, a Classroom runner): the child runs as a uid of its own,
  in its own mount, network, PID and IPC namespaces. It sees the course
  folder only as the tinycnn package (read-only), none of the grader's
  home, cache, data or run records, has no network, and every process it
  starts dies with it.
- "user" (root, but no namespaces, as in a container without
  CAP_SYS_ADMIN): the same uid of its own and the same limits; the course
  tree's folders other than the package and the venv, the data, the runs
  and the cache are made private (mode o-rwx) instead of hidden; no
  network isolation; its processes are killed by uid.
- "namespaces" (not root, Linux with user namespaces: a learner's laptop):
  the learner's own uid without capabilities, in the same namespaces, so
  that the course tree is read-only and the record key, the data and the
  runs are out of sight.
- "process" (anything else: macOS, Windows, Linux without namespaces):
  a child process in its own process group, killed with its group.

On Linux every level runs jail.py, which does the work inside: limits
(address space, CPU time, file size, open files; the process count where
the uid is its own), death with the grader, and every process the child
started killed when it ends (a child subreaper, so even one that called
setsid). Elsewhere the child is a plain process in its own group (Windows:
a plain process), killed when it ends or times out.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tinycnn import posix
from tinycnn.paths import ROOT, cache_dir, data_root, runs_root

NAMESPACES = ["--mount", "--net", "--pid", "--ipc", "--uts", "--fork",
              "--kill-child", "--mount-proc"]
EXTRA_HIDDEN: list[Path] = []  # more folders to hide (the results file's)


@dataclass(frozen=True)
class Isolation:
    kind: str   # "user + namespaces", "user", "namespaces", "process"
    why: str    # what it means, or why no more was possible

    @property
    def uid(self) -> bool:
        return self.kind in ("user + namespaces", "user")

    @property
    def namespaces(self) -> bool:
        return self.kind in ("user + namespaces", "namespaces")

    def describe(self) -> str:
        return f"{self.kind}: {self.why}"


def unshare_command(user: bool) -> list[str] | None:
    exe = shutil.which("unshare")
    if exe is None:
        return None
    cmd = [exe, *(["--user", "--map-root-user"] if user else []),
           *NAMESPACES]
    try:
        ok = subprocess.run([*cmd, "true"], capture_output=True,
                            timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    return cmd if ok else None


KINDS = ("user + namespaces", "user", "namespaces", "process")


@functools.cache
def isolation() -> Isolation:
    """The best level this machine gives (TINYCNN_SANDBOX names a level to
    use instead, for tests: "user + namespaces", "user", "namespaces" or
    "process"; one that cannot work here falls further down)."""
    want = os.environ.get("TINYCNN_SANDBOX", "").strip() or "auto"
    allowed = KINDS[KINDS.index(want):] if want in KINDS else KINDS
    linux, root = posix.LINUX, is_root()
    if linux and root and "user + namespaces" in allowed and unshare_command(False):
        return Isolation("user + namespaces", "a uid of its own, no network,"
                         " the course tree hidden but its package")
    missing = _unreadable() if linux and root else None
    if linux and root and "user" in allowed and not missing:
        return Isolation("user", "a uid of its own; no namespaces here, so "
                         "the course's private folders are made o-rwx")
    if linux and "namespaces" in allowed and unshare_command(True):
        return Isolation("namespaces", "the course tree read-only, the "
                         "record key, data and runs out of sight, no network")
    why = (f"{missing} is private to root, so a sandbox uid could not run "
           "Python" if missing else "no user namespaces here" if linux
           else "no sandbox on this OS")
    return Isolation("process", f"a child process, killed with its process "
                     f"group ({why})")


def is_root() -> bool:
    return posix.POSIX and os.geteuid() == 0


def _unreadable() -> str | None:
    """A folder this Python needs that other users cannot read, if any."""
    for p in python_paths() + [ROOT / "tinycnn"]:
        p = Path(p).resolve()
        for q in [p, *p.parents]:
            mode = q.stat().st_mode
            if not mode & 0o001 or (q == p and not mode & 0o004):
                return str(q)
    return None


def python_paths() -> list[Path]:
    paths = {Path(sys.prefix), Path(sys.base_prefix),
             Path(os.path.realpath(sys.executable)).parent}
    paths |= {Path(p) for p in sys.path if p and Path(p).is_dir()
              and "site-packages" in p}
    return sorted(paths)


# ----------------------------------------------------------- what it sees


def outermost(paths) -> list[str]:
    """Paths that exist, without those inside another one of them."""
    found = sorted({str(Path(p).resolve()) for p in paths if Path(p).exists()})
    return [p for p in found
            if not any(p != q and p.startswith(q.rstrip("/") + "/")
                       for q in found)]


def hidden() -> list[Path]:
    """What learner code must not see: the course tree (but its package
    and the venv), the cache (the record key), data, run records, when
    the grader is root its home, and what TINYCNN_HIDE lists (os.pathsep
    between; autograde.py names the results folder and the submission)."""
    home = [Path.home()] if is_root() else []
    more = [Path(p) for p in os.environ.get("TINYCNN_HIDE", "").split(
        os.pathsep) if p.strip()]
    return [ROOT, *home, cache_dir(), data_root(), runs_root(), *more,
            *EXTRA_HIDDEN]


def scratch() -> list[Path]:
    """Folders every user may write: in namespaces the child gets empty
    ones, so it leaves nothing where the grader or another child looks."""
    return [temp_root(), Path("/tmp"), Path("/var/tmp"), Path("/dev/shm")]


@functools.cache
def made_private() -> tuple[str, ...]:
    """Without namespaces, as root: o-rwx on what `hidden()` names, but
    the package, the venv and Python (which the child needs)."""
    need = [ROOT / "tinycnn", *python_paths()]
    done = []
    for top in outermost(hidden()):
        top = Path(top)
        items = [top] if not any(_under(n, top) for n in need) else [
            e for e in top.iterdir()
            if not any(_under(n, e) or n == e for n in need)]
        for p in items:
            try:
                st = p.lstat()
                if not p.is_symlink() and st.st_mode & 0o007:
                    p.chmod(st.st_mode & ~0o007)
                    done.append(str(p))
            except OSError:
                pass
    return tuple(done)


def _under(p: Path, top: Path) -> bool:
    try:
        Path(p).resolve().relative_to(Path(top).resolve())
        return True
    except ValueError:
        return False


# ------------------------------------------------------------ its folder


def temp_root() -> Path:
    """Where children's folders go: the temp folder, if every user can
    pass through it (a sandbox uid must reach its folder), else /tmp."""
    for p in (Path(tempfile.gettempdir()), Path("/tmp"), Path("/var/tmp")):
        try:
            if p.is_dir() and (not posix.POSIX or all(
                    q.stat().st_mode & 0o001 for q in [p, *p.parents])):
                return p
        except OSError:
            continue
    return Path(tempfile.gettempdir())


def workdir(prefix: str) -> Path:
    """A new folder for one child, only the grader's to begin with."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=temp_root()))
