"""Reproducible installs: make setup installs the versions in the lock."""

import re
from importlib.metadata import version

import pytest
from packaging.requirements import Requirement

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


def test_make_setup_installs_from_the_lock():
    make = (ROOT / "Makefile").read_text()
    assert "pip install -q -c requirements.lock -e" in make
    assert ".installed: pyproject.toml requirements.lock" in make


def test_this_environment_is_the_locked_one():
    pins = lock()
    for pkg in ("torch", "torchvision", "numpy"):
        assert version(pkg).split("+")[0] == pins[pkg], pkg  # +cpu is fine
