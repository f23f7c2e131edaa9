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

import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tinycnn import posix
from tinycnn.paths import ROOT, cache_dir, data_root, runs_root

JAIL = Path(__file__).with_name("jail.py")
MARK = "tinycnn sandbox failed: "  # jail.py's line when it fails itself
FIRST_UID = int(os.environ.get("TINYCNN_SANDBOX_UID") or 62_200)
SLOTS = 64                     # uids FIRST_UID .. FIRST_UID + SLOTS - 1
COPY_FILES, COPY_BYTES = 500, 50 << 20  # what of a step folder is copied
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


@dataclass
class Outcome:
    """How the child ended."""
    status: int | None      # its exit code, or -signal; None: unknown
    timed_out: bool
    output: str             # the tail of its stdout and stderr


def _unshare(user: bool) -> list[str] | None:
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
    linux, root = posix.LINUX, _root()
    if linux and root and "user + namespaces" in allowed and _unshare(False):
        return Isolation("user + namespaces", "a uid of its own, no network,"
                         " the course tree hidden but its package")
    missing = _unreadable() if linux and root else None
    if linux and root and "user" in allowed and not missing:
        return Isolation("user", "a uid of its own; no namespaces here, so "
                         "the course's private folders are made o-rwx")
    if linux and "namespaces" in allowed and _unshare(True):
        return Isolation("namespaces", "the course tree read-only, the "
                         "record key, data and runs out of sight, no network")
    why = (f"{missing} is private to root, so a sandbox uid could not run "
           "Python" if missing else "no user namespaces here" if linux
           else "no sandbox on this OS")
    return Isolation("process", f"a child process, killed with its process "
                     f"group ({why})")


def _root() -> bool:
    return posix.POSIX and os.geteuid() == 0


def _unreadable() -> str | None:
    """A folder this Python needs that other users cannot read, if any."""
    for p in _python_paths() + [ROOT / "tinycnn"]:
        p = Path(p).resolve()
        for q in [p, *p.parents]:
            mode = q.stat().st_mode
            if not mode & 0o001 or (q == p and not mode & 0o004):
                return str(q)
    return None


def _python_paths() -> list[Path]:
    paths = {Path(sys.prefix), Path(sys.base_prefix),
             Path(os.path.realpath(sys.executable)).parent}
    paths |= {Path(p) for p in sys.path if p and Path(p).is_dir()
              and "site-packages" in p}
    return sorted(paths)


# ----------------------------------------------------------- what it sees


def _outermost(paths) -> list[str]:
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
    home = [Path.home()] if _root() else []
    more = [Path(p) for p in os.environ.get("TINYCNN_HIDE", "").split(
        os.pathsep) if p.strip()]
    return [ROOT, *home, cache_dir(), data_root(), runs_root(), *more,
            *EXTRA_HIDDEN]


def scratch() -> list[Path]:
    """Folders every user may write: in namespaces the child gets empty
    ones, so it leaves nothing where the grader or another child looks."""
    return [temp_root(), Path("/tmp"), Path("/var/tmp"), Path("/dev/shm")]


@functools.cache
def _made_private() -> tuple[str, ...]:
    """Without namespaces, as root: o-rwx on what `hidden()` names, but
    the package, the venv and Python (which the child needs)."""
    need = [ROOT / "tinycnn", *_python_paths()]
    done = []
    for top in _outermost(hidden()):
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


# ------------------------------------------------------------ uid slots


class Slot:
    """One sandbox uid, held (flock) for one child: two graders, or two
    probes of one grader, never share a uid, so killing every process of
    a uid kills only this child's. POSIX only."""

    def __init__(self, i: int | None = None) -> None:
        """The first free slot, or slot `i` (OSError if it is busy)."""
        for j in ([i] if i is not None else range(SLOTS)):
            fh = open(_slots() / str(FIRST_UID + j), "a",  # noqa: SIM115
                      encoding="utf-8")
            if not posix.lock(fh, wait=False):  # busy (only root gets here)
                fh.close()
                continue
            self.fh, self.uid = fh, FIRST_UID + j
            return
        raise OSError(f"sandbox uid slot {i} is busy" if i is not None else
                      f"all {SLOTS} sandbox uids are busy")

    def release(self) -> None:
        self.fh.close()


