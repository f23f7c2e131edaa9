"""The graders' pytest plugin: the tests of each step (one per check),
which folder they grade, live training lines, the grade table and
results.json (Gradescope's format). checks/conftest.py loads it.

    pytest checks/i3                      # grades steps/i3
    pytest checks/i3 --impl=solutions     # grades the reference
    pytest checks/i3 -m "not slow"        # structure only, seconds
    pytest checks/i3 --retrain            # ignore a cached run record

State lives on the config object; results are written when the session
finishes, one file per step (or all rows in the one --results file).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinycnn.course import STEPS
from tinycnn.grader import report
from tinycnn.grader.run import Grade
from tinycnn.grader.submission import Setting
from tinycnn.grader.verdict import Blocked, Fail
from tinycnn.paths import ROOT, runs_root, write_atomic
from tinycnn.sandbox import isolation
from tinycnn.train.device import pick_device

ROWS = pytest.StashKey[dict]()      # step -> [row, ...]
TESTS = pytest.StashKey[dict]()     # step -> [test title, ...] to run
RUNNING = pytest.StashKey[list]()   # [item] while a check runs
DEVICE = pytest.StashKey[object]()  # the torch.device, or why there is none
SCORES = pytest.StashKey[dict]()    # step -> what its checks measured


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("tinycnn")
    g.addoption("--impl", default="steps",
                help="folder holding the step folders to grade (default: steps)")
    g.addoption("--retrain", action="store_true",
                help="train again even if a run record of this code exists")
    g.addoption("--device", dest="tinycnn_device", default=None,
                help="cuda, mps or cpu (default: the best available)")
    g.addoption("--results", default=None,
                help="where to write results.json (default: the run folder)")
    g.addoption("--probe-timeout", type=float, default=None,
                help="seconds your code may take to build and trace (120)")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[ROWS] = {}
    config.stash[TESTS] = {}
    config.stash[RUNNING] = []
    config.stash[SCORES] = {}
    if config.getoption("results"):  # learner code must not see it
        isolation.EXTRA_HIDDEN.append(Path(config.getoption("results"))
                                    .resolve().parent)
    try:
        config.stash[DEVICE] = pick_device(config.getoption("tinycnn_device"))
    except ValueError as e:
        config.stash[DEVICE] = str(e)


def pytest_collection_modifyitems(config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    """A device that is not there is one error, not a failed check: the
    grade of each step is that one row, and no check runs."""
    why = config.stash[DEVICE]
    if not isinstance(why, str) or not items:
        return
    for step in dict.fromkeys(_step(i) for i in items):
        config.stash[ROWS][step] = [{
            "name": f"--device {config.getoption('tinycnn_device')}",
            "status": "failed", "output": f"{why}; no check ran"}]
    config.hook.pytest_deselected(items=list(items))
    items.clear()


def pytest_collection_finish(session: pytest.Session) -> None:
    """The checks that will run, by step: until each has its row,
    results.json says it did not finish (_write)."""
    for item in session.items:
        session.config.stash[TESTS].setdefault(_step(item), []).append(
            _title(item))


def _title(item: pytest.Item) -> str:
    doc = (getattr(item, "function", None).__doc__ or item.name).strip()
    return doc.splitlines()[0]


def _step(item: pytest.Item) -> str:
    return item.path.parent.name  # checks/i3/test_i3.py -> i3


def _folder(config: pytest.Config, name: str) -> Path:
    impl = Path(config.getoption("impl"))
    return (impl if impl.is_absolute() else ROOT / impl) / name


def _results_path(config: pytest.Config, step: str) -> Path:
    out = config.getoption("results")
    if out:
        return Path(out)
    return runs_root() / Path(config.getoption("impl")).name / step / \
        "results.json"


def say(config: pytest.Config, line: str) -> None:
    """A line on the learner's terminal now, whatever pytest captures."""
    tr = config.pluginmanager.get_plugin("terminalreporter")
    cap = config.pluginmanager.get_plugin("capturemanager")
    if tr is None:
        return
    if cap is None:
        tr.write_line(line)
        return
    with cap.global_and_fixture_disabled():
        tr.write_line(line)


