"""The gap check: the classifier sees one average per channel."""

from __future__ import annotations

import torch
from torch import fx

from tinycnn.grader import network as nw
from tinycnn.grader.batches import images
from tinycnn.grader.hints import hint
from tinycnn.grader.positions import reduced_dims
from tinycnn.grader.submission import Submission
from tinycnn.grader.verdict import Fail


def check_gap(sub: Submission) -> str:
    ev = sub.graphs["eval"]
    avgs = [n for n in ev.nodes if nw.is_global_average(n)]
    if not avgs:
        maxes = [n for n in ev.nodes if n.target in nw.MAXIMUM
                 and n.args and nw.spatial(n.args[0]) > 1
                 and nw.spatial(n) <= 1]
        if maxes:
            raise Fail(f"the map is reduced by a maximum ({nw.label(maxes[0])}"
                       "), not an average: global max pooling",
                       hint("gap", 2))
        fake = [n for n in ev.nodes if n.target in nw.AVERAGE and
                reduced_dims(n) and _averages_other_axes(n)]
        if fake:
            raise Fail(f"{nw.label(fake[0])} averages an axis that is not "
                       "a map's positions (one made by expand or repeat, or "
                       "by a reshape that mixes channels or a Linear's "
                       "outputs into it): a global average reduces the H x "
                       "W of a map the convs computed, every position and "
                       "nothing else", hint("gap", 2))
        last = [n for n in ev.nodes if nw.spatial(n) > 1]
        if last:
            m = last[-1]
            nxt = [u for u in m.users]
            by = nw.label(nxt[0]) if nxt else "the output"
            C, H, W = nw.shape(m)
            kind = ("a conv whose kernel covers the map" if nxt and
                    nxt[0].target in nw.CONV else "flattening it")
            raise Fail(f"the last map ({C}x{H}x{W}, {nw.label(m)}) reaches "
                       f"the classifier by {kind} ({by}), not by a global "
                       "average: the classifier sees positions, not one "
                       "average per channel", hint("gap", 1))
        raise Fail("no global average over a spatial map in forward",
                   hint("gap", 1))
    X = images(4)
    # every path from the image to the logits must pass an average
    logits, deltas = ev.run(X, taps=[ev.input], detach=[n.name for n in avgs])
    if logits.requires_grad:
        R = torch.randn(logits.shape)
        (grad,) = torch.autograd.grad((logits * R).sum(), [deltas[ev.input]],
                                      allow_unused=True)
        if grad is not None and bool(grad.abs().sum() > 0):
            raise Fail("the classifier sees more than the averages: the "
                       "logits also depend on the image through a path that "
                       "skips the global average (a flattened map?)",
                       hint("gap", 2))
    # and each average must really be over every position
    base = sub.logits("eval", X)
    for n in avgs:
        dims = tuple(reduced_dims(n))

        def keep_mean(t: torch.Tensor, dims=dims) -> torch.Tensor:
            noise = torch.randn(t.shape, generator=torch.Generator()
                                .manual_seed(5)).to(t)
            return t + (noise - noise.mean(dims, keepdim=True)) * t.std()

        src = n.args[0].name
        with torch.no_grad():
            moved = ev.run(X, perturb={src: keep_mean})[0]
        if not torch.allclose(moved, base, atol=1e-3, rtol=1e-3):
            raise Fail(f"{nw.label(n)} is not an average over all positions "
                       "of its map: changing the map while keeping each "
                       "channel's mean changes the logits", hint("gap", 2))
    s = nw.shape(avgs[-1].args[0])
    return f"{nw.label(avgs[-1])} over a {'x'.join(map(str, s))} map"


def _averages_other_axes(n: fx.Node) -> bool:
    """An average whose reduced axes hold something besides positions."""
    axes = n.args[0].meta.get("axes") if isinstance(n.args[0], fx.Node) \
        else None
    if not isinstance(axes, list):
        return False
    return any(kind not in ("P", "1") for i in reduced_dims(n) or ()
               if i < len(axes) for kind, _ in axes[i])
