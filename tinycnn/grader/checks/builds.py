"""The builds check: the submission gives a network the other checks can
judge (course.CHECKS["builds"] says the rule)."""

from __future__ import annotations

import torch

from tinycnn.grader import carried, sizes
from tinycnn.grader.batches import images
from tinycnn.grader.hints import cause_hint, hint
from tinycnn.grader.submission import Submission
from tinycnn.grader.verdict import Fail


def check_builds(sub: Submission) -> str:
    problem = why_not(sub)
    if problem is not None:
        raise problem
    ops = sum(len(gr.nodes) for gr in sub.graphs.values())
    return f"traced in train and eval mode ({ops} ops)"


def why_not(sub: Submission) -> Fail | None:
    """Why the submission gives no network the checks can judge, or None:
    the probe's own account first (sandbox.probe), then the graph rules
    (carried.py), then a run on the grader's own weights."""
    text = sub.result.problem()
    if text is not None:
        return Fail(text, cause_hint(text))
    try:
        graphs = sub.graphs
    except Exception as e:  # any unreadable graph: a verdict, always
        return Fail(f"the exported network could not be read: "
                    f"{type(e).__name__}: {str(e)[:400]}", hint("builds"))
    for mode, gr in graphs.items():
        used = carried.batch_as_value(gr.gm)
        if used:
            return Fail(f"in {mode} mode forward uses the batch size as "
                        f"a value ({', '.join(used[:3])}): the network "
                        "would change with the batch size, and the "
                        "checks, training and evaluation each use their "
                        "own", "x.size(0) may size a tensor (x.view(x."
                        "size(0), -1), x.new_zeros(x.size(0), 10)); it "
                        "must not enter a computation.")
    changed = carried.mutated([gr.gm for gr in graphs.values()])
    for mode, gr in graphs.items():
        read = carried.state(gr.gm, changed)
        if read:
            return Fail(f"in {mode} mode forward changes a tensor in "
                        f"place and reads it: {', '.join(read[:3])}; "
                        "such a network changes from one call to the "
                        "next (only BatchNorm may read the statistics "
                        "it updates)", "Compute a new tensor instead "
                        "of changing a kept one (w.clamp(...), not "
                        "w.data.clamp_(...)), and keep counters out "
                        "of forward's arithmetic.")
    need = sub.need("train", 4)
    if need > sub.memory():
        return Fail(f"a training step on a batch of 4 images needs "
                    f"about {sizes.human(need)}; the grader's memory "
                    f"budget is {sizes.human(sub.memory())}",
                    hint("builds", 1))
    for mode in ("train", "eval"):
        try:
            out = sub.logits(mode, images(4))
        except Exception as e:  # it ran in the probe, on Net()'s weights
            first = (str(e).strip().splitlines() or [""])[0][:300]
            return Fail(f"forward ran in your process, but in {mode} "
                        "mode it fails on the weights the grader starts "
                        "from (drawn as PyTorch's layers draw them): "
                        f"{type(e).__name__}: {first}", "forward must "
                        "work for any values of the weights: no checks "
                        "of their values, no ops that need them in a "
                        "range (a log or sqrt of a weight).")
        if not torch.is_tensor(out):
            return Fail(f"forward returns a {type(out).__name__}, not a "
                        "tensor of logits", "forward must return one "
                        "tensor, the (B, 10) logits: return only that.")
        if out.shape[:1] != (4,):
            continue  # the output check says what is wrong with it
        if out.is_floating_point() and not torch.isfinite(out).all():
            return Fail(f"in {mode} mode the output holds NaN or inf on "
                        "a random batch", "Look for a division, log or "
                        "sqrt that can see zero or a negative number.")
    return None
