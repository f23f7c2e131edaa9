"""This Python, as the course's code sees it, without what Windows lacks:
for tests/test_platforms.py, on the PYTHONPATH of the grader and of every
child its sandbox starts (Python imports `sitecustomize` at start-up).

For code in the course's folders (tinycnn/, checks/, tools/, steps/,
solutions/), not for the libraries under it (they choose their own
POSIX or Windows code by sys.platform, which stays Linux):
- importing a POSIX-only module fails: fcntl, resource, termios, tty,
  pty, pwd, grp;
- calling a POSIX-only function of os fails: fork, process groups and
  sessions, uids and gids, chown, waitid;
- opening a text file without an encoding fails: Windows' default is
  not UTF-8 (PYTHONWARNDEFAULTENCODING makes Python warn; the warning
  becomes an error here);
and tinycnn.posix says neither Linux nor POSIX, as it would on Windows.
The GitHub workflow's Windows runner is the real thing.
"""

import builtins
import functools
import os
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COURSE = tuple(str(ROOT / d) + os.sep for d in
               ("tinycnn", "checks", "tools", "steps", "solutions"))
BLOCKED = {"fcntl", "resource", "termios", "tty", "pty", "pwd", "grp"}
GONE = ("fork", "forkpty", "killpg", "getpgid", "setpgid", "setsid",
        "setpgrp", "getuid", "geteuid", "getgid", "getegid", "setuid",
        "setgid", "chown", "lchown", "fchown", "waitid")


def ours(filename: str) -> bool:
    return os.path.abspath(filename).startswith(COURSE)


_import = builtins.__import__


def _guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
    if level == 0 and name.partition(".")[0] in BLOCKED and ours(
            sys._getframe(1).f_code.co_filename):
        raise ModuleNotFoundError(f"No module named {name!r} (POSIX-only;"
                                  " this is the test's Windows)", name=name)
    return _import(name, globals, locals, fromlist, level)


builtins.__import__ = _guarded_import


def _guard(name, fn):
    @functools.wraps(fn)
    def call(*args, **kwargs):
        if ours(sys._getframe(1).f_code.co_filename):
            raise AttributeError(f"os.{name} is POSIX-only (this is the "
                                 "test's Windows): guard it with "
                                 "tinycnn.posix")
        return fn(*args, **kwargs)
    return call


for name in GONE:
    if hasattr(os, name):
        setattr(os, name, _guard(name, getattr(os, name)))

_show = warnings.showwarning


def _show_or_raise(message, category, filename, lineno, file=None,
                   line=None):
    if issubclass(category, EncodingWarning):
        if ours(filename):
            raise UnicodeError(f"{filename}:{lineno}: a text file opened "
                               "without encoding=: not UTF-8 on Windows")
        return
    _show(message, category, filename, lineno, file, line)


warnings.showwarning = _show_or_raise
warnings.simplefilter("always", EncodingWarning)

from tinycnn import posix  # noqa: E402 - after the guards
from tinycnn.sandbox import child as sandbox  # noqa: E402

posix.LINUX = posix.POSIX = False
_env = sandbox._env


def _child_env(c):
    """The sandbox's children start with this file on their path."""
    env = _env(c)
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(__file__),
                                         env["PYTHONPATH"]])
    env["PYTHONWARNDEFAULTENCODING"] = "1"
    return env


sandbox._env = _child_env
