"""The params check: every weight counted, and where weights may come from."""

from __future__ import annotations

from tinycnn.grader import carried
from tinycnn.grader import network as nw
from tinycnn.grader.hints import hint
from tinycnn.grader.submission import Submission
from tinycnn.grader.verdict import Fail


def check_params(sub: Submission) -> str:
    graphs = sub.graphs
    written = max(graphs.values(), key=lambda gr: len(gr.numbers))
    if len(written.numbers) > carried.MAX_NUMBERS:
        raise Fail(f"forward writes {len(written.numbers):,} numbers into "
                   f"its ops in {written.mode} mode (at most "
                   f"{carried.MAX_NUMBERS} may be: an eps, a slope, a "
                   f"scale): {carried.describe(written.numbers)}. Weights "
                   "are tensors the network keeps, which the grader counts "
                   "and draws itself", NUMBERS_HINT)
    counted = nw.weights(graphs)
    n = sum(counted.values())
    sub.scores["parameters"] = n
    params = {k for gr in graphs.values()
              for k, _ in gr.gm.named_parameters(remove_duplicate=False)}
    hidden = {k: v for k, v in counted.items() if k not in params and v}
    extra = ""
    if hidden:
        extra = (f" ({sum(hidden.values()):,} of them in buffers or constants "
                 f"that forward reads: {sorted(hidden)[:4]})")
    if n > sub.spec.max_params:
        top = sorted(counted.items(), key=lambda kv: -kv[1])[:3]
        biggest = ", ".join(f"{k} {v:,}" for k, v in top)
        raise Fail(f"{n:,} parameters{extra}; {sub.spec.step} allows at most "
                   f"{sub.spec.max_params:,}. Largest: {biggest}",
                   hint("params", 1))
    return f"{n:,} parameters{extra}"


NUMBERS_HINT = ("Keep each weight as a tensor of the network: an nn layer "
                "or nn.Parameter made in __init__ (a fixed table: "
                "register_buffer, which counts like a weight). Numbers in "
                "forward are for hyperparameters only.")
