"""The dropout check: random in train mode, off in eval mode."""

from __future__ import annotations

import torch

from tinycnn.grader import network as nw
from tinycnn.grader.batches import images
from tinycnn.grader.checks.common import some_left
from tinycnn.grader.hints import hint
from tinycnn.grader.submission import Submission
from tinycnn.grader.verdict import Fail


def _dropout_p(n) -> float:
    if n.target in nw.BERNOULLI:
        return 1.0  # a mask: random by construction
    p = n.args[1] if len(n.args) > 1 else n.kwargs.get("p", 0.5)
    train = n.args[2] if len(n.args) > 2 else n.kwargs.get("train", True)
    return float(p) if train else 0.0


def check_dropout(sub: Submission) -> str:
    graphs = sub.graphs
    tr, ev = graphs["train"], graphs["eval"]
    drops = [n for n in tr.ops(nw.DROPOUT | nw.BERNOULLI) if _dropout_p(n) > 0]
    if not drops:
        noise = tr.ops(nw.GAUSSIAN)
        if noise:
            raise Fail("train mode adds Gaussian noise "
                       f"({nw.label(noise[0])}), which is not dropout",
                       hint("dropout", 1))
        raise Fail("no dropout with p > 0 runs in train mode",
                   hint("dropout", 1))
    big = sub.big_batches()
    # on a small batch, and where it trains: at the recipe's batch size
    for batch in dict.fromkeys((8, big.get("train", 8))):
        at = "" if batch == 8 else (f" at your recipe's batch size "
                                    f"({batch})")
        used = tr.used([n.name for n in drops], images(batch))
        ignored = [nw.label(n) for n in drops if not used[n.name]]
        if ignored and not some_left(sub, ignored, drops):
            raise Fail(f"dropout runs ({ignored}), but{at} the logits do "
                       "not depend on its output", hint("dropout", 1))
        X = images(batch)
        if torch.equal(sub.logits("train", X, seed=1),
                       sub.logits("train", X, seed=2)):
            raise Fail(f"train() mode is deterministic{at}: no dropout is "
                       "active", hint("dropout", 1))
    X = images(8)
    random_eval = [nw.label(n) for n in ev.ops(nw.RANDOM | nw.DROPOUT)
                   if n.target not in nw.DROPOUT or _dropout_p(n) > 0]
    if random_eval or not torch.equal(sub.logits("eval", X, seed=1),
                                      sub.logits("eval", X, seed=2)):
        raise Fail(f"eval() mode is random ({random_eval}): dropout must "
                   "switch off in eval mode", hint("dropout", 2))
    ps = sorted({round(_dropout_p(n), 3) for n in drops})
    return f"{len(drops)} dropout op(s), p = {', '.join(map(str, ps))}"
