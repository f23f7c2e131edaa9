"""Attack submissions (tests/attacks.py) graded through the real autograder
scripts: Gradescope's run_autograder on a copy of the course laid out as
Gradescope lays it out, and the Classroom job's grading command. Each
attack must lose marks, leave the course, the key and results.json as they
were, and leave no process behind.

As root (CI), the grader runs learner code as a uid of its own in its own
namespaces ("user + namespaces"); the fallbacks are tested by naming a
lower level (TINYCNN_SANDBOX): "user" inside a mount namespace whose /root
other users can pass through (a sandbox uid must run Python), "namespaces"
and "process".
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from attacks import ATTACKS, HEAD, Attack

from tinycnn.paths import ROOT
from tinycnn.sandbox.child import FIRST_UID, SLOTS

ROOTED = hasattr(os, "geteuid") and os.geteuid() == 0 and \
    sys.platform.startswith("linux") and shutil.which("unshare") is not None
# what Gradescope's /autograder/source holds: the course, solutions and all
# (an instructor may zip the whole repository)
SOURCE = ("tinycnn", "checks", "steps", "solutions", "instructors",
          "pyproject.toml")


def sandbox_processes(wait: float = 15) -> list[int]:
    """Live processes of the sandbox uids, after giving any that are
    dying (or a probe of another grader on this machine) `wait` seconds."""
    deadline = time.monotonic() + wait
    while True:
        out = []
        for p in Path("/proc").iterdir():
            try:
                if p.name.isdigit() and \
                        FIRST_UID <= p.stat().st_uid < FIRST_UID + SLOTS \
                        and ") Z " not in (p / "stat").read_text():
                    out.append(int(p.name))
            except OSError:
                pass
        if not out or time.monotonic() > deadline:
            return out
        time.sleep(0.5)


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*.py")):
        h.update(str(p).encode() + p.read_bytes())
    return h.hexdigest()


class Autograder:
    """/autograder as Gradescope lays it out, in a temp folder."""

    def __init__(self, base: Path, data: Path = ROOT / "data") -> None:
        self.base, self.data = base, data
        self.source = base / "source"
        tracked = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard",
             *SOURCE], cwd=ROOT, capture_output=True, text=True,
            check=True).stdout.split()
        for rel in tracked:
            (self.source / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, self.source / rel)
        (self.source / ".git").mkdir()
        (self.source / ".git/HEAD").write_text("ref: refs/heads/main\n")
        self.submission = base / "submission"
        self.results = base / "results" / "results.json"
        self.results.parent.mkdir(parents=True)
        self.cache = base / "cache"
        self.marker = base / "pwned"
        # the record-signing key exists, as on a grader that has been used
        self.key = self.cache / "tinycnn/record.key"
        self.key.parent.mkdir(parents=True)
        self.key.write_text(secrets.token_hex(32))
        self.key.chmod(0o600)

    def fill(self, src: str) -> str:
        for k, v in {"{root}": self.source, "{results}": self.results,
                     "{data}": self.data / "MNIST/raw", "{key}": self.key,
                     "{marker}": self.marker}.items():
            src = src.replace(k, str(v))
        return src

    def submit(self, a: Attack) -> None:
        shutil.rmtree(self.submission, ignore_errors=True)
        self.submission.mkdir()
        model = {"{pretrained}": pretrained, "{in_arguments}": in_arguments,
                 "{reference}": reference}.get(a.model, lambda: a.model)()
        (self.submission / "model.py").write_text(self.fill(model))
        (self.submission / "train.py").write_text(a.train)

    def env(self, step: str, slow: bool, **more) -> dict:
        return {**os.environ, "AUTOGRADER": str(self.base),
                "PYTHON": sys.executable, "STEP": step,
                "SLOW": "1" if slow else "0",
                "XDG_CACHE_HOME": str(self.cache),
                "TINYCNN_DATA": str(self.data), **more}

    def run(self, a: Attack, via: str = "gradescope", expect_rc=None,
            **env) -> tuple[dict, str]:
        """Grade `a` by Gradescope's script, or by the Classroom job's
        grading command (`via="classroom"`, which must exit 1: --strict)."""
        self.submit(a)
        self.results.unlink(missing_ok=True)
        if via == "classroom":
            cmd = classroom_command("accuracy" if a.slow else "structure",
                                    self.submission, self.results, a.step)
        else:
            cmd = ["bash", str(self.source /
                               "instructors/gradescope/run_autograder")]
        out = subprocess.run(cmd, cwd=self.source, env=self.env(
            a.step, a.slow, **env), capture_output=True, text=True,
                             timeout=900)
        want = expect_rc if expect_rc is not None else (
            1 if via == "classroom" else 0)
        assert out.returncode == want, out.stdout + out.stderr
        return json.loads(self.results.read_text()), out.stdout + out.stderr


def pretrained() -> str:
    """i0's reference, which loads in Net() the weights the committed
    reference record trained (a network that passes i0, trained elsewhere)."""
    state = (ROOT / "benchmarks/results/reference-cpu/i0.pt").read_bytes()
    blob = base64.b64encode(state).decode()
    src = (ROOT / "solutions/i0/model.py").read_text()
    return src.replace("        # <<<\n\n    def forward", '''        # <<<
        import base64, io
        state = torch.load(io.BytesIO(base64.b64decode(WEIGHTS)))
        self.load_state_dict({k.removeprefix("net."): v
                              for k, v in state.items()})

    def forward''', 1) + f"\n\nWEIGHTS = {blob!r}\n"


def in_arguments() -> str:
    """The weights of i0's committed reference run, each parameter as 8-bit
    codes into a 256-value code book that forward builds from numbers
    (torch.linspace, unbind, stack), so that no trained value is a
    tensor the network keeps; the one parameter is a zero bias (the issue
    41 attack: it got 6/6 and 99.36 % with '10 parameters')."""
    import torch

    state = torch.load(ROOT / "benchmarks/results/reference-cpu/i0.pt")
    state = {k.removeprefix("net."): v for k, v in state.items()}
    flat = torch.cat([v.reshape(-1) for v in state.values()])
    lo, hi = float(flat.min()), float(flat.max())
    codes = ((flat - lo) / (hi - lo) * 255).round().int().tolist()
    shapes = {k: list(v.shape) for k, v in state.items()}
    return HEAD + f'''
CODES = {codes!r}
SHAPES = {shapes!r}


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.b = nn.Parameter(torch.zeros(10))

    def forward(self, x):
        g = torch.linspace({lo!r}, {hi!r}, 256).unbind(0)
        flat = torch.cat([torch.stack([g[c] for c in CODES[i:i + 4000]])
                          for i in range(0, len(CODES), 4000)])
        w, at = {{}}, 0
        for name, shape in SHAPES.items():
            n = 1
            for s in shape:
                n *= s
            w[name] = flat[at:at + n].view(shape)
            at += n
        x = F.conv2d(x, w["conv1.weight"], w["conv1.bias"], padding=1).relu()
        x = F.conv2d(x, w["conv2.weight"], w["conv2.bias"], padding=1).relu()
        x = F.max_pool2d(x, 2)
        x = F.conv2d(x, w["conv3.weight"], w["conv3.bias"], padding=1).relu()
        x = F.conv2d(x, w["conv4.weight"], w["conv4.bias"], padding=1).relu()
        x = F.max_pool2d(x, 2)
        return F.linear(x.flatten(1), w["fc.weight"], w["fc.bias"]) + self.b


def layer_shapes():
    return {{"conv1": (8, 28, 28), "conv2": (12, 28, 28), "pool1": (12, 14, 14),
            "conv3": (16, 14, 14), "conv4": (24, 14, 14), "pool2": (24, 7, 7),
            "fc": (10,)}}
'''


def reference() -> str:
    return (ROOT / "solutions/i3/model.py").read_text()


def failed(data: dict) -> set[str]:
    return {t["name"] for t in data["tests"] if t["status"] == "failed"}


def check_names(step: str, checks) -> set[str]:
    from tinycnn.course import STEPS, title

    return {title(c, STEPS[step]) for c in checks}


def verify(ag: Autograder, a: Attack, data: dict, log: str,
           before: str) -> None:
    """What must hold after every attack."""
    text = json.dumps(data)
    assert data["score"] < len(data["tests"]), (a.name, text)
    assert "Traceback" not in text and "frozen runpy" not in text, text
    lost = check_names(a.step, a.lose)
    assert lost <= failed(data), (a.name, text)
    for s in a.says:
        assert s in text, (a.name, s, text)
    for s in a.not_says:
        assert s not in text, (a.name, s, text)
    assert ag.key.read_text() not in text + log
    assert digest(ag.source) == before, f"{a.name}: the course changed"
    assert not ag.marker.exists(), f"{a.name}: code ran in the grader"
    for d in (ag.source / "checks/i3", ag.source, ag.source / "tinycnn"):
        assert not (d / "matplotlib.py").exists(), a.name
    if a.extra.get("watch"):  # give anything left behind time to act
        time.sleep(a.extra["watch"])
        assert json.loads(ag.results.read_text()) == data, a.name
    assert not sandbox_processes(), f"{a.name}: processes left behind"


needs_root = pytest.mark.skipif(not ROOTED, reason="the sandbox path needs "
                                "root, Linux and unshare (CI has them)")
FAST = [a for a in ATTACKS if not a.slow and a.route != "processes"]


VIAS = ("gradescope", "classroom")
# Attacks on the network alone: the grader judges its traced graphs the
# same way whichever autograder started it (no path, process or file of
# the autograder's is involved), so each runs by one autograder, the two
# in turn; every attack that reaches for files, processes, results or the
# course tree runs by both (their layouts differ).
NETWORK_ONLY = ("batch size", "fake average", "layer table",
                "starting weights", "memory")
FAST_JOBS = [(a, via) for a in FAST for via in VIAS
             if a.route not in NETWORK_ONLY] + [
    (a, VIAS[i % 2]) for i, a in enumerate(
        a for a in FAST if a.route in NETWORK_ONLY)]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Every fast attack by both autograders (those on the network alone by
    one: NETWORK_ONLY), two at a time, each in its own /autograder."""
    if not ROOTED:
        pytest.skip("needs root")
    # the folders are made here, not in the threads: pytest's temp factory
    # is not thread-safe (two threads making its base folder at once left
    # one of them outside it: "ag is not a normalized and relative path")
    jobs = [(a, via, tmp_path_factory.mktemp("ag")) for a, via in FAST_JOBS]

    def one(job):
        a, via, folder = job
        ag = Autograder(folder)
        before = digest(ag.source)
        data, log = ag.run(a, via)
        return ag, data, log, before

    with ThreadPoolExecutor(2) as pool:
        return dict(zip([(a.name, via) for a, via, _ in jobs],
                        pool.map(one, jobs), strict=True))


