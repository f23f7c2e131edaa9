"""The course's commands on any OS, with any Python >= 3.10 and nothing
else (the standard library only: it runs before anything is installed).

    python make.py course [iN ...]   set up, then train and grade the
                                     reference solutions (all, or these)
    python make.py test [ARGS]       set up, lint, check the tree against
                                     the manifest (python -m tools check),
                                     run the project's fast tests (ARGS
                                     go to pytest; minutes)
    python make.py test-all [ARGS]   the same with every test: the ones
                                     that train, build the lessons, drive
                                     a browser, grade the mutant library
                                     or install (what CI runs)
    python make.py check [iN ...]    set up, then the structure checks of
                                     your steps (seconds each, no training;
                                     --impl solutions: the references')
    python make.py setup             the virtual environment in .venv, the
                                     packages from requirements.lock, MNIST
    python make.py lint              ruff, as `test` runs it
    python make.py serve             the lessons, on http://127.0.0.1:8000

On Windows: `py make.py course`. The Makefile calls this file, so `make
course` and `python make.py course` are one thing. In a virtual
environment made by uv (`uv pip install -c requirements.lock`, as the
README shows), uv keeps the packages, so setup only fetches MNIST.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
# the test lanes: the markers of pyproject.toml that `test` leaves out
COSTLY = ("slow", "mutants", "docs", "browser", "install")
LOCKED = ("pyproject.toml", "requirements.lock")  # installing reads these
STAMP = ".installed"  # beside the venv's python: newer than what it read


def python(venv: Path) -> Path:
    """The venv's interpreter (Scripts\\python.exe on Windows)."""
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def made_by_uv(venv: Path) -> bool:
    """uv writes its version into pyvenv.cfg; such a venv has no pip of its
    own, and its packages are installed with uv (README)."""
    try:
        cfg = (venv / "pyvenv.cfg").read_text(encoding="utf-8")
    except OSError:
        return False
    return any(line.split("=")[0].strip() == "uv" for line in cfg.splitlines())


def needs_install(venv: Path) -> bool:
    """True unless the venv was installed after the files it installed
    from last changed (or uv keeps it)."""
    if made_by_uv(venv):
        return False
    stamp = python(venv).parent / STAMP
    if not (stamp.is_file() and python(venv).is_file()):
        return True
    return any((ROOT / f).stat().st_mtime > stamp.stat().st_mtime
               for f in LOCKED)


def call(*cmd: object) -> int:
    """Run a command in the repository; its exit status."""
    env = {**os.environ, "PYTHONUTF8": "1"}  # Windows consoles and pipes
    return subprocess.call([str(c) for c in cmd], cwd=ROOT, env=env)


def run(*cmd: object) -> None:
    """`call`, and stop with its exit status if it failed."""
    if code := call(*cmd):
        sys.exit(code)


def install(venv: Path) -> None:
    if not needs_install(venv):
        return
    if not python(venv).is_file():
        print(f"making a virtual environment in {venv}", flush=True)
        try:
            subprocess.run([sys.executable, "-m", "venv", str(venv)],
                           check=True, capture_output=True, text=True)
        except subprocess.CalledProcessError as e:
            sys.exit(f"could not make a virtual environment with "
                     f"{sys.executable}:\n{e.stdout}{e.stderr}\nOn Debian and"
                     " Ubuntu: apt install python3-venv")
    py = python(venv)
    print("installing the course and its packages (PyTorch: minutes)",
          flush=True)
    run(py, "-m", "pip", "install", "-q", "--upgrade", "pip")
    run(py, "-m", "pip", "install", "-q", "-c", "requirements.lock", "-e",
        ".[dev,docs]")
    (py.parent / STAMP).touch()


def setup(venv: Path) -> Path:
    install(venv)
    run(python(venv), "-m", "tinycnn", "data")
    return python(venv)


def workers() -> list[str]:
    """pytest-xdist's options: two workers where there are two cores (one
    thread each, tests/conftest.py), each file whole on one worker (its
    fixtures are built once). Not more: the machines we test on have two
    cores, and more workers than cores slow every one of them."""
    if (os.cpu_count() or 1) < 2:
        return []
    # in the order tests/conftest.py gives them, longest first
    return ["-n", "2", "--dist", "loadfile", "--no-loadscope-reorder"]


def steps(names: list[str]) -> list[str]:
    """checks/iN folders, all of them or the ones named."""
    have = sorted(p.name for p in (ROOT / "checks").glob("i*")
                  if any(p.glob("test_*.py")))
    unknown = [n for n in names if n not in have]
    if unknown:
        sys.exit(f"no step {', '.join(unknown)}: steps are {', '.join(have)}")
    return names or have


def main(argv: list[str] | None = None) -> None:
    if sys.version_info < (3, 10):  # noqa: UP036 - says so on any Python
        sys.exit(f"the course needs Python 3.10 or newer; this is "
                 f"{sys.version.split()[0]}")
    p = argparse.ArgumentParser(prog="python make.py", description=(
        __doc__ or "").split("\n\n")[0])
    p.add_argument("--venv", type=Path, default=ROOT / ".venv",
                   help="where the virtual environment is (default .venv)")
    p.add_argument("--impl", default="steps", help="check: the folder of "
                   "steps to check (default steps, yours; solutions)")
    p.add_argument("command", choices=["setup", "install", "data", "course",
                                       "check", "test", "test-rest",
                                       "test-all", "lint",
                                       "serve"])
    p.add_argument("args", nargs=argparse.REMAINDER,
                   help="steps (course, check) or pytest's arguments (test)")
    a = p.parse_args(argv)
    venv = a.venv if a.venv.is_absolute() else ROOT / a.venv
    if a.command == "install":
        install(venv)
    elif a.command in ("setup", "data"):
        setup(venv)
    elif a.command == "lint":
        install(venv)
        run(python(venv), "-m", "ruff", "check", ".")
    elif a.command in ("test", "test-rest", "test-all"):
        if not (ROOT / "tests").is_dir():
            sys.exit("this copy of the course has no tests/: `python make.py"
                     " check` runs the structure checks of your steps")
        py = setup(venv)
        run(py, "-m", "ruff", "check", ".")
        run(py, "-m", "tools", "check")  # the tree against the manifest
        # test: the fast lane; test-rest: the costly lanes it leaves out
        # (CI runs the two, one after the other); test-all: both at once
        lane = {"test": ["-m", f"not ({' or '.join(COSTLY)})"],
                "test-rest": ["-m", " or ".join(COSTLY)]}.get(a.command, [])
        run(py, "-m", "pytest", *workers(), *lane, *a.args)
    elif a.command == "course":
        if not (ROOT / "solutions").is_dir():
            sys.exit("this copy of the course has no solutions/ (your "
                     "instructor releases them): `python make.py check` "
                     "runs the structure checks of your steps")
        py = setup(venv)
        for step in steps(a.args):
            run(py, "-m", "pytest", f"checks/{step}", "--impl=solutions",
                "-p", "no:cacheprovider")
    elif a.command == "serve":
        install(venv)
        run(python(venv), "-m", "mkdocs", "serve")
    elif a.command == "check":
        py = setup(venv)
        failed = [step for step in steps(a.args)  # every step, each time
                  if call(py, "-m", "pytest", f"checks/{step}", "-m",
                          "not slow", f"--impl={a.impl}", "-p",
                          "no:cacheprovider")]
        if failed:
            sys.exit(f"not passed yet: {', '.join(failed)}")


if __name__ == "__main__":
    main()
