"""The rule of evidence (tinycnn/evidence.py) and the learner's
`python -m tinycnn compare`, which applies it as the lessons do."""

import shutil

import pytest

from tinycnn import evidence
from tinycnn.learner import compare
from tools import tables
from tools.evidence import seed_runs


def test_the_sign_test_is_exact():
    assert evidence.sign_test(5, 0) == pytest.approx(2 / 32)
    assert evidence.sign_test(6, 0) == pytest.approx(2 / 64)
    assert evidence.sign_test(19, 1) == pytest.approx(2 * 21 / 2 ** 20)
    assert evidence.sign_test(3, 3) == 1.0 and evidence.sign_test(0, 0) == 1


@pytest.mark.parametrize(("new", "base", "verdict"), [
    ([2, 3, 4, 5, 6], [0, 0.5, 1, 1.5, 1.9], "better"),   # ranges apart
    ([1, 2, 3, 4, 5], [0.9, 1.9, 2.9, 3.9, 4.9], "no measurable difference"),
    ([1, 2, 3, 4, 5, 6], [0.9, 1.9, 2.9, 3.9, 4.9, 5.9], "better"),  # 6-0
    ([0.9, 1.9, 2.9, 3.9, 4.9, 5.9], [1, 2, 3, 4, 5, 6], "worse"),
    ([1, 2, 3, 4], [0, 0, 0, 0], "4 seeds: too few to say"),
    ([None, 2, 3, 4, 5, 6], [1, 1.9, 2.9, 3.9, 4.9, 5.9],
     "no measurable difference"),  # a diverged seed is a loss: 5-1
    ([1, 1, 1, 1, 1], [1, 1, 1, 1, 1], "no measurable difference"),
])
def test_the_verdict_follows_the_stated_rule(new, base, verdict):
    assert evidence.paired(new, base).verdict == verdict


def test_the_seeds_must_pair():
    with pytest.raises(ValueError, match="same"):
        evidence.paired([1, 2], [1])


def test_onecycle_against_a_constant_rate_is_measured_seed_by_seed():
    """The recorded pair the lessons once called 'no measurable
    difference' on overlapping ranges: OneCycle won 19 of 20 seeds."""
    one = seed_runs("margin-i0-cpu", "i0-onecycle015")
    flat = seed_runs("margin-i0-cpu", "i0-step015")
    seeds = sorted(set(one) & set(flat))
    result = evidence.paired([one[s]["final_test_acc"] for s in seeds],
                             [flat[s]["final_test_acc"] for s in seeds])
    assert result.n == 20 and result.wins >= 18 and result.p < 1e-3
    assert result.verdict == "better"


def test_compare_and_the_lessons_give_one_verdict_on_a_recorded_pair():
    p = tables.paired("i0", "i0-step015", "margin-i0-cpu.json",
                      ref_folder="i0-onecycle015")
    got = [p["got"][s]["final_test_acc"] for s in p["seeds"]]
    mine = evidence.paired(got, p["base"])
    assert mine.verdict == p["verdict"] == "worse"
    text = compare.table("A", "B", p["seeds"], mine, 98.0)
    assert text.count("\n| ") == len(p["seeds"]) + 3  # + min, mean, max
    assert "verdict (the lessons' rule: tinycnn/evidence.py): worse" in text
    assert mine.statistic in text


@pytest.mark.slow
def test_compare_runs_end_to_end_and_resumes(tmp_path, monkeypatch, capsys):
    """i0 (one epoch) against a copy at a lower peak rate, 2 seeds: four
    trained runs, then the same command keeps all four; a changed file
    trains again."""
    from tinycnn.__main__ import main
    from tinycnn.paths import ROOT

    monkeypatch.setenv("TINYCNN_RUNS", str(tmp_path / "runs"))
    b = tmp_path / "try" / "i0"
    shutil.copytree(ROOT / "solutions" / "i0", b,
                    ignore=shutil.ignore_patterns("__pycache__"))
    train = b / "train.py"
    train.write_text(train.read_text().replace("lr=0.05", "lr=0.015"))
    argv = ["compare", str(ROOT / "solutions" / "i0"), str(b), "--seeds",
            "2", "--device", "cpu"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "4 runs to train" in out and "all 4 runs about" in out
    assert "| 1 |" in out and "| 2 |" in out
    assert "2 seeds: too few to say" in out and "sign test p =" in out
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "0 runs to train, 4 kept" in out
    train.write_text(train.read_text() + "\n# changed\n")
    from tinycnn.sandbox import probe

    side = compare.Side(b.resolve(), probe.run(b.resolve()))
    try:
        assert side.recorded(1) is None  # another code: trained again
    finally:
        side.result.remove()


def test_compare_says_what_is_wrong(tmp_path, capsys):
    from tinycnn.__main__ import main

    assert main(["compare", str(tmp_path), str(tmp_path), "--seeds",
                 "2"]) == 1
    assert "not a step folder" in capsys.readouterr().err
    assert main(["compare", "a", "b", "--seeds", "0"]) == 2
