"""The variant registry: every entry builds, and says what it changes."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from benchmarks.nets import NETS
from benchmarks.variants import VARIANTS, folder
from tinycnn.course import STEPS
from tinycnn.learner.workspace import load_step
from tinycnn.paths import ROOT
from tinycnn.train.recipe import Recipe


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_builds_and_differs_as_it_says(name):
    v = VARIANTS[name]
    assert v.step in STEPS and v.what
    step = load_step(folder(name))
    ref = load_step(ROOT / "solutions" / v.step)
    recipe = step.train.recipe()
    checked = Recipe.from_fields(dataclasses.asdict(recipe))
    assert checked == recipe
    for key, value in v.recipe.items():
        assert getattr(recipe, key) == value
    if not v.whole:  # a delta: everything else is the base's
        base = dataclasses.asdict(ref.train.recipe())
        for key, value in dataclasses.asdict(recipe).items():
            if key not in v.recipe:
                assert base[key] == value, key
    net = step.model.Net()
    assert sum(p.numel() for p in net.parameters()) > 0
    if v.net:  # a structural variant has no shape table to grade
        assert step.model.layer_shapes() == {}
    else:
        assert step.model.layer_shapes() == ref.model.layer_shapes()


@pytest.mark.parametrize("name", sorted(NETS))
def test_structural_net_runs_and_differs_from_its_reference(name):
    """Each network of benchmarks/nets.py maps digits to 10 logits, and a
    variant that names it is not the reference under another name."""
    net = NETS[name]()
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    users = [v for v in VARIANTS.values() if v.net == name]
    assert users, f"no variant uses {name}"
    ref = load_step(ROOT / "solutions" / users[0].step).model.Net()
    assert str(net) != str(ref)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _descendants(pid: int) -> set[int]:
    """Every live process below `pid` (Linux /proc)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":  # a zombie has stopped already
            parents[int(stat.parent.name)] = int(fields[1])
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        kids = {c for c, pp in parents.items() if pp == p}
        todo += kids - found
        found |= kids
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1]
    except OSError:
        return False
    return state.split()[0] != "Z"


@pytest.mark.skipif(not Path("/proc").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("name", ["i2-ep10", "i4-pad", "i0h", "i3b"])
def test_a_variant_folder_probes_in_the_graders_sandbox(name):
    """Each kind of variant folder (a delta on the reference's Net and
    recipe, a structural net from nets.py, a whole recipe, a net of its
    own) brings what it imports: the sandbox shows a step nothing outside
    its folder (before, every delta failed: 'solutions/i2 has no
    model.py')."""
    from tinycnn.sandbox import probe

    assert probe.run(folder(name)).problem() is None


def test_seeds_stops_its_workers_on_sigterm(tmp_path):
    """`timeout` or `kill` on benchmarks/seeds.py stops the training
    workers too: an orphan would train on and skew every later timing."""
    env = {**os.environ, "TINYCNN_RUNS": str(tmp_path / "runs")}
    proc = subprocess.Popen(
        [sys.executable, "benchmarks/seeds.py", "--steps", "solutions/i0",
         "--seeds", "1", "--jobs", "1", "--threads", "1",
         "--out", str(tmp_path / "s.json")], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # the pool's training workers, by their command line: a short-lived
    # child seen first (platform's `uname -p`) would be gone by the check
    # (CI failed so once)
    deadline, workers = time.monotonic() + 120, set()
    while not workers and time.monotonic() < deadline:
        time.sleep(0.2)
        workers = {p for p in _descendants(proc.pid)
                   if b"spawn_main" in _cmdline(p)}
    assert workers, "no worker started"
    time.sleep(3)  # the worker is importing torch or training by now
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        alive = {p for p in workers if _alive(p)}
        if not alive:
            break
        time.sleep(0.5)
    for pid in alive:  # a failing run leaves no orphan behind
        os.kill(pid, signal.SIGKILL)
    assert not alive, f"workers {alive} outlived seeds.py"


def test_a_diverged_seed_is_a_result():
    """A run whose loss became NaN is logged, and the tables show it as
    the worst seed rather than leaving it out."""
    from benchmarks.seeds import table

    ok = {"folder": "i4-nobn", "step": "i4", "params": 7760, "epochs": 15,
          "s_per_epoch": 20.0}
    rows = [{**ok, "seed": 1, "final_test_acc": 11.35},
            {"folder": "i4-nobn", "step": "i4", "seed": 2,
             "final_test_acc": None, "diverged": "loss became nan"},
            {**ok, "seed": 3, "final_test_acc": 99.45}]
    line = table(rows).splitlines()[-1]
    assert "11.35, diverged, 99.45" in line
    assert "| diverged | 55.40 |" in line and "| 1/3 |" in line


def test_a_forced_precision_is_its_own_platform(monkeypatch):
    """Runs with TINYCNN_PRECISION set are not what the machine would
    pick: the odds tables group them apart, under a label that says so."""
    from benchmarks.seeds import platform_label

    monkeypatch.setenv("TINYCNN_PRECISION", "fp32")
    assert platform_label("cpu").endswith(", fp32 (forced)")
    monkeypatch.delenv("TINYCNN_PRECISION")
    assert "(forced)" not in platform_label("cpu")


def test_runs_of_two_machines_are_rows_apart():
    """A table whose log grew on two CPUs shows each CPU's runs as a row
    of their own (seeds train differently there); one machine: as before."""
    from benchmarks.seeds import table

    ok = {"folder": "solutions/i1", "step": "i1", "params": 20950,
          "epochs": 10, "s_per_epoch": 30.0}
    rows = [{**ok, "seed": 1, "final_test_acc": 99.52, "platform": "A, fp32"},
            {**ok, "seed": 5, "final_test_acc": 99.41, "platform": "B, fp32"},
            {**ok, "seed": 6, "final_test_acc": 99.47, "platform": "B, fp32"}]
    lines = table(rows).splitlines()[2:]
    assert [line.split(" | ")[0] for line in lines] == [
        "| solutions/i1 on A, fp32", "| solutions/i1 on B, fp32"]
    assert "| 2 | 99.41, 99.47 |" in lines[1]
    assert table(rows[1:]).splitlines()[2].startswith("| solutions/i1 |")


def test_course_timing_keeps_what_it_timed(tmp_path, monkeypatch):
    """benchmarks/course_time.py writes its file after every step: a run cut
    short keeps the steps it timed, and a file that is not a timing is a
    clear error, not a traceback or a lost file."""
    from benchmarks import course_time

    out = tmp_path / "course-x.json"
    timed = []

    def fake_grade(step):
        if len(timed) == 2:
            raise KeyboardInterrupt
        timed.append(step)
        return {"step": step, "seconds": 1.0, "passed": True}

    monkeypatch.setattr(course_time, "grade", fake_grade)
    monkeypatch.setattr("benchmarks.seeds.platform_label",
                        lambda device: "a test machine")
    monkeypatch.setattr(sys, "argv", ["course_time.py", "--out", str(out)])
    with pytest.raises(KeyboardInterrupt):
        course_time.main()
    assert list(json.loads(out.read_text())["steps"]) == timed == ["i0", "i1"]
    out.write_text("{not json")
    with pytest.raises(SystemExit, match="not a course timing"):
        course_time.main()
    assert out.read_text() == "{not json"