def test_the_library_covers_every_route():
    routes = {a.route for a in ATTACKS}
    assert routes >= {"archive", "grader path", "course tree", "key",
                      "test set", "solutions", "daemons", "results rewrite",
                      "signals", "weights", "memory", "processes",
                      "batch size", "fake average", "layer table",
                      "starting weights", "time"}
    assert len(ATTACKS) >= 15


def test_network_attacks_cover_both_autograders():
    split = [via for a, via in FAST_JOBS if a.route in NETWORK_ONLY]
    assert set(split) == set(VIAS) and len(split) >= 4
    assert {a.name for a, _ in FAST_JOBS} == {a.name for a in FAST}


@needs_root
@pytest.mark.parametrize(("a", "via"), FAST_JOBS,
                         ids=[f"{a.name}-{via}" for a, via in FAST_JOBS])
def test_attack_loses_marks(a, via, graded):
    ag, data, log, before = graded[a.name, via]
    verify(ag, a, data, log, before)
    assert "user + namespaces" in data["output"]


# each slow attack by one autograder, the two in turn: both are covered,
# by several attacks each, at half the minutes (most fast ones run by both)
SLOW = [(a, VIAS[i % 2]) for i, a in enumerate(
    a for a in ATTACKS if a.slow or a.route == "processes")]


