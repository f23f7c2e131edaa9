"""Grader plumbing: which folder to grade, the summary table, results.json.

    pytest checks/i3                      # grades steps/i3
    pytest checks/i3 --impl=solutions     # grades the reference
    pytest checks/i3 -m "not slow"        # structure only, seconds
    pytest checks/i3 --retrain            # ignore a cached run record
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinycnn.device import pick_device
from tinycnn.grading import Fail
from tinycnn.step import ROOT, load_step, runs_root

_results: dict[str, list[dict]] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("tinycnn")
    g.addoption("--impl", default="steps",
                help="folder holding i0..iN to grade (default: steps)")
    g.addoption("--retrain", action="store_true",
                help="train again even if a run record of this code exists")
    g.addoption("--device", dest="tinycnn_device", default=None,
                help="cuda, mps or cpu (default: the best available)")
    g.addoption("--results", default=None,
                help="where to write results.json (default: the run folder)")


def _folder(config: pytest.Config, name: str) -> Path:
    impl = Path(config.getoption("impl"))
    return (impl if impl.is_absolute() else ROOT / impl) / name


@pytest.fixture(scope="module")
def step(request: pytest.FixtureRequest):  # noqa: ANN201
    name = Path(request.module.__file__).parent.name  # checks/i3 -> i3
    folder = _folder(request.config, name)
    try:
        return load_step(folder)
    except Exception as e:  # noqa: BLE001 - a broken file is a failure
        pytest.fail(f"cannot load {folder}: {type(e).__name__}: {e}",
                    pytrace=False)


@pytest.fixture(scope="session")
def device(request: pytest.FixtureRequest):  # noqa: ANN201
    return pick_device(request.config.getoption("tinycnn_device"))


@pytest.fixture(scope="session")
def retrain(request: pytest.FixtureRequest) -> bool:
    return request.config.getoption("retrain")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):  # noqa: ANN001, ANN201
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is not None and call.excinfo.errisinstance(Fail):
        # our own message says it all: no traceback
        report.longrepr = str(call.excinfo.value)
    if report.when == "call" or (report.when == "setup" and report.failed):
        step_name = Path(str(item.fspath)).parent.name
        doc = (item.function.__doc__ or item.name).strip().splitlines()[0]
        text = "" if report.passed else str(report.longrepr)
        _results.setdefault(step_name, []).append({
            "name": doc, "status": "passed" if report.passed else "failed",
            "output": text})


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:  # noqa: ANN001
    tr = terminalreporter
    for name, rows in _results.items():
        tr.section(f"grade {config.getoption('impl')}/{name}")
        width = max(len(r["name"]) for r in rows)
        for r in rows:
            mark = "PASS" if r["status"] == "passed" else "FAIL"
            hint = ""
            if "Hint: " in r["output"]:
                hint = r["output"].split("Hint: ", 1)[1].splitlines()[0]
            tr.write_line(f"{mark}  {r['name']:<{width}}  {hint[:70]}")
        passed = sum(r["status"] == "passed" for r in rows)
        tr.write_line(f"{passed}/{len(rows)} checks passed")
        out = config.getoption("results")
        path = Path(out) if out else (
            runs_root() / Path(config.getoption("impl")).name / name
            / "results.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        tests = [{**r, "score": float(r["status"] == "passed"),
                  "max_score": 1.0} for r in rows]
        path.write_text(json.dumps({
            "score": float(passed), "tests": tests}, indent=1))
        tr.write_line(f"results: {path}")