def _slots() -> Path:
    # /run: no other user can make the folder first (only root uses slots);
    # the temp folder where there is no /run
    run = Path("/run")
    folder = (run if run.is_dir() and os.access(run, os.W_OK)
              else temp_root()) / "tinycnn-sandbox-slots"
    folder.mkdir(mode=0o700, exist_ok=True)
    if folder.stat().st_uid != os.geteuid() or folder.is_symlink():
        raise OSError(f"{folder} is not the grader's")
    return folder


def sweep() -> int:
    """As root: kill every process of each sandbox uid that no child
    holds now (a grader killed before its own cleanup left them); the
    uids other graders' children hold are theirs. How many were found."""
    if not _root() or not posix.LINUX:
        return 0
    found = 0
    for i in range(SLOTS):
        try:
            slot = Slot(i)
        except OSError:
            continue  # in use
        try:
            pids = [p for p in os.listdir("/proc") if p.isdigit()
                    and _owner(p) == slot.uid]
            if pids:
                found += len(pids)
                subprocess.run([sys.executable, "-I", "-S", str(JAIL),
                                "--kill-uid", str(slot.uid)], timeout=60)
        finally:
            slot.release()
    return found


def _owner(pid: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None


# -------------------------------------------------------------- running


@dataclass
class Child:
    """A folder for one child: its copy of the step (cwd), its output
    folder and its home, owned by the uid it runs as."""
    base: Path
    step: Path = field(init=False)
    out: Path = field(init=False)
    home: Path = field(init=False)

    def __post_init__(self) -> None:
        self.step = self.base / "step"
        self.out = self.base / "out"
        self.home = self.base / "home"


def prepare(folder: Path, base: Path) -> Child:
    """Copy the step folder into `base` (new and empty), laid out for a
    child: its regular files, within limits, never through a link (the
    grader may read what the child may not), no hidden ones or caches."""
    c = Child(base)
    for p in (c.out, c.home, c.step):
        p.mkdir(parents=True)
    files, size = 0, 0
    for top, dirs, names in os.walk(folder):  # does not enter linked dirs
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and d != "__pycache__"
                         and not os.path.islink(os.path.join(top, d)))
        rel = Path(top).relative_to(folder)
        for name in sorted(names):
            src = Path(top) / name
            if name.startswith(".") or src.is_symlink() or \
                    not src.is_file():
                continue
            files, size = files + 1, size + src.stat().st_size
            if files > COPY_FILES or size > COPY_BYTES:
                return c
            (c.step / rel).mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, c.step / rel / name)
    return c


def _own(c: Child, uid: int) -> None:
    os.chmod(c.base, 0o711)  # it may pass through, not list
    for top in (c.step, c.out, c.home):
        for p in [top, *top.rglob("*")]:
            os.lchown(p, uid, uid)