def test_slow_attacks_cover_both_autograders():
    assert {via for _, via in SLOW} == set(VIAS)


@needs_root
@pytest.mark.slow
@pytest.mark.parametrize(("a", "via"), SLOW,
                         ids=[f"{a.name}-{via}" for a, via in SLOW])
def test_slow_attack_loses_marks(a, via, tmp_path):
    ag = Autograder(tmp_path)
    before = digest(ag.source)
    data, log = ag.run(a, via, TINYCNN_PROBE_TIMEOUT="30")
    verify(ag, a, data, log, before)
    if a.route == "weights":  # trained from the grader's own draw
        m = re.search(r"final test accuracy ([\d.]+)%", json.dumps(data))
        assert m and float(m.group(1)) < 50, data


def deep_i0() -> str:
    """i0's reference with a chain of 160 more ops (ReLUs on the last map,
    which change nothing): an honest network deeper than a copy of its
    graph could recurse."""
    src = (ROOT / "solutions/i0/model.py").read_text()
    old = "        X = self.pool2(X)          # (B, 24, 7, 7)\n"
    assert old in src
    return src.replace(old, old + "        for _ in range(160):\n"
                                  "            X = X.relu()\n")


@needs_root
@pytest.mark.slow
@pytest.mark.parametrize("via", ["gradescope"])  # the route it crashed on
def test_a_deep_honest_network_gets_full_marks(via, tmp_path):
    ag = Autograder(tmp_path)
    honest = Attack("deep", "honest", deep_i0(),
                    (ROOT / "solutions/i0/train.py").read_text(), step="i0",
                    slow=True)
    data, log = ag.run(honest, via, expect_rc=0)
    assert data["score"] == len(data["tests"]) == 6, data
    assert "Traceback" not in json.dumps(data)


