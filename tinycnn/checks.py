"""The checks behind `pytest checks/iN`, one function per check of the
manifest (course.CHECKS, which states each rule as the lessons print it):
`check_<id>(grade)` judges what the network does, from the traced graphs
and facts the probe handed back (grading.Grade); the accuracy check trains
and evaluates the traced network itself.

A check returns a short detail for the grade table when it passes, raises
`Fail(message, hint)` when it fails. It never asks whether the checks it
needs passed: `Grade.check` runs those first (the Check's `after`) and
reports "blocked" when one failed.
"""

from __future__ import annotations

import copy
import operator
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import fx

from tinycnn import network as nw
from tinycnn import records, shape_table
from tinycnn.course import CHECKS, epochs
from tinycnn.engine import Diverged
from tinycnn.graphfile import attr
from tinycnn.hints import cause_hint, hint
from tinycnn.step import StepError, run_dir, train

if TYPE_CHECKING:
    from tinycnn.grading import Grade


class Fail(AssertionError):
    def __init__(self, message: str, hint: str) -> None:
        super().__init__(f"{message}\nHint: {hint}")
        self.message, self.hint = message, hint


class Blocked(Exception):
    def __init__(self, by: str) -> None:
        super().__init__(f"not run: blocked by {by}")
        self.by = by


def random_batch(batch: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 1, 28, 28, generator=g).contiguous(
        memory_format=torch.channels_last)


def check_builds(g: Grade) -> str:
    if g.problem is not None:
        raise g.problem
    ops = sum(len(gr.nodes) for gr in g.graphs.values())
    return f"traced in train and eval mode ({ops} ops)"


def check_params(g: Grade) -> str:
    graphs = g.graphs
    counted = nw.weights(graphs)
    n = sum(counted.values())
    params = {k for gr in graphs.values()
              for k, _ in gr.gm.named_parameters(remove_duplicate=False)}
    hidden = {k: v for k, v in counted.items() if k not in params and v}
    extra = ""
    if hidden:
        extra = (f" ({sum(hidden.values()):,} of them in buffers or constants "
                 f"that forward reads: {sorted(hidden)[:4]})")
    if n > g.spec.max_params:
        top = sorted(counted.items(), key=lambda kv: -kv[1])[:3]
        biggest = ", ".join(f"{k} {v:,}" for k, v in top)
        raise Fail(f"{n:,} parameters{extra}; {g.spec.step} allows at most "
                   f"{g.spec.max_params:,}. Largest: {biggest}",
                   hint("params", 1))
    return f"{n:,} parameters{extra}"


def _batch_stats(n: fx.Node) -> bool:
    """Does this BatchNorm op normalise by the batch's own statistics?"""
    aten = torch.ops.aten
    if n.target is aten._native_batch_norm_legit_no_training.default:
        return False
    if n.target in (aten.batch_norm.default, aten.native_batch_norm.default):
        return n.args[5] is not False
    return True  # the variants without running statistics


def check_batchnorm(g: Grade) -> str:
    ev = g.graphs["eval"]
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
    X = random_batch(8, seed=3)
    together = g.logits("eval", X)
    alone = torch.cat([g.logits("eval", X[i:i + 1]) for i in range(8)])
    random_eval = not torch.equal(together, g.logits("eval", X, seed=9))
    # (a random eval mode is the dropout check's to report)
    if not random_eval and together.shape == alone.shape and not torch.allclose(
            together, alone, atol=1e-4, rtol=1e-3):
        raise Fail("in eval mode one image's prediction depends on the "
                   "other images in its batch", hint("batchnorm", 2))
    used = ev.used([n.name for n in bns], random_batch(4))
    ignored = [nw.where(n) for n in bns if not used[n.name]]
    if ignored:
        raise Fail(f"BatchNorm in {ignored} runs, but the logits do not "
                   "depend on its output", hint("batchnorm", 1))
    return f"{len(bns)} BatchNorm layer(s), running statistics in eval"


def _dropout_p(n) -> float:
    if n.target in nw.BERNOULLI:
        return 1.0  # a mask: random by construction
    p = n.args[1] if len(n.args) > 1 else n.kwargs.get("p", 0.5)
    train = n.args[2] if len(n.args) > 2 else n.kwargs.get("train", True)
    return float(p) if train else 0.0


