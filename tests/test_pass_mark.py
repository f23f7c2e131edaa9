"""The reference of the assignment step, trained and graded by the real
grader: minutes on a CPU. A file of its own so that, under `pytest -n 2
--dist loadfile`, it can run beside the other long files."""

import re

import pytest
from conftest import grade


@pytest.mark.slow
@pytest.mark.parametrize("step", ["i3"])
def test_solution_reaches_pass_mark(step, tmp_path):
    """Full training through the real grader: minutes on a CPU."""
    data, failed, out = grade("solutions", step, tmp_path / "r.json",
                              "--retrain")
    assert not failed, out
    acc = [t for t in data["tests"] if t["name"].startswith("final test")]
    # a pass shows the accuracy the grader measured, the last epochs, and
    # where the run sits among the recorded designs (design_map.py)
    assert acc and re.fullmatch(r"\d\d\.\d\d% \(>= 99\.4%\); last epochs "
                                r"\d\d\.\d\d, \d\d\.\d\d, \d\d\.\d\d(; a thin "
                                r"margin[^.]*\..*)?\. Map: \d+ of \d+ recorded "
                                r"designs pass .*", acc[0]["output"]), acc
    # the leaderboard holds what the checks measured
    board = {e["name"]: e["value"] for e in data["leaderboard"]}
    assert board["Epochs"] == 20 and board["Parameters"] < 20_000
    assert f"{board['Accuracy (%)']:.2f}%" in acc[0]["output"]
