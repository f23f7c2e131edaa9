"""The checks behind `pytest checks/iN`, one module and one function per
check of the manifest (course.CHECKS states each rule as the lessons
print it): `check_<id>(submission)` judges what the network does, from
the traced graphs and facts the probe handed back (submission.py); the
accuracy check trains and evaluates the traced network itself.

A check returns a short detail for the grade table when it passes and
raises verdict.Fail(message, hint) when it fails. It never asks whether
the checks it needs passed: run.py runs those first (the Check's
`after`) and reports "blocked" when one failed. JUDGES registers each,
by the manifest's id.
"""

from tinycnn.grader.checks.accuracy import check_accuracy
from tinycnn.grader.checks.batchnorm import check_batchnorm
from tinycnn.grader.checks.builds import check_builds
from tinycnn.grader.checks.dropout import check_dropout
from tinycnn.grader.checks.epochs import check_epochs
from tinycnn.grader.checks.gap import check_gap
from tinycnn.grader.checks.output import check_output
from tinycnn.grader.checks.params import check_params
from tinycnn.grader.checks.shapes import check_shapes
from tinycnn.grader.checks.transitions import check_transitions

JUDGES = {
    "builds": check_builds,
    "params": check_params,
    "batchnorm": check_batchnorm,
    "dropout": check_dropout,
    "transitions": check_transitions,
    "gap": check_gap,
    "output": check_output,
    "shapes": check_shapes,
    "epochs": check_epochs,
    "accuracy": check_accuracy,
}
