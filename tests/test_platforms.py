"""The learner's path without POSIX (as on Windows), and what tinycnn.posix
does there. tests/nonposix/sitecustomize.py takes POSIX away from the
course's own code; see it for what exactly."""

import os
import subprocess
import sys

import pytest

from tinycnn import posix
from tinycnn.paths import ROOT

HARNESS = ROOT / "tests" / "nonposix"


def nonposix_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TINYCNN_")}
    env.update(PYTHONPATH=os.pathsep.join([str(HARNESS), str(ROOT)]),
               PYTHONWARNDEFAULTENCODING="1",
               TINYCNN_RUNS=str(tmp_path / "runs"),
               TINYCNN_CACHE=str(tmp_path / "cache"),
               USERNAME="learner")  # getpass reads it where pwd is gone
    return env


def run(args, tmp_path, timeout=600):
    return subprocess.run([sys.executable, *args], cwd=ROOT, timeout=timeout,
                          env=nonposix_env(tmp_path), capture_output=True,
                          text=True, encoding="utf-8")


def test_the_harness_takes_posix_away_from_course_code_only(tmp_path):
    """Each fault the harness stands for fails in a course file and not in
    a library's: the test below can fail."""
    probe = f"""
import os
def outcome(src, where):
    try:
        exec(compile(src, where, "exec"), {{"__name__": "x", "os": os}})
        return "ran"
    except Exception as e:
        return type(e).__name__
for name, src in [("fcntl", "import fcntl"), ("resource", "import resource"),
                  ("geteuid", "os.geteuid()"),
                  ("no encoding", "open(r'{ROOT}/README.md').read()"),
                  ("utf-8", "open(r'{ROOT}/README.md', encoding='utf-8')")]:
    print(name, outcome(src, r"{ROOT}/tinycnn/x.py"),
          outcome(src, r"{os.path.dirname(os.__file__)}/x.py"), sep="|")
from tinycnn import posix
print("posix", posix.POSIX, posix.LINUX, sep="|")
"""
    out = run(["-c", probe], tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    got = {n: rest for n, *rest in
           (line.split("|") for line in out.stdout.splitlines())}
    assert got == {"fcntl": ["ModuleNotFoundError", "ran"],
                   "resource": ["ModuleNotFoundError", "ran"],
                   "geteuid": ["AttributeError", "ran"],
                   "no encoding": ["UnicodeError", "ran"],
                   "utf-8": ["ran", "ran"],
                   "posix": ["False", "False"]}


@pytest.mark.slow
def test_the_learner_path_runs_without_posix(tmp_path):
    """Train a step, grade it, see where you are and the summary: what a
    learner on Windows runs, with POSIX taken from the course's code."""
    for args in (["solutions/i0/train.py", "--no-progress"],
                 ["-m", "pytest", "checks/i0", "--impl=solutions",
                  "-p", "no:cacheprovider", "-p", "no:warnings"],
                 ["-m", "tinycnn", "status", "--impl", "solutions"],
                 ["-m", "tinycnn", "summary", "solutions/i3"]):
        out = run(args, tmp_path)
        said = out.stdout + out.stderr
        assert out.returncode == 0, f"{args}:\n{said[-3000:]}"
        assert "POSIX-only" not in said and "Traceback" not in said, said
        if "pytest" in args:
            assert "6/6 checks passed" in said
            assert "no sandbox on this OS" in said  # the level it names


def test_no_flock_means_no_lock_not_an_error(tmp_path, monkeypatch):
    from tinycnn.train import records

    with open(tmp_path / "a", "a", encoding="utf-8") as one, \
            open(tmp_path / "a", "a", encoding="utf-8") as two:
        if posix.POSIX:
            assert posix.lock(one, wait=False) is True
            assert posix.lock(two, wait=False) is False  # held by `one`
            posix.unlock(one)
            assert posix.lock(two, wait=False) is True
        monkeypatch.setattr(posix, "POSIX", False)
        assert posix.lock(one, wait=False) is None
        posix.unlock(one)  # nothing to undo
    with records.locked(tmp_path / "run"), records.locked(tmp_path / "run"):
        pass  # no lock: the second does not wait for the first


def platform_commands() -> list[list[str]]:
    """The platforms workflow's commands, one OS-independent line each."""
    import shlex

    import yaml

    wf = yaml.safe_load((ROOT / ".github/workflows/platforms.yml")
                        .read_text(encoding="utf-8"))
    job = wf["jobs"]["learner-path"]
    assert set(job["strategy"]["matrix"]["os"]) == {
        "ubuntu-latest", "macos-latest", "windows-latest"}
    lines = [shlex.split(s["run"]) for s in job["steps"] if "run" in s]
    for args in lines:  # no make, no shell syntax: PowerShell runs them too
        assert args[:2] == ["python", "make.py"], args
    return [args[2:] for args in lines]


@pytest.mark.slow
def test_the_platforms_workflow_runs_here(tmp_path):
    """Its commands, on this Linux machine (the venv: this one)."""
    commands = platform_commands()
    assert [c[-1] if c[-1] != "i0" else "course i0" for c in commands] == [
        "setup", "check", "course i0"]
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TINYCNN_")}
    env["TINYCNN_RUNS"] = str(tmp_path / "runs")
    for args in commands:
        out = subprocess.run([sys.executable, "make.py", "--venv",
                              sys.prefix, *args], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, f"{args}:\n{(out.stdout + out.stderr)[-3000:]}"
        if "course" in args:
            assert "6/6 checks passed" in out.stdout
