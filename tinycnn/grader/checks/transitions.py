"""The transitions check: a 1x1 conv mixes channels next to a pool."""

from __future__ import annotations

import operator

from torch import fx

from tinycnn.grader import network as nw
from tinycnn.grader.batches import images
from tinycnn.grader.hints import hint
from tinycnn.grader.submission import Submission
from tinycnn.grader.verdict import Fail


def _one_by_one(n) -> tuple[int, int] | None:
    """(C_in, C_out) of a 1x1 conv, else None."""
    if n.target not in nw.CONV or len(n.args) < 2:
        return None
    w = nw.val(n.args[1]) if hasattr(n.args[1], "meta") else None
    if w is None or w.dim() != 4 or tuple(w.shape[2:]) != (1, 1):
        return None
    return int(w.shape[1]), int(w.shape[0])


def _beside_pool(n) -> str | None:
    """'after max_pool2d in pool1' / 'before ...' if a pool is adjacent."""
    src = n.args[0]
    while isinstance(src, fx.Node) and (
            src.target in nw.PASS_THROUGH or src.target is operator.getitem):
        if nw.is_pool(src):
            break
        src = src.args[0]
    if isinstance(src, fx.Node) and nw.is_pool(src):
        return f"after {nw.label(src)}"
    frontier = list(n.users)
    while frontier:
        u = frontier.pop()
        if nw.is_pool(u):
            return f"before {nw.label(u)}"
        if u.target in nw.PASS_THROUGH:
            frontier.extend(u.users)
    return None


def check_transitions(sub: Submission) -> str:
    ev = sub.graphs["eval"]
    pools = [n for n in ev.nodes if nw.is_pool(n)]
    ones = [(n, _one_by_one(n)) for n in ev.nodes if _one_by_one(n)]
    mixing = [(n, c) for n, c in ones if c[0] > 1 and nw.spatial(n) > 1]
    beside = [(n, c, _beside_pool(n)) for n, c in mixing]
    beside = [b for b in beside if b[2]]
    if not pools:
        raise Fail("no pool in forward: a transition sits next to a "
                   "MaxPool2d", hint("transitions", 2))
    if not beside:
        found = ([nw.where(n) for n, _ in ones] or "none")
        raise Fail(f"{len(pools)} pool(s), and no channel-mixing 1x1 conv "
                   f"on a map next to one (1x1 convs found: {found})",
                   hint("transitions", 1))
    used = ev.used([n.name for n, *_ in beside], images(4))
    live = [(n, c, s) for n, c, s in beside if used[n.name]]
    if not live:
        raise Fail(f"the 1x1 conv(s) in {[nw.where(n) for n, *_ in beside]} "
                   "run, but the logits do not depend on them",
                   hint("transitions", 1))
    n, (ci, co), side = live[0]
    return f"1x1 conv {ci}->{co} in {nw.where(n)}, {side}"