# ------------------------------------------------------------ Classroom


def workflow() -> dict:
    return yaml.safe_load((ROOT / ".github/workflows/classroom.yml")
                          .read_text())


def test_classroom_grades_with_the_pinned_grader_only():
    wf = workflow()
    for name, job in wf["jobs"].items():
        uses = [s for s in job["steps"] if "uses" in s]
        grader = [s for s in uses if s.get("with", {}).get("path") ==
                  "grader"]
        assert grader and grader[0]["with"]["repository"] == \
            "${{ env.GRADER_REPO }}" and grader[0]["with"]["ref"] == \
            "${{ env.GRADER_REF }}", name
        runs = " ".join(s.get("run", "") for s in job["steps"])
        # the student's repository gives its step files, nothing else
        assert re.findall(r"student/[\w./${} -]*", runs) and all(
            p.startswith("student/steps/") for p in re.findall(
                r"student/\S*", runs)), runs
        assert "grader/.venv/bin/python -m tinycnn.autograde" in runs


def classroom_command(job: str, submission: Path, results: Path,
                      step: str) -> list[str]:
    line = next(s["run"] for s in workflow()["jobs"][job]["steps"]
                if s.get("name", "").startswith("Grade"))
    line = line.replace("${{ matrix.step }}", step).replace(
        "sudo -E ", "").replace("grader/.venv/bin/python", sys.executable)
    line = line.replace(f"student/steps/{step}", str(submission)).replace(
        "--results results.json", f"--results {results}")
    return line.split()


