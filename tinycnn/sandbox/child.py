"""One child in the sandbox: its folder (a copy of the step, an output
folder, a home, owned by the uid it runs as), the uid slot it holds, the
limits it gets, and how it runs: jail.py started with the isolation
level this machine gives (isolation.py), the grader's wait as the
backstop, every process it left killed before `run` returns."""


from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tinycnn import posix
from tinycnn.paths import ROOT
from tinycnn.sandbox.isolation import (
    hidden,
    is_root,
    isolation,
    made_private,
    outermost,
    python_paths,
    scratch,
    temp_root,
    unshare_command,
)

JAIL = Path(__file__).with_name("jail.py")
MARK = "tinycnn sandbox failed: "  # jail.py's line when it fails itself
FIRST_UID = int(os.environ.get("TINYCNN_SANDBOX_UID") or 62_200)
SLOTS = 64                     # uids FIRST_UID .. FIRST_UID + SLOTS - 1
COPY_FILES, COPY_BYTES = 500, 50 << 20  # what of a step folder is copied


@dataclass
class Outcome:
    """How the child ended."""
    status: int | None      # its exit code, or -signal; None: unknown
    timed_out: bool
    output: str             # the tail of its stdout and stderr


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
            if posix.lock(fh, wait=False) is False:  # held by another (None:
                # no flock on this system: nothing to wait for, go on)
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
    if not is_root() or not posix.LINUX:
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
                    made_private()
            if iso.namespaces:
                cfg.update(unshare=unshare_command(iso.kind == "namespaces"),
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
    keeps = [(p, False) for p in outermost(
        [ROOT / "tinycnn", *python_paths()])]
    keeps.append((str(c.base.resolve()), True))
    masks = outermost([*hidden(), *scratch()])
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
