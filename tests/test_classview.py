"""The instructors' class view and the leaderboard the grader fills."""

import csv
import io
import json

from tinycnn.course import STEPS
from tinycnn.grader import classview
from tinycnn.grader.plugin import leaderboard
from tinycnn.paths import ROOT

SAMPLE = ROOT / "benchmarks" / "results" / "sample-class"


def test_the_leaderboard_holds_what_the_checks_measured():
    got = leaderboard({"i3": {"accuracy": 99.47, "parameters": 15044,
                              "epochs": 15}})
    assert got["leaderboard"] == [
        {"name": "Accuracy (%)", "value": 99.47, "order": "desc"},
        {"name": "Parameters", "value": 15044, "order": "asc"},
        {"name": "Epochs", "value": 15, "order": "asc"}]
    assert got["extra_data"]["tinycnn"]["i3"]["parameters"] == 15044
    two = leaderboard({"i0": {"epochs": 1}, "i1": {}})
    assert two["leaderboard"] == [{"name": "i0 Epochs", "value": 1,
                                   "order": "asc"}]
    assert set(two["extra_data"]["tinycnn"]) == {"i0", "i1"}


def test_a_sample_class_gives_the_leaderboard_the_table_and_the_map(
        tmp_path, capsys):
    files = sorted(SAMPLE.rglob("results.json"))
    assert len(files) >= 10, "python benchmarks/sample_class.py"
    for f in files:  # graded by the autograder, as Gradescope runs it
        body = json.loads(f.read_text())
        names = {e["name"] for e in body["leaderboard"]}
        assert {"Parameters", "Epochs"} <= names, f
        if any(t["name"].startswith("final test accuracy") and
               t["status"] == "passed" for t in body["tests"]):
            assert "Accuracy (%)" in names, f
    table, maps = tmp_path / "class.csv", tmp_path / "maps"
    assert classview.main([str(SAMPLE), "--csv", str(table), "--map",
                           str(maps)]) == 0
    rows = list(csv.DictReader(io.StringIO(table.read_text())))
    assert len(rows) == len(files)
    assert {r["step"] for r in rows} == {"i0"}
    assert any(r["passed"] == "yes" for r in rows)
    assert any(r["passed"] == "no" and r["failed_checks"] for r in rows)
    over = [r for r in rows if int(r["parameters"] or 0)
            > STEPS["i0"].max_params]
    assert over and all(r["passed"] == "no" for r in over)
    assert (maps / "class-i0.png").read_bytes()[:4] == b"\x89PNG"
    out = capsys.readouterr().out
    assert out.startswith(f"i0: {len(files)} submissions")


def test_unreadable_and_old_results_are_rows_not_errors(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "results.json").write_text("{broken")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "results.json").write_text(json.dumps(
        {"score": 1, "tests": [{"name": "x", "status": "passed",
                                "score": 1, "max_score": 1}]}))
    (tmp_path / "c" / "deep").mkdir(parents=True)
    (tmp_path / "c" / "deep" / "results.json").write_text(json.dumps(
        {"score": 1, "tests": [
            {"name": "builds", "status": "passed", "score": 1,
             "max_score": 1, "tags": ["i0"]},
            {"name": "builds", "status": "failed", "score": 0,
             "max_score": 1, "tags": ["i1"]}],
         "extra_data": {"tinycnn": {"i0": {"parameters": 100},
                                    "i1": {"parameters": "lots"}}}}))
    rows = classview.gather(tmp_path)
    by = {(r.submission, r.step): r for r in rows}
    assert by["a", ""].note.startswith("unreadable")
    assert by["b", ""].passed and "no step" in by["b", ""].note
    assert by["c/deep", "i0"].passed and by["c/deep", "i0"].parameters == 100
    assert not by["c/deep", "i1"].passed
    assert by["c/deep", "i1"].parameters is None  # not a number: left out
    text = classview.csv_text(rows)
    assert text.splitlines()[0] == ",".join(classview.COLUMNS)


def test_the_class_command_says_what_is_missing(tmp_path, capsys):
    from tinycnn.__main__ import main

    assert main(["class", str(tmp_path)]) == 1
    assert "no results.json" in capsys.readouterr().err
    assert main(["class", str(tmp_path / "nope")]) == 1