def check_dropout(g: Grade) -> str:
    graphs = g.graphs
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
    used = tr.used([n.name for n in drops], random_batch(8))
    ignored = [nw.label(n) for n in drops if not used[n.name]]
    if ignored:
        raise Fail(f"dropout runs ({ignored}), but the logits do not depend "
                   "on its output", hint("dropout", 1))
    X = random_batch(8)
    if torch.equal(g.logits("train", X, seed=1), g.logits("train", X, seed=2)):
        raise Fail("train() mode is deterministic: no dropout is active",
                   hint("dropout", 1))
    random_eval = [nw.label(n) for n in ev.ops(nw.RANDOM | nw.DROPOUT)
                   if n.target not in nw.DROPOUT or _dropout_p(n) > 0]
    if random_eval or not torch.equal(g.logits("eval", X, seed=1),
                                      g.logits("eval", X, seed=2)):
        raise Fail(f"eval() mode is random ({random_eval}): dropout must "
                   "switch off in eval mode", hint("dropout", 2))
    ps = sorted({round(_dropout_p(n), 3) for n in drops})
    return f"{len(drops)} dropout op(s), p = {', '.join(map(str, ps))}"


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


def check_transitions(g: Grade) -> str:
    ev = g.graphs["eval"]
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
    used = ev.used([n.name for n, *_ in beside], random_batch(4))
    live = [(n, c, s) for n, c, s in beside if used[n.name]]
    if not live:
        raise Fail(f"the 1x1 conv(s) in {[nw.where(n) for n, *_ in beside]} "
                   "run, but the logits do not depend on them",
                   hint("transitions", 1))
    n, (ci, co), side = live[0]
    return f"1x1 conv {ci}->{co} in {nw.where(n)}, {side}"


def check_gap(g: Grade) -> str:
    ev = g.graphs["eval"]
    avgs = [n for n in ev.nodes if nw.is_global_average(n)]
    if not avgs:
        maxes = [n for n in ev.nodes if n.target in nw.MAXIMUM
                 and n.args and nw.spatial(n.args[0]) > 1
                 and nw.spatial(n) <= 1]
        if maxes:
            raise Fail(f"the map is reduced by a maximum ({nw.label(maxes[0])}"
                       "), not an average: global max pooling",
                       hint("gap", 2))
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
    X = random_batch(4)
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
    base = g.logits("eval", X)
    for n in avgs:
        def keep_mean(t: torch.Tensor) -> torch.Tensor:
            noise = torch.randn(t.shape, generator=torch.Generator()
                                .manual_seed(5)).to(t)
            dims = tuple(range(2, t.dim()))
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


def check_output(g: Grade) -> str:
    for batch in (1, 3, 64):
        try:
            out = g.logits("eval", random_batch(batch))
        except Exception as e:  # the graph refuses the batch
            raise Fail(f"a batch of {batch} fails: {str(e)[:200]}",
                       hint("output", 1)) from None
        if tuple(out.shape) != (batch, 10):
            raise Fail(f"a batch of {batch} gave output shape "
                       f"{tuple(out.shape)}, expected ({batch}, 10)",
                       _output_hint(tuple(out.shape), batch))
    return "(B, 10) for B = 1, 3, 64"


def _output_hint(shape: tuple[int, ...], batch: int) -> str:
    """The fix for the shape forward gave, not a generic one."""
    if len(shape) == 2 and shape[0] == batch:
        return (f"{shape[1]} scores per image where there are 10 digits: "
                "the last layer's out_features (or out_channels) must be 10.")
    return hint("output", 1)


TABLE_FORM = ("layer_shapes() returns a dict {name: shape}, each shape a "
              "tuple of ints without the batch: (C, H, W) for a map, (N,) "
              "for a vector, e.g. {\"conv1\": (16, 28, 28), \"fc\": (10,)}.")


def _declared(raw) -> list[tuple[str, tuple[int, ...]]]:
    if not isinstance(raw, dict) or "dict" not in raw or not raw["dict"]:
        got = raw.get("repr") if isinstance(raw, dict) else raw
        if isinstance(raw, dict) and "seq" in raw:
            got = f"a list or tuple of {len(raw['seq'])} items"
        raise Fail(f"layer_shapes() must return a non-empty dict "
                   f"{{name: (C, H, W)}}; it returned {got}", TABLE_FORM)
    rows = []
    for name, v in raw["dict"]:
        items = v.get("seq") if isinstance(v, dict) else None
        if items is None or not items or not all(
                isinstance(i, int) for i in items):
            shown = v.get("repr", v) if isinstance(v, dict) else v
            raise Fail(f"entry {name!r}: expected a tuple of ints like "
                       f"(16, 28, 28), got {shown}", TABLE_FORM)
        rows.append((name, tuple(items)))
    return rows


