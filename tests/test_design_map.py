"""The map of where a design sits: every committed record of a step is on
it, the shipped file is fresh, and its sentence counts right."""

import json
from types import SimpleNamespace

import pytest

from tinycnn.course import STEPS
from tinycnn.grader import design_map
from tinycnn.grader.checks import accuracy
from tools import designs


def test_every_committed_record_is_on_its_steps_map():
    shipped = json.loads(design_map.DESIGNS.read_text(encoding="utf-8"))
    assert set(shipped) == set(STEPS)
    on_map = {(step, d["folder"], seed, acc)
              for step, ds in shipped.items() for d in ds
              for seed, acc in zip(d["seeds"], d["accs"], strict=True)}
    diverged = {(step, d["folder"]): d["diverged"]
                for step, ds in shipped.items() for d in ds}
    runs = designs.runs()
    assert len(runs) > 400  # every seeds table was read
    for table, r in runs:
        step = designs.step_of(r["folder"])
        assert step is not None, (table, r["folder"])
        if r["final_test_acc"] is None:
            assert diverged[step, r["folder"]] >= 1, (table, r)
        else:
            assert (step, r["folder"], r["seed"], r["final_test_acc"]) \
                in on_map, (table, r)


def test_the_shipped_designs_are_those_the_records_give():
    assert design_map.DESIGNS.read_text(encoding="utf-8") == \
        designs.designs_json(), "python -m tools docs"


def test_a_folder_belongs_to_the_step_it_names():
    assert designs.step_of("solutions/i3") == "i3"
    assert designs.step_of("i4-nobn") == "i4"
    assert designs.step_of("i0d") == "i0"
    assert designs.step_of("i9x") is None
    assert designs.step_of("mine") is None


@pytest.fixture
def three(tmp_path):
    mark = STEPS["i3"].pass_acc
    path = tmp_path / "designs.json"
    path.write_text(json.dumps({"i3": [
        {"label": "small", "params": 9000, "epochs": 15,
         "accs": [mark + 0.1, mark + 0.2]},
        {"label": "thin", "params": 12000, "epochs": 15,
         "accs": [mark - 0.2, mark - 0.1]},        # under the mark
        {"label": "big", "params": 18000, "epochs": 15,
         "accs": [mark + 0.3], "diverged": 1},
    ]}))
    return path, mark


def test_the_sentence_counts_designs_that_pass_with_fewer_parameters(three):
    path, mark = three
    said = design_map.sentence("i3", (15000, mark + 0.15), path=path)
    assert said.startswith("1 of 3 recorded designs pass")
    assert "the fewest is small (9,000 parameters" in said
    assert "1 ends higher" in said  # big's mean
    said = design_map.sentence("i3", (8000, mark + 0.5), path=path)
    assert said.startswith("0 of 3") and "none ends higher" in said
    said = design_map.sentence("i3", path=path)
    assert said.startswith("3 recorded designs of i3, 2 pass")


def test_no_records_says_so_and_still_draws(tmp_path):
    missing = tmp_path / "none.json"
    assert "no recorded designs" in design_map.sentence("i3", path=missing)
    (tmp_path / "bad.json").write_text("{not json")
    assert design_map.designs("i3", tmp_path / "bad.json") == []
    assert design_map.draw("i3", (15000, 99.5), path=missing)[:4] == \
        b"\x89PNG"


def test_the_picture_marks_the_run(three):
    path, mark = three
    a = design_map.draw("i3", path=path)
    b = design_map.draw("i3", (15000, mark + 0.15), path=path)
    assert a[:4] == b[:4] == b"\x89PNG" and a != b


def test_a_graded_run_says_where_it_sits_and_leaves_the_picture(tmp_path):
    sub = SimpleNamespace(fingerprint={"params": 15000},
                          spec=STEPS["i3"])
    said = accuracy._on_the_map(sub, 99.5, tmp_path)
    assert said.startswith("Map: ") and "your 15,000" in said
    assert (tmp_path / design_map.PICTURE).read_bytes()[:4] == b"\x89PNG"
    blocked = tmp_path / "a-file"  # a folder it cannot write (even as root)
    blocked.write_text("")
    said = accuracy._on_the_map(sub, 99.5, blocked)
    assert said.startswith("Map: ") and "picture" not in said


def test_the_map_command_reads_the_learners_newest_run(
        tmp_path, monkeypatch, capsys):
    from tinycnn.__main__ import main

    monkeypatch.setenv("TINYCNN_RUNS", str(tmp_path / "runs"))
    out = tmp_path / "map.png"
    assert main(["map", "i3", "--out", str(out)]) == 0
    assert "no finished run" in capsys.readouterr().out
    run = tmp_path / "runs" / "steps" / "i3"
    run.mkdir(parents=True)
    (run / "record.json").write_text(json.dumps(
        {"step": "i3", "params": 15044, "final_test_acc": 99.47,
         "epochs": []}))
    main(["map", "i3", "--out", str(out)])
    said = capsys.readouterr().out
    assert "your 15,044" in said and "99.47%" in said and out.is_file()
    assert main(["map", "i9"]) == 2