def judge(graded: Grade, check: str) -> None:
    """A test of checks/iN/test_iN.py: run `check` (once, in the order the
    manifest allows: grader/run.py) and keep its detail for the table; a
    blocked check is skipped, saying which check blocked it."""
    try:
        graded.details[check] = graded.check(check)
    except Blocked as e:
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def graded(request: pytest.FixtureRequest):
    config = request.config
    name = _step(request.node)
    stale = _results_path(config, name)
    if not config.getoption("results"):
        try:  # a stale grade must not look current
            stale.unlink(missing_ok=True)
        except OSError as e:
            say(config, f"could not remove the old {stale}: {e.strerror}")
    _write(config, final=False)  # every check "not finished" until it is
    g = Grade(_folder(config, name), STEPS[name], Setting(
        config.stash[DEVICE], config.getoption("retrain"),
        lambda s: say(config, s), timeout=config.getoption("probe_timeout")))
    config.stash[SCORES][name] = g.sub.scores  # filled as checks run
    yield g
    g.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem):
    running = item.config.stash[RUNNING]
    running.append(item)
    result = yield
    running.remove(item)  # still listed after a Ctrl-C: it was interrupted
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    report = yield
    if call.excinfo is not None and call.excinfo.errisinstance(Fail):
        report.longrepr = str(call.excinfo.value)  # no traceback: it says all
    if report.when == "call" or (report.when == "setup" and not report.passed):
        graded = item.funcargs.get("graded")
        detail = graded.details.get(item.name[5:], "") if graded else ""
        if report.skipped:
            status, text = "blocked", str(report.longrepr[-1]).removeprefix(
                "Skipped: ")
        elif report.passed:
            status, text = "passed", detail
        else:
            status, text = "failed", str(report.longrepr)
        _add(item, status, text)
    return report


def _add(item: pytest.Item, status: str, text: str) -> None:
    rows = item.config.stash[ROWS].setdefault(_step(item), [])
    rows.append({"name": _title(item), "status": status, "output": text,
                 "tags": [_step(item)]})
    # now, not only at the end: a grader killed while training (a memory
    # limit, a timeout) leaves every verdict it reached
    _write(item.config, final=False)


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    tr, width = terminalreporter, terminalreporter._tw.fullwidth
    for step, rows in config.stash[ROWS].items():
        tr.section(f"grade {config.getoption('impl')}/{step}")
        for line in report.lines(rows, width):
            tr.write_line(line)
        tr.write_line(_isolation())
        tr.write_line(f"results: {_results_path(config, step)}")


UNFINISHED = ("not finished: the grader stopped before this check ended "
              "(see the grader's log)")


def _write(config: pytest.Config, final: bool) -> None:
    """results.json (Gradescope's format) for each step graded: every row
    so far; before the end, the checks still to run as not finished."""
    by_path: dict[Path, list[dict]] = {}
    steps: dict[Path, list[str]] = {}
    for step in dict.fromkeys([*config.stash[ROWS], *config.stash[TESTS]]):
        steps.setdefault(_results_path(config, step), []).append(step)
        rows = list(config.stash[ROWS].get(step, []))
        if not final:
            done = {r["name"] for r in rows}
            rows += [{"name": t, "status": "failed", "output": UNFINISHED,
                      "tags": [step]}
                     for t in config.stash[TESTS].get(step, [])
                     if t not in done]
        by_path.setdefault(_results_path(config, step), []).extend(rows)
    for path, rows in by_path.items():
        tests = [{**r, "status": "passed" if r["status"] == "passed"
                  else "failed", "score": float(r["status"] == "passed"),
                  "max_score": 1.0} for r in rows]
        scores = {s: config.stash[SCORES].get(s, {}) for s in steps[path]}
        body = json.dumps({"score": sum(t["score"] for t in tests),
                           "output": _isolation(), "tests": tests,
                           **leaderboard(scores)}, indent=1)
        try:
            write_atomic(path, body.encode())
        except OSError as e:
            if final:
                say(config, f"could not write {path}: {e.strerror}; set "
                            "--results to a writable file")


# Gradescope's leaderboard: (name, field of Submission.scores, order)
BOARD = (("Accuracy (%)", "accuracy", "desc"),
         ("Parameters", "parameters", "asc"),
         ("Epochs", "epochs", "asc"))


def leaderboard(scores: dict[str, dict]) -> dict:
    """results.json's "leaderboard" (Gradescope shows it when the
    assignment enables one) and "extra_data" (what the class view reads):
    what the checks measured, per step. Several steps in one file: each
    name says its step."""
    board = [{"name": (f"{step} " if len(scores) > 1 else "") + name,
              "value": got[field], "order": order}
             for step, got in scores.items()
             for name, field, order in BOARD if field in got]
    return {"leaderboard": board,
            "extra_data": {"tinycnn": {step: dict(got)
                                       for step, got in scores.items()}}}


def _isolation() -> str:
    """How learner code was kept from the grader (sandbox.py)."""
    return f"learner code ran in a sandbox: {isolation.isolation().describe()}"


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus) -> None:
    config = session.config
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        for item in config.stash[RUNNING]:
            _add(item, "interrupted", "interrupted (Ctrl-C) before it ended")
    _write(config, final=True)
    if isinstance(config.stash[DEVICE], str):  # nothing was graded
        session.exitstatus = pytest.ExitCode.USAGE_ERROR
