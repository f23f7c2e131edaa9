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
    # a pass shows the accuracy the grader measured, and the last epochs
    assert acc and re.fullmatch(r"\d\d\.\d\d% \(>= 99\.4%\); last epochs "
                                r"\d\d\.\d\d, \d\d\.\d\d, \d\d\.\d\d",
                                acc[0]["output"]), acc
