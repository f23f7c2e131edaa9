"""Starts learner code where it cannot touch the grader (sandbox.py decides
how; this file does it). Standard library only, run as a script:

    python -I -S jail.py CONFIG_JSON

It runs before any learner code, with the grader's privileges, and ends by
exec'ing the command as a child it supervises:

1. "unshare" in CONFIG: become that command (util-linux unshare, which
   makes new mount, network, PID and IPC namespaces and runs this file
   again inside them), dying with the grader (parent-death signal).
2. Inside namespaces: hide folders behind empty tmpfs mounts, bring back
   the few the child needs (read-only, or writable for its work folder).
3. Fork the child: resource limits, then a user without privileges (a
   separate uid when started as root; no capabilities inside a user
   namespace), no new privileges, death with its supervisor; exec.
4. Wait for it, at most the timeout; kill whatever it left (every process
   of the namespace; else every descendant, which a child subreaper
   keeps as ours even when it calls setsid; and every process of the
   sandbox uid); write its wait status, or "timeout", to the grader's pipe.

`python -I -S jail.py --kill-uid UID` (as root) kills every process of UID.
Linux only; sandbox.py does not use it elsewhere.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import resource
import signal
import sys
import time

PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP = 1, 38, 24
PR_SET_CHILD_SUBREAPER = 36
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
# statvfs flag -> the mount flag a read-only remount must keep (a user
# namespace may not clear flags its parent locked)
KEEP = {1: MS_RDONLY, 2: MS_NOSUID, 4: MS_NODEV, 8: MS_NOEXEC,
        1024: MS_NOATIME, 2048: MS_NODIRATIME, 4096: MS_RELATIME}
LIMITS = {"as": resource.RLIMIT_AS, "cpu": resource.RLIMIT_CPU,
          "fsize": resource.RLIMIT_FSIZE, "nofile": resource.RLIMIT_NOFILE,
          "nproc": resource.RLIMIT_NPROC, "core": resource.RLIMIT_CORE}

MARK = "tinycnn sandbox failed: "
libc = ctypes.CDLL(None, use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def prctl(option: int, arg: int) -> None:
    _check(libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0), "prctl")


def mount(source: str | None, target: str, fstype: str | None, flags: int,
          data: str | None = None) -> None:
    def enc(s: str | None) -> bytes | None:
        return s.encode() if s is not None else None

    _check(libc.mount(enc(source), enc(target), enc(fstype),
                      ctypes.c_ulong(flags), enc(data)), f"mount {target}")


def remount_readonly(path: str) -> None:
    keep = 0
    for st, ms in KEEP.items():
        if os.statvfs(path).f_flag & st:
            keep |= ms
    mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | keep)


def hide(masks: list[str], keeps: list[list]) -> None:
    """An empty tmpfs over each mask; each keep [path, writable] under a
    mask comes back at its place (opened first, bound back by its fd)."""
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    for mask in masks:
        inside = [(p, rw) for p, rw in keeps
                  if p == mask or p.startswith(mask.rstrip("/") + "/")]
        fds = [(p, rw, os.open(p, os.O_RDONLY | os.O_DIRECTORY))
               for p, rw in inside if os.path.isdir(p)]
        mount("tinycnn", mask, "tmpfs", MS_NOSUID | MS_NODEV,
              "mode=755,size=1m")
        for p, rw, fd in fds:
            os.makedirs(p, exist_ok=True)
            mount(f"/proc/self/fd/{fd}", p, None, MS_BIND | MS_REC)
            os.close(fd)
            if not rw:
                remount_readonly(p)
        remount_readonly(mask)


def drop_capabilities() -> None:
    """Inside a user namespace the child is its root: take every
    capability away, so it cannot undo the mounts."""
    for cap in range(64):
        if libc.prctl(PR_CAPBSET_DROP, ctypes.c_ulong(cap), 0, 0, 0) != 0 \
                and ctypes.get_errno() == errno.EINVAL:
            break  # past the last capability this kernel knows
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # v3, this process
    data = (ctypes.c_uint32 * 6)()
    _check(libc.capset(header, data), "capset")


def child(cfg: dict, supervisor: int) -> None:
    """In the forked child: limits, no privileges, then the command."""
    os.close(cfg["status_fd"])
    for name, value in cfg.get("limits", {}).items():
        resource.setrlimit(LIMITS[name], (value, value))
    if cfg.get("uid") is not None:
        os.setgroups([])
        os.setgid(cfg["gid"])
        os.setuid(cfg["uid"])
    elif cfg.get("userns"):
        drop_capabilities()
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # after setuid, which clears it
    if os.getppid() != supervisor:
        os._exit(70)
    os.chdir(cfg["cwd"])
    os.execve(cfg["cmd"][0], cfg["cmd"], cfg["env"])


def kill_uid(uid: int) -> None:
    """Every process of `uid`, as that uid: kill(-1) reaches exactly its
    own processes (and cannot reach the grader's)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            for _ in range(100):
                try:
                    os.kill(-1, signal.SIGKILL)
                except ProcessLookupError:
                    break
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def failed(e: BaseException, code: int) -> None:
    """The sandbox itself failed (not the learner's code): say so on the
    line sandbox.py looks for, and stop."""
    os.write(2, f"\n{MARK}{type(e).__name__}: {e}\n".encode())
    os._exit(code)


def supervise(cfg: dict) -> int:
    """Start the child, wait for it (at most cfg["timeout"] seconds), kill
    whatever it left, report its wait status (or "timeout")."""
    try:
        if cfg.get("masks"):
            hide(cfg["masks"], cfg.get("keeps", []))
        if not cfg.get("pid_namespace"):  # orphans it leaves come to us
            prctl(PR_SET_CHILD_SUBREAPER, 1)
    except BaseException as e:
        failed(e, 72)
    me = os.getpid()
    pid = os.fork()
    if pid == 0:
        try:
            child(cfg, me)
        except BaseException as e:  # exec failed: nothing else may run
            failed(e, 71)
    deadline = time.monotonic() + cfg["timeout"]
    status = "timeout"
    while True:
        try:
            got, st = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if got == pid:
            status = str(st)
            break
        if got == 0:  # (another pid: an orphan reaped; go on)
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
    end_all(cfg, me)
    os.write(cfg["status_fd"], f"{status}\n".encode())
    return 0


def end_all(cfg: dict, me: int) -> None:
    """Kill every process the child left, and reap them."""
    if cfg.get("pid_namespace"):  # we are its init: kill(-1) is all of it
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
    for _ in range(1000):  # our children, and their orphans after them
        kids = children(me)
        if not kids:
            break
        for k in kids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(k, signal.SIGKILL)
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        time.sleep(0.01)
    if cfg.get("uid") is not None:
        kill_uid(cfg["uid"])


def children(me: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    # pid (comm) state ppid ...: comm may hold spaces
                    ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == me:
                found.append(int(entry))
    return found


def main(argv: list[str]) -> int:
    if argv[:1] == ["--kill-uid"]:
        kill_uid(int(argv[1]))
        return 0
    cfg = json.loads(argv[0])
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if cfg.get("parent") and os.getppid() != cfg["parent"]:
        return 70  # the grader is already gone
    if cfg.get("unshare"):  # inside, unshare's --kill-child ties us to it
        inner = {**cfg, "unshare": None, "parent": None,
                 "pid_namespace": True}
        os.execv(cfg["unshare"][0], [*cfg["unshare"], sys.executable, "-I",
                                     "-S", __file__, json.dumps(inner)])
    return supervise(cfg)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