def check_shapes(g: Grade) -> str:
    ev = g.graphs["eval"]
    e = g.result.error("layer_shapes()")
    if e is not None:
        msg = (f"not implemented yet: {e['message']}" if e["kind"] == "todo"
               else f"layer_shapes() raised {e['type']}: {e['message']}"
               f"{e['where']}")
        raise Fail(msg, cause_hint(msg, "shapes"))
    declared = _declared(g.result.facts.get("layer_shapes"))
    verdict = shape_table.judge(declared, ev)
    if not verdict.ok:
        raise Fail(verdict.message, hint("shapes", verdict.tier))
    n = len(shape_table.layers(ev))
    told = "" if len(declared) == n else f"{len(declared)} entries for "
    return f"{told}{n} layers, all as declared"


def check_epochs(g: Grade) -> str:
    r = g.recipe
    if r.num_epochs > g.spec.max_epochs:
        raise Fail(f"recipe trains {epochs(r.num_epochs)}; {g.spec.step} "
                   f"allows 1 to {g.spec.max_epochs}", hint("epochs", 1))
    return epochs(r.num_epochs)


def _reusable(g: Grade, out: Path) -> tuple[dict, dict] | None:
    """This user's signed run of the same code, graph and recipe, if any.
    The graph hash names the layers but not their widths, which code
    outside model.py and train.py (a config file) could change: so the
    weight count must match too; and it must have started from the
    grader's own weights."""
    found = None if g.retrain else records.load(out, signed=True)
    if found is None or any(found[0].get(k) != v
                            for k, v in g.fingerprint.items()):
        return None
    r = found[0]
    g.say(f"{g.spec.step}: reusing the run of {r.get('finished', '?')} "
          f"with the same code: {r.get('final_test_acc', 0):.2f}%; "
          "--retrain to train again")
    return found


def check_accuracy(g: Grade) -> str:
    """Train the exported network (or reuse this user's signed run of the
    same code, graph and recipe), then evaluate it here."""
    out = run_dir(g.folder)
    with records.locked(out, lambda: g.say(
            f"{g.spec.step}: another grader is training this step; waiting "
            "to reuse its run")):
        found = _reusable(g, out)
        if found is not None:
            record, state = found
            net = nw.GradedNet(copy.deepcopy(g.graphs))  # to load into
            try:
                net.load_state_dict(state, strict=True)
            except (RuntimeError, TypeError, AttributeError, ValueError) as e:
                raise Fail(f"the checkpoint does not fit your network: {e}",
                           "retrain with --retrain") from None
        else:
            try:
                # a copy: the checks' network stays as it was drawn
                record, net = train(
                    g.folder, g.device, result=g.result, recipe=g.recipe,
                    graphs=copy.deepcopy(g.graphs), fingerprint=g.fingerprint,
                    on_epoch=g.say, progress=False, pass_acc=g.spec.pass_acc,
                    on_row=g.on_row)
            except Diverged as e:
                raise Fail(str(e), hint("accuracy", 1)) from None
            except StepError as e:
                raise Fail(str(e), cause_hint(str(e), "accuracy")) from None
    from tinycnn.data import DataError, load_mnist
    from tinycnn.engine import evaluate

    try:
        _, _, X_test, y_test = load_mnist()
    except DataError as e:
        raise Fail(f"MNIST is not available: {e}", "Run python -m tinycnn "
                   "data, which says what it needs.") from None
    net.to(g.device)
    _, acc = evaluate(net, X_test.to(g.device), y_test.to(g.device))
    last = ", ".join(f"{r['test_acc']:.2f}" for r in record["epochs"][-3:])
    if acc < g.spec.pass_acc:
        raise Fail(f"final test accuracy {acc:.2f}% < {g.spec.pass_acc}% "
                   f"(evaluated by the grader on the 10,000 test images; "
                   f"last epochs {last})", hint("accuracy"))
    from tinycnn.odds import thin

    note = thin(g.spec.step, acc, g.spec.pass_acc)
    return (f"{acc:.2f}% (>= {g.spec.pass_acc}%); last epochs {last}"
            + (f"; {note}" if note else ""))


# each check of the manifest is judged by the function named after it
JUDGES = {c: globals()[f"check_{c}"] for c in CHECKS}
