"""The accuracy check: train the traced network within the grade's
budgets, evaluate it, and judge the trained network again."""

from __future__ import annotations

import dataclasses

from tinycnn.grader import budget, sizes
from tinycnn.grader.batches import EVAL_BATCH
from tinycnn.grader.checks.batchnorm import check_batchnorm
from tinycnn.grader.checks.dropout import check_dropout
from tinycnn.grader.checks.gap import check_gap
from tinycnn.grader.checks.output import check_output
from tinycnn.grader.checks.transitions import check_transitions
from tinycnn.grader.hints import hint
from tinycnn.grader.submission import Submission
from tinycnn.grader.verdict import Fail
from tinycnn.paths import run_dir
from tinycnn.train import records


def check_accuracy(sub: Submission) -> str:
    """Train the exported network (or reuse this user's signed run of the
    same code, graph and recipe) and evaluate it, in a process with the
    grade's memory and time budgets (bounded.py); then judge the trained
    network by the same rules as the drawn one."""
    from tinycnn.grader import bounded

    recipe, spec = sub.recipe, sub.spec
    _fits_for_training(sub, recipe.batch_size)
    minutes = budget.minutes(spec.minutes)
    out = run_dir(sub.folder)
    with records.locked(out, lambda: sub.setting.say(
            f"{spec.step}: another grader is training this step; waiting "
            "to reuse its run")):
        done = bounded.run(bounded.Job(
            folder=str(sub.folder), graphs=str(sub.result.out),
            recipe=dataclasses.asdict(recipe), fingerprint=sub.fingerprint,
            device=str(sub.setting.device), step=spec.step, pass_acc=spec.pass_acc,
            budget_s=minutes * 60, memory=sub.memory(train=True),
            retrain=sub.setting.retrain), sub.setting.say, sub.setting.on_row)
    if done.why:
        raise Fail(done.message, ACCURACY_HINTS.get(done.why,
                                                    hint("accuracy")))
    sub.scores["accuracy"] = done.acc
    last = ", ".join(f"{a:.2f}" for a in done.last)
    where = _on_the_map(sub, done.acc, out)
    if done.acc < spec.pass_acc:
        raise Fail(f"final test accuracy {done.acc:.2f}% < {spec.pass_acc}% "
                   f"(evaluated by the grader on the 10,000 test images; "
                   f"last epochs {last}). {where}", hint("accuracy"))
    _judge_trained(sub, out)
    from tinycnn.grader.odds import thin

    note = thin(spec.step, done.acc, spec.pass_acc)
    return (f"{done.acc:.2f}% (>= {spec.pass_acc}%); last epochs {last}"
            + (f"; {note}" if note else "") + f". {where}")


def _on_the_map(sub: Submission, acc: float, out) -> str:
    """Where this run sits among the step's recorded designs: the map's
    sentence, and the picture written beside the run (design_map.py);
    not where the run folder goes away with the grade (the autograder
    sets TINYCNN_MAP_PICTURE=0)."""
    import os

    from tinycnn.grader import design_map

    mine = (sub.fingerprint["params"], acc)
    said = design_map.sentence(sub.spec.step, mine)
    if os.environ.get("TINYCNN_MAP_PICTURE") == "0":
        return f"Map: {said}"
    try:
        saved = design_map.save(sub.spec.step, out / design_map.PICTURE,
                                mine)
    except Exception:  # a picture is never worth a verdict
        saved = None
    return f"Map: {said}" + (f" (picture: {saved})" if saved else "")


ACCURACY_HINTS = {
    "time": "Training time grows with the work per image (wide early "
            "layers on 28x28 maps cost most) and with the number of "
            "batches: a tiny batch_size means many more steps. The "
            "references train in minutes.",
    "memory": "Lower batch_size in your recipe, or thin the widest layers "
              "on the largest maps: what they compute is kept for the "
              "backward pass, per image.",
    "killed": "Lower batch_size in your recipe, or thin the widest layers "
              "on the largest maps.",
    "output": "forward must return a (B, 10) tensor of floating-point "
              "scores that carries gradients, for any B.",
    "diverged": "Lower the lr, or add the normalisation the lesson "
                "describes.",
}


def _fits_for_training(sub: Submission, batch: int) -> None:
    """Fail now, with the numbers, if one training step at `batch` or one
    evaluation batch needs more memory than the budget."""
    memory = sub.memory(train=True)
    for mode, size, what in (
            ("train", batch, f"one training step at batch_size {batch}"),
            ("eval", EVAL_BATCH, f"evaluating a batch of {EVAL_BATCH} "
                                 "test images")):
        need = sub.need(mode, size)
        if need > memory:
            raise Fail(f"{what} needs about {sizes.human(need)} (what its "
                       "ops compute"
                       + (", kept for the backward pass" if mode == "train"
                          else "") + f"); the grader's memory budget is "
                       f"{sizes.human(memory)} ({budget.where_set()})",
                       ACCURACY_HINTS["memory"])


# the checks that judge what the network does: judged again once trained
BEHAVIOUR = {"batchnorm": check_batchnorm, "dropout": check_dropout,
             "transitions": check_transitions, "gap": check_gap,
             "output": check_output}


def _judge_trained(sub: Submission, out) -> None:
    """A trained network that passes the mark must pass the rules the
    drawn one passed: one that changes once trained (a gate on a weight)
    is not the one that was checked. (Training may leave one layer of
    many unused, a branch of a residual block say: once trained, the
    logits must depend on at least one BatchNorm and one dropout, not
    on each.)"""
    found = records.load(out, signed=True)
    if found is None:
        raise Fail("the grader could not read back the run it just made "
                   f"in {out}", "Grade again with --retrain.")
    trained = sub.trained(found[1])
    for check, judge in BEHAVIOUR.items():
        if check in sub.spec.checks:
            try:
                judge(trained)
            except Fail as e:
                raise Fail(f"once trained, the network breaks a rule it "
                           f"passed before training ({check}): {e.message}",
                           e.hint) from None
