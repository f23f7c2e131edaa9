"""The batchnorm check: BatchNorm normalises, on running statistics in eval."""

from __future__ import annotations

import torch
from torch import fx

from tinycnn.grader import network as nw
from tinycnn.grader.batches import images
from tinycnn.grader.checks.common import some_left
from tinycnn.grader.hints import hint
from tinycnn.grader.submission import Submission
from tinycnn.grader.verdict import Fail
from tinycnn.sandbox.graphfile import attr


def _batch_stats(n: fx.Node) -> bool:
    """Does this BatchNorm op normalise by the batch's own statistics?"""
    aten = torch.ops.aten
    if n.target is aten._native_batch_norm_legit_no_training.default:
        return False
    if n.target in (aten.batch_norm.default, aten.native_batch_norm.default):
        return n.args[5] is not False
    return True  # the variants without running statistics


def check_batchnorm(sub: Submission) -> str:
    ev = sub.graphs["eval"]
    bns = ev.ops(nw.BATCH_NORM)
    if not bns:
        raise Fail("no BatchNorm runs in forward", hint("batchnorm", 1))
    # by tensor, not name: a module registered twice has two names
    fed = {id(attr(ev.gm, a.target)) for n in bns for a in n.args[3:5]
           if isinstance(a, fx.Node) and a.op == "get_attr"}
    idle = sorted(name.rsplit(".", 1)[0] for name, t in
                  ev.gm.named_buffers(remove_duplicate=False)
                  if name.endswith("running_mean") and id(t) not in fed)
    if idle:
        raise Fail(f"BatchNorm defined but never called in forward: {idle}",
                   hint("batchnorm", 1))
    batch_stats = [nw.where(n) for n in bns if _batch_stats(n)]
    if batch_stats:
        raise Fail(f"in eval mode the BatchNorm in {batch_stats} uses the "
                   "batch's own statistics, not its running statistics",
                   hint("batchnorm", 2))
    big = sub.big_batches()
    X = images(big.get("eval", 64))  # the output check's: run once
    random_eval = not torch.equal(sub.logits("eval", X[:8]),
                                  sub.logits("eval", X[:8], seed=9))
    # (a random eval mode is the dropout check's to report)
    if not random_eval:
        _alone(sub, X)
    used = ev.used([n.name for n in bns], images(4))
    ignored = [nw.where(n) for n in bns if not used[n.name]]
    if ignored and not some_left(sub, ignored, bns):
        raise Fail(f"BatchNorm in {ignored} runs, but the logits do not "
                   "depend on its output", hint("batchnorm", 1))
    if "train" in big:  # where it trains: the recipe's batch size
        tr = sub.graphs["train"]
        trained = tr.ops(nw.BATCH_NORM)
        used = tr.used([n.name for n in trained], images(big["train"]))
        ignored = [nw.where(n) for n in trained if not used[n.name]]
        if (ignored and not some_left(sub, ignored, trained)) or not trained:
            raise Fail(f"in train mode at your recipe's batch size "
                       f"({big['train']}) the logits do not depend on the "
                       f"BatchNorm in {ignored or 'forward'}: the network "
                       "that trains is not the one checked",
                       hint("batchnorm", 1))
    return f"{len(bns)} BatchNorm layer(s), running statistics in eval"


def _alone(sub: Submission, X: torch.Tensor) -> None:
    """Fail unless each image's eval-mode logits are the same in the whole
    batch `X` (the evaluation batch, where it fits) as in small batches
    of its own: singles first, then batches of 64."""
    together = sub.logits("eval", X)
    cuts = [*range(min(8, len(X)) + 1), *range(72, len(X), 64), len(X)]
    parts = [sub.logits("eval", X[a:b]) for a, b in zip(cuts, cuts[1:],
                                                        strict=False)
             if b > a]
    if together.dim() == 0 or any(p.shape[:1] != (len(X[a:b]),) or
                                  p.shape[1:] != together.shape[1:]
                                  for p, a, b in zip(parts, cuts, cuts[1:],
                                                     strict=False)):
        return  # the output check says what is wrong with the shapes
    apart = torch.cat(parts)
    if together.shape != apart.shape:
        return
    if not torch.allclose(together, apart, atol=1e-4, rtol=1e-3):
        raise Fail(f"in eval mode one image's prediction depends on the "
                   f"other images in its batch (a batch of {len(X)}, as "
                   "evaluation runs, against the same images in small "
                   "batches)", hint("batchnorm", 2))