@needs_root
def test_classroom_command_passes_the_reference(tmp_path):
    """--strict: exit 0 and full marks for the reference (the attacks,
    which must exit 1, are graded by it in test_attack_loses_marks)."""
    ag = Autograder(tmp_path / "ag")
    ref = tmp_path / "ref"
    shutil.copytree(ROOT / "solutions/i3", ref)
    cmd = classroom_command("structure", ref, ag.results, "i3")
    out = subprocess.run(cmd, cwd=ag.source, env=ag.env("i3", False),
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    data = json.loads(ag.results.read_text())
    assert data["score"] == len(data["tests"]) >= 7, data


# ------------------------------------------------------------ fallbacks


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux")
@pytest.mark.parametrize("level", ["process", "namespaces"])
def test_lower_levels_still_end_every_process(tmp_path, level):
    """Without root (a learner's laptop): the level is named in the grade,
    and a daemon that detaches from the submission's process group is
    still killed before the score is written."""
    ag = Autograder(tmp_path)
    daemon = next(a for a in ATTACKS if a.route == "daemons")
    before = digest(ag.source)
    data, log = ag.run(daemon, TINYCNN_SANDBOX=level)
    assert f"sandbox: {level}" in data["output"], data["output"]
    verify(ag, daemon, data, log, before)
    if level == "namespaces":  # the tree is read-only, the key unseen
        for name in ("the engine and the grader edited on disk",
                     "reads the record-signing key"):
            a = next(x for x in ATTACKS if x.name == name)
            data, log = ag.run(a, TINYCNN_SANDBOX=level)
            verify(ag, a, data, log, before)


@needs_root
def test_user_level_without_namespaces():
    """Root in a container that may not make namespaces: a uid of its own,
    the private folders made o-rwx. Run inside a mount namespace where
    other users can reach this machine's Python (its /root is private)."""
    # like /autograder: a folder every user may pass through (pytest's
    # own temp folder is private to root)
    base = Path(tempfile.mkdtemp(prefix="tinycnn-user-level-", dir="/tmp"))
    base.chmod(0o755)
    try:
        user_level(Autograder(base, data=base / "data"))
    finally:
        shutil.rmtree(base, ignore_errors=True)


def user_level(ag: Autograder) -> None:
    raw = ag.data / "MNIST/raw"
    raw.mkdir(parents=True)
    for f in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (raw / f).write_bytes(b"the test set")
    before = digest(ag.source)
    for name in ("reads the MNIST test set", "reads the reference solutions",
                 "the engine and the grader edited on disk",
                 "a detached daemon rewrites results.json after the grade"):
        a = next(x for x in ATTACKS if x.name == name)
        ag.submit(a)
        ag.results.unlink(missing_ok=True)
        script = reach_python() + (
            f'exec bash "{ag.source}/instructors/gradescope/run_autograder"')
        out = subprocess.run(["unshare", "--mount", "bash", "-c", script],
                             env=ag.env(a.step, False, TINYCNN_SANDBOX="user"),
                             capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stdout + out.stderr
        data = json.loads(ag.results.read_text())
        assert "sandbox: user:" in data["output"], data["output"]
        verify(ag, a, data, out.stdout, before)


def reach_python() -> str:
    """Shell lines that give /root mode 755 in this mount namespace, with
    only this Python's installation in it."""
    base = Path(sys.base_prefix).resolve()
    if not str(base).startswith("/root/"):
        return ""
    return (f'mkdir -p /tmp/.py-{os.getpid()} && '
            f'mount --bind "{base}" /tmp/.py-{os.getpid()} && '
            'mount -t tmpfs -o mode=755 tmpfs /root && '
            f'mkdir -p "{base}" && mount --bind /tmp/.py-{os.getpid()} '
            f'"{base}" && ')


@needs_root
def test_sweep_spares_the_uids_other_graders_hold():
    """autograde's last sweep kills leftovers of free sandbox uids only: a
    uid a running child holds (another grader's) is left alone."""
    from tinycnn.sandbox import child as sandbox

    slot = sandbox.Slot()
    proc = subprocess.Popen(["sleep", "60"], user=slot.uid, group=slot.uid,
                            extra_groups=[])
    try:
        sandbox.sweep()
        assert proc.poll() is None, "killed a held uid's process"
    finally:
        slot.release()
    assert sandbox.sweep() >= 1
    assert proc.wait(timeout=10) == -9
