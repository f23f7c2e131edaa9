"""`python steps/iN/train.py --holdout N`: exploring on held-out training
images, the test images measured once, and never a grade's record."""

import json
import os
import subprocess
import sys

import pytest
import torch

from tinycnn.grader.trainer import StepError, split_holdout
from tinycnn.paths import ROOT


def test_the_held_out_images_are_the_last_ones_and_never_test_images():
    X = torch.arange(100).reshape(100, 1, 1, 1)
    y = torch.arange(100)
    test = (torch.full((10, 1, 1, 1), -1), torch.full((10,), -1))
    Xt, yt, Xv, yv = split_holdout((X, y, *test), 20)
    assert Xt.shape[0] == 80 and Xv.shape[0] == 20
    assert yv.tolist() == list(range(80, 100))  # the same for every seed
    assert not set(yv.tolist()) & set(yt.tolist())
    for bad in (0, -5, 51):
        with pytest.raises(StepError, match="--holdout takes from 1 to 50"):
            split_holdout((X, y, *test), bad)


@pytest.mark.slow
def test_a_holdout_run_reports_validation_and_tests_once(tmp_path):
    env = {**os.environ, "TINYCNN_RUNS": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, str(ROOT / "solutions" / "i0" / "train.py"),
         "--holdout", "5000", "--no-progress", "--device", "cpu"],
        env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr
    assert "val loss" in out.stdout and "test loss" not in out.stdout
    assert "final validation accuracy" in out.stdout
    assert "on 5,000 held-out training images" in out.stdout
    record = json.loads(
        (tmp_path / "solutions" / "i0" / "holdout" / "record.json")
        .read_text())
    assert record["holdout"] == 5000
    assert all("val_acc" in r for r in record["epochs"])
    assert record["epochs"][-1]["test_acc"] == record["final_test_acc"]
    assert record["final_val_acc"] == record["epochs"][-1]["val_acc"]
    # the graded record's folder holds no record: a grade never reuses it
    assert not (tmp_path / "solutions" / "i0" / "record.json").exists()