def _env(c: Child) -> dict[str, str]:
    """What the child inherits: a path, a locale, no secrets (CI tokens,
    TINYCNN_* settings), its own home and temp folder."""
    keep = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "LD_LIBRARY_PATH", "TZ",
            "SYSTEMROOT", "WINDIR", "COMSPEC", "PATHEXT")  # (Windows')
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(HOME=str(c.home), TMPDIR=str(c.home), TEMP=str(c.home),
               TMP=str(c.home), PYTHONPATH=str(ROOT),
               PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return env


def limits(timeout: float, own_uid: bool) -> dict[str, int]:
    gb = float(os.environ.get("TINYCNN_PROBE_MEMORY_GB") or 8)
    out = {"as": int(gb * (1 << 30)), "cpu": int(timeout * 2) + 30,
           "fsize": 256 << 20, "nofile": 1024, "core": 0}
    if own_uid:  # counts every process of the uid: only where it is its own
        out["nproc"] = 512
    return out


class SandboxError(RuntimeError):
    """The sandbox could not start the child: the grader's fault, not the
    learner's."""


def run(cmd: list[str], c: Child, timeout: float) -> Outcome:
    """Run `cmd` in `c` at the best isolation here, for at most `timeout`
    seconds; never raises for what the child does (SandboxError if the
    sandbox itself fails). Every process it started is gone when this
    returns (on Linux; elsewhere, those that left its process group stay)."""
    iso = isolation()
    jailed = posix.LINUX  # jail.py is Linux-only
    log = open(c.base / "output.txt", "w+b")  # noqa: SIM115 - ours alone
    slot = Slot() if iso.uid else None
    r = w = None
    try:
        argv, env, fds = cmd, _env(c), ()
        if jailed:
            r, w = os.pipe()  # the supervisor reports the child's status
            cfg = {"cmd": cmd, "cwd": str(c.step), "env": env,
                   "parent": os.getpid(), "status_fd": w, "timeout": timeout,
                   "limits": limits(timeout, slot is not None),
                   "uid": slot.uid if slot else None,
                   "gid": slot.uid if slot else None}
            if slot:
                _own(c, slot.uid)
                if iso.kind == "user":
                    _made_private()
            if iso.namespaces:
                cfg.update(unshare=_unshare(iso.kind == "namespaces"),
                           userns=iso.kind == "namespaces", **_view(c))
            argv = [sys.executable, "-I", "-S", str(JAIL), json.dumps(cfg)]
            fds = (w,)
        proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, cwd=c.step, env=env, pass_fds=fds,
            start_new_session=True)  # POSIX; ignored on Windows
        if w is not None:
            os.close(w)
            w = None
        # the supervisor keeps the time; this wait is the backstop
        timed_out = not _wait(proc, timeout + (30 if jailed else 0))
        _end(proc)
        status = proc.returncode
        if r is not None:
            status, timed_out = _status(r, timed_out)
        if slot:  # a process that left the group (and the namespace)
            subprocess.run([sys.executable, "-I", "-S", str(JAIL),
                            "--kill-uid", str(slot.uid)], timeout=60)
    finally:
        for fd in (r, w):
            if fd is not None:
                os.close(fd)
        if slot:
            slot.release()
    log.seek(max(0, os.fstat(log.fileno()).st_size - 3000))
    output = log.read().decode(errors="replace")
    log.close()
    failure = [ln for ln in output.splitlines() if ln.startswith(MARK)]
    if failure and not timed_out and status in (None, 71):
        raise SandboxError(failure[-1])
    return Outcome(None if timed_out else status, timed_out, output)


def _view(c: Child) -> dict:
    """The mounts jail.py makes: an empty folder over each hidden one, and
    back, read-only, what the child needs; its own folder writable."""
    keeps = [(p, False) for p in _outermost(
        [ROOT / "tinycnn", *_python_paths()])]
    keeps.append((str(c.base.resolve()), True))
    masks = _outermost([*hidden(), *scratch()])
    return {"masks": masks,
            "keeps": [[p, rw] for p, rw in keeps
                      if any(p == m or p.startswith(m.rstrip("/") + "/")
                             for m in masks)]}


def _wait(proc: subprocess.Popen, timeout: float) -> bool:
    """Wait for `proc` to end without reaping it (its process group must
    not be reused before it is killed); False on timeout."""
    if not (posix.POSIX and hasattr(os, "waitid")):  # Windows; macOS
        # before Python 3.13 has no waitid
        try:
            proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False
    deadline = time.monotonic() + timeout
    while True:
        try:
            if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG
                         | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def _end(proc: subprocess.Popen) -> None:
    """Kill what is left of the child's process group (POSIX), then reap."""
    if posix.POSIX:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    else:
        proc.kill()
    proc.wait()


def _status(r: int, timed_out: bool) -> tuple[int | None, bool]:
    """(the learner process's own status, timed out), as the supervisor
    wrote them: an exit code, or -signal; None when it wrote nothing."""
    os.set_blocking(r, False)
    try:
        text = os.read(r, 64).decode().strip()
    except OSError:
        text = ""
    if text == "timeout":
        return None, True
    if not text.isdigit():
        return None, timed_out
    st = int(text)
    if os.WIFSIGNALED(st):
        return -os.WTERMSIG(st), False
    return (os.WEXITSTATUS(st) if os.WIFEXITED(st) else None), False
