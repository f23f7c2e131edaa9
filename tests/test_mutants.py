"""Every model of the mutant library gets its expected verdict from every
structure check of its step (the accuracy check is the slow tests')."""

import json
import re
import time

import pytest
from mutants import MUTANTS

from tinycnn.course import STEPS, structure
from tinycnn.grader.run import run_many
from tinycnn.paths import ROOT
from tinycnn.sandbox import probe
from tinycnn.sandbox.probe_many import probed
from tools.mistakes import mistakes
from tools.pages import mistakes_md

pytestmark = pytest.mark.mutants  # minutes: every model is probed


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("mutants")
    jobs = []
    for m in MUTANTS:
        folder = base / re.sub(r"\W+", "_", m.name) / m.step
        folder.mkdir(parents=True)
        (folder / "model.py").write_text(m.model)
        (folder / "train.py").write_text(m.train)
        jobs.append((folder, STEPS[m.step],
                     list(structure(STEPS[m.step]))))
    t0 = time.perf_counter()
    # a model's probe is a fork of a warmed child (about 1 s); the one
    # endless loop spins until this timeout
    rows = dict(zip([m.name for m in MUTANTS], run_many(jobs, timeout=20),
                    strict=True))
    print(f"\n{len(MUTANTS)} mutants graded in "
          f"{time.perf_counter() - t0:.0f} s")
    return rows


def test_library_is_broad():
    kinds = {m.kind for m in MUTANTS}
    assert kinds == {"legit", "wrong", "tamper", "fault"}
    assert len(MUTANTS) >= 60
    assert len({m.name for m in MUTANTS}) == len(MUTANTS)


@pytest.mark.parametrize("m", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_verdict(m, graded):
    rows = graded[m.name]
    got = {c: r["status"] for c, r in rows.items()}
    want = {c: m.expect.get(c, "passed") for c in rows}
    assert got == want, "\n".join(f"{c}: {r['status']}: {r['output']}"
                                  for c, r in rows.items())
    for check, pattern in m.says.items():
        assert re.search(pattern, rows[check]["output"]), rows[check]
    for check, pattern in m.hints.items():  # the hint names the real fix
        assert re.search(pattern, rows[check].get("hint") or ""), rows[check]
    for r in rows.values():
        assert "Traceback" not in r["output"], r
        assert "frozen runpy" not in r["output"], r  # the grader's own


@pytest.mark.parametrize("step", STEPS)
def test_the_mistakes_lesson_is_what_the_grader_says(step, graded):
    """docs/generated/<step>-mistakes.md, made from this library's grades
    of the lesson's mistakes (the docs build grades them itself)."""
    rows = [graded[f"{step} mistake: {m.title}"] for m in mistakes(step)
            if m.check]
    page = ROOT / "docs" / "generated" / f"{step}-mistakes.md"
    assert page.read_text() == mistakes_md(step, rows), (
        f"{page} is stale: run `python -m tools docs`")


def test_probed_with_the_library_or_alone_reads_the_same(tmp_path):
    """The library is probed by forks of one child (probe_many.py); every
    way a model can end (an export, an exception, an exit, a signal, a
    hang, input(), writing where its arguments point) must read as a
    probe of its own reads."""
    ends = ["endless loop in forward", "os._exit(0) in Net()",
            "kills itself with SIGKILL", "KeyboardInterrupt raised in "
            "forward", "sys.exit(3) at import", "input() in model.py",
            "forward decides on a tensor value",
            "model.py forges the probe's facts, then exits"]
    by_name = {m.name: m for m in MUTANTS}
    picks = [next(m for m in MUTANTS if m.kind == "legit"),
             *(by_name[n] for n in ends)]
    folders = []
    for k, m in enumerate(picks):
        folder = tmp_path / str(k) / m.step
        folder.mkdir(parents=True)
        (folder / "model.py").write_text(m.model)
        (folder / "train.py").write_text(m.train)
        folders.append(folder)
    with probed(folders, timeout=15) as together:
        for m, folder, one in zip(picks, folders, together, strict=True):
            alone = probe.run(folder, timeout=15)
            try:
                assert (seen(one), one.has_graphs) == (
                    seen(alone), alone.has_graphs), m.name
                if one.has_graphs:
                    assert all((one.out / f.name).read_bytes() ==
                               f.read_bytes() for f in alone.out.glob(
                                   "*") if f.name != "hang.txt"), m.name
            finally:
                alone.remove()
    assert any(r.ended and "did not finish" in r.ended for r in together)


def seen(result: probe.Result) -> str:
    """What the grader reads of a probe, but where its copy of the folder
    was (a temporary path, one per probe) and which line of an endless
    loop the dump caught (`while True: pass` is two lines, and the dump
    lands on either, alone or not)."""
    text = json.dumps([result.facts, result.ended, result.problem()])
    text = text.replace(str(result.out.parent / "step"), "<copy>")
    return re.sub(r"(did not finish within \d+ s \(model\.py), line \d+",
                  r"\1, line N", text)
