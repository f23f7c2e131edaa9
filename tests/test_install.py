"""Reproducible installs: setup (make.py, which the Makefile calls)
installs the versions in the lock, with or without make."""

import os
import re
import shutil
import subprocess
import sys
from importlib.metadata import version

import pytest
from packaging.requirements import Requirement

import make
from tinycnn.paths import ROOT


def lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, ver = line.partition("==")
            assert ver, f"not an exact pin: {line}"
            pins[re.sub(r"[-_.]+", "-", name).lower()] = ver
    return pins


def test_every_dependency_is_pinned():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*meta["dependencies"],
              *(r for extra in meta["optional-dependencies"].values()
                for r in extra)]
    pins = lock()
    for req in map(Requirement, wanted):
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        assert name in pins, f"{req.name} is not in requirements.lock"
        assert req.specifier.contains(pins[name]), (req, pins[name])


def test_setup_installs_from_the_lock(tmp_path, monkeypatch):
    """make.py installs with the lock as constraints, and again only when
    pyproject.toml or the lock changed since (a venv uv made is uv's)."""
    calls = []
    monkeypatch.setattr(make, "run", lambda *cmd: calls.append(cmd))
    venv = tmp_path / "venv"
    py = make.python(venv)
    py.parent.mkdir(parents=True)
    py.touch()
    assert make.needs_install(venv)  # never installed
    make.install(venv)
    assert [str(c) for c in calls[-1][1:]] == [
        "-m", "pip", "install", "-q", "-c", "requirements.lock", "-e",
        ".[dev,docs]"]
    assert not make.needs_install(venv)
    newest = max((ROOT / f).stat().st_mtime for f in make.LOCKED)
    os.utime(py.parent / make.STAMP, (newest - 10, newest - 10))
    assert make.needs_install(venv)  # the lock changed since
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\nuv = 0.13.9\n",
                                     encoding="utf-8")
    assert not make.needs_install(venv)


def no_make_path(tmp_path) -> str:
    """A PATH without make (nor anything else)."""
    (tmp_path / "bin").mkdir(exist_ok=True)
    return str(tmp_path / "bin")


def test_make_py_runs_without_make(tmp_path):
    """Where there is no make (Windows): the same commands, from Python."""
    env = {**os.environ, "PATH": no_make_path(tmp_path)}
    ok = subprocess.run([sys.executable, "make.py", "--venv", sys.prefix,
                         "lint"], cwd=ROOT, env=env, capture_output=True,
                        text=True, timeout=300)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "All checks passed" in ok.stdout
    bad = subprocess.run([sys.executable, "make.py", "--venv", sys.prefix,
                          "course", "i9"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1
    assert "no step i9: steps are i0" in bad.stderr


@pytest.mark.skipif(shutil.which("make") is None, reason="no make here")
def test_the_makefile_is_make_py():
    """make's targets are make.py's commands, so the two cannot differ."""
    env = {k: v for k, v in os.environ.items()  # not make's child here
           if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    for target in ("setup", "course", "test", "test-all", "check"):
        out = subprocess.run(["make", "-n", "--no-print-directory", target,
                              "PY=python"], cwd=ROOT, env=env,
                             capture_output=True, text=True, check=True)
        assert out.stdout.strip() == f"python make.py --venv .venv {target}"


def test_this_environment_is_the_locked_one():
    pins = lock()
    for pkg in ("torch", "torchvision", "numpy"):
        assert version(pkg).split("+")[0] == pins[pkg], pkg  # +cpu is fine
