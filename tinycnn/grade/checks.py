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

import contextlib
import dataclasses
import functools
import operator
from typing import TYPE_CHECKING

import torch
from torch import fx

from tinycnn.course import CHECKS, epochs
from tinycnn.grade import budget, carried, shape_table, sizes
from tinycnn.grade import network as nw
from tinycnn.grade.hints import cause_hint, hint
from tinycnn.grade.positions import reduced_dims
from tinycnn.grade.trainer import run_dir
from tinycnn.sandbox.graphfile import attr
from tinycnn.train import records

if TYPE_CHECKING:
    from tinycnn.grade.run import Grade


class Fail(AssertionError):
    def __init__(self, message: str, hint: str) -> None:
        super().__init__(f"{message}\nHint: {hint}")
        self.message, self.hint = message, hint


class Blocked(Exception):
    def __init__(self, by: str) -> None:
        super().__init__(f"not run: blocked by {by}")
        self.by = by


# engine.evaluate's batch: the accuracy is measured at this batch size, so
# the eval-mode rules are checked at it too
EVAL_BATCH = 1000


@functools.cache
def _sample() -> torch.Tensor | None:
    """Real training images, normalised as evaluation feeds them, or None
    where MNIST is not on this machine yet."""
    from tinycnn.train.data import peek
    from tinycnn.train.step import prepare

    raw = peek(2 * EVAL_BATCH)
    return None if raw is None else prepare(raw).cpu()


def random_batch(batch: int, seed: int = 0) -> torch.Tensor:
    """`batch` images as training feeds them (channels_last, normalised):
    real MNIST training images in an order drawn under `seed` (what the
    network sees when it trains and is evaluated: a network cannot tell
    the checks' images from those), or random ones where MNIST is not
    here."""
    g = torch.Generator().manual_seed(seed)
    real = _sample()
    if real is None:
        return torch.randn(batch, 1, 28, 28, generator=g).contiguous(
            memory_format=torch.channels_last)
    pick = torch.randint(len(real), (batch,), generator=g) \
        if batch > len(real) else torch.randperm(len(real), generator=g)[
            :batch]
    return real[pick].contiguous(memory_format=torch.channels_last)


def big_batches(g: Grade) -> dict[str, int]:
    """{mode: batch}: the batches where the network really runs, where
    its ops fit the memory budget (sizes.py): train mode at the recipe's
    batch size, eval mode at the evaluation batch. A batch that does not
    fit is left out here; the accuracy check fails on it."""
    out = {}
    with contextlib.suppress(Fail):  # the epochs check says why
        out["train"] = g.recipe.batch_size
    out["eval"] = EVAL_BATCH
    return {mode: b for mode, b in out.items() if g.fits(mode, b)}


def check_builds(g: Grade) -> str:
    if g.problem is not None:
        raise g.problem
    ops = sum(len(gr.nodes) for gr in g.graphs.values())
    return f"traced in train and eval mode ({ops} ops)"


def check_params(g: Grade) -> str:
    graphs = g.graphs
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


NUMBERS_HINT = ("Keep each weight as a tensor of the network: an nn layer "
                "or nn.Parameter made in __init__ (a fixed table: "
                "register_buffer, which counts like a weight). Numbers in "
                "forward are for hyperparameters only.")


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
    big = big_batches(g)
    X = random_batch(big.get("eval", 64), seed=3)
    random_eval = not torch.equal(g.logits("eval", X[:8]),
                                  g.logits("eval", X[:8], seed=9))
    # (a random eval mode is the dropout check's to report)
    if not random_eval:
        _alone(g, X)
    used = ev.used([n.name for n in bns], random_batch(4))
    ignored = [nw.where(n) for n in bns if not used[n.name]]
    if ignored and not _some_left(g, ignored, bns):
        raise Fail(f"BatchNorm in {ignored} runs, but the logits do not "
                   "depend on its output", hint("batchnorm", 1))
    if "train" in big:  # where it trains: the recipe's batch size
        tr = g.graphs["train"]
        trained = tr.ops(nw.BATCH_NORM)
        used = tr.used([n.name for n in trained], random_batch(big["train"]))
        ignored = [nw.where(n) for n in trained if not used[n.name]]
        if (ignored and not _some_left(g, ignored, trained)) or not trained:
            raise Fail(f"in train mode at your recipe's batch size "
                       f"({big['train']}) the logits do not depend on the "
                       f"BatchNorm in {ignored or 'forward'}: the network "
                       "that trains is not the one checked",
                       hint("batchnorm", 1))
    return f"{len(bns)} BatchNorm layer(s), running statistics in eval"


def _some_left(g: Grade, ignored: list, ops: list) -> bool:
    """Once trained (_judge_trained), some of these ops may go unused, as
    long as not all do."""
    return g.after_training and len(ignored) < len(ops)


def _alone(g: Grade, X: torch.Tensor) -> None:
    """Fail unless each image's eval-mode logits are the same in the whole
    batch `X` (the evaluation batch, where it fits) as in small batches
    of its own: singles first, then batches of 64."""
    together = g.logits("eval", X)
    cuts = [*range(min(8, len(X)) + 1), *range(72, len(X), 64), len(X)]
    parts = [g.logits("eval", X[a:b]) for a, b in zip(cuts, cuts[1:],
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
    big = big_batches(g)
    # on a small batch, and where it trains: at the recipe's batch size
    for batch in dict.fromkeys((8, big.get("train", 8))):
        at = "" if batch == 8 else (f" at your recipe's batch size "
                                    f"({batch})")
        used = tr.used([n.name for n in drops], random_batch(batch))
        ignored = [nw.label(n) for n in drops if not used[n.name]]
        if ignored and not _some_left(g, ignored, drops):
            raise Fail(f"dropout runs ({ignored}), but{at} the logits do "
                       "not depend on its output", hint("dropout", 1))
        X = random_batch(batch)
        if torch.equal(g.logits("train", X, seed=1),
                       g.logits("train", X, seed=2)):
            raise Fail(f"train() mode is deterministic{at}: no dropout is "
                       "active", hint("dropout", 1))
    X = random_batch(8)
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


def check_output(g: Grade) -> str:
    big = big_batches(g)
    tried = [(1, "eval"), (3, "eval"), (64, "eval")]
    if "eval" in big:
        tried.append((big["eval"], "eval"))
    if "train" in big:
        tried.append((big["train"], "train"))
    for batch, mode in tried:
        at = f"a batch of {batch}" + (" in train mode (your recipe's batch "
                                      "size)" if mode == "train" else "")
        try:
            if mode == "train":
                with torch.enable_grad():
                    out = g.graphs["train"].run(random_batch(batch))[0]
            else:
                out = g.logits("eval", random_batch(batch))
        except Exception as e:  # the graph refuses the batch
            first = (str(e).strip().splitlines() or [""])[0][:200]
            raise Fail(f"{at} fails: {type(e).__name__}: {first}",
                       hint("output", 1)) from None
        if not torch.is_tensor(out):
            raise Fail(f"{at} gave a {type(out).__name__}, not a tensor",
                       hint("output", 1))
        if tuple(out.shape) != (batch, 10):
            raise Fail(f"{at} gave output shape {tuple(out.shape)}, "
                       f"expected ({batch}, 10)",
                       _output_hint(tuple(out.shape), batch))
        if not out.is_floating_point():
            raise Fail(f"{at} gave {str(out.dtype).removeprefix('torch.')} "
                       "values: the output must be floating-point scores "
                       "(logits), not class indices", hint("output", 2))
        if mode == "train" and not out.requires_grad:
            raise Fail("in train mode the output carries no gradient, so "
                       "training cannot learn from it: forward detaches it "
                       "(.detach(), .data, torch.no_grad()) or makes it with "
                       "an op that has none (argmax, round, a comparison)",
                       hint("output", 2))
    sizes_seen = ", ".join(str(b) for b in dict.fromkeys(b for b, _ in tried))
    return f"(B, 10) for B = {sizes_seen}"


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
    if isinstance(raw, dict) and "unreadable" in raw:
        raise Fail(f"layer_shapes() returned something the grader cannot "
                   f"read: {raw['unreadable']}", TABLE_FORM)
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


def check_accuracy(g: Grade) -> str:
    """Train the exported network (or reuse this user's signed run of the
    same code, graph and recipe) and evaluate it, in a process with the
    grade's memory and time budgets (bounded.py); then judge the trained
    network by the same rules as the drawn one."""
    from tinycnn.grade import bounded

    recipe, spec = g.recipe, g.spec
    _fits_for_training(g, recipe.batch_size)
    minutes = budget.minutes(spec.minutes)
    out = run_dir(g.folder)
    with records.locked(out, lambda: g.say(
            f"{spec.step}: another grader is training this step; waiting "
            "to reuse its run")):
        done = bounded.run(bounded.Job(
            folder=str(g.folder), graphs=str(g.result.out),
            recipe=dataclasses.asdict(recipe), fingerprint=g.fingerprint,
            device=str(g.device), step=spec.step, pass_acc=spec.pass_acc,
            budget_s=minutes * 60, memory=g.memory(train=True),
            retrain=g.retrain), g.say, g.on_row)
    if done.why:
        raise Fail(done.message, ACCURACY_HINTS.get(done.why,
                                                    hint("accuracy")))
    last = ", ".join(f"{a:.2f}" for a in done.last)
    if done.acc < spec.pass_acc:
        raise Fail(f"final test accuracy {done.acc:.2f}% < {spec.pass_acc}% "
                   f"(evaluated by the grader on the 10,000 test images; "
                   f"last epochs {last})", hint("accuracy"))
    _judge_trained(g, out)
    from tinycnn.grade.odds import thin

    note = thin(spec.step, done.acc, spec.pass_acc)
    return (f"{done.acc:.2f}% (>= {spec.pass_acc}%); last epochs {last}"
            + (f"; {note}" if note else ""))


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


def _fits_for_training(g: Grade, batch: int) -> None:
    """Fail now, with the numbers, if one training step at `batch` or one
    evaluation batch needs more memory than the budget."""
    memory = g.memory(train=True)
    for mode, size, what in (
            ("train", batch, f"one training step at batch_size {batch}"),
            ("eval", EVAL_BATCH, f"evaluating a batch of {EVAL_BATCH} "
                                 "test images")):
        need = g.need(mode, size)
        if need > memory:
            raise Fail(f"{what} needs about {sizes.human(need)} (what its "
                       "ops compute"
                       + (", kept for the backward pass" if mode == "train"
                          else "") + f"); the grader's memory budget is "
                       f"{sizes.human(memory)} ({budget.where_set()})",
                       ACCURACY_HINTS["memory"])


# the checks that judge what the network does: judged again once trained
BEHAVIOUR = ("batchnorm", "dropout", "transitions", "gap", "output")


def _judge_trained(g: Grade, out) -> None:
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
    trained = g.trained(found[1])
    for check in BEHAVIOUR:
        if check in g.spec.checks:
            try:
                JUDGES[check](trained)
            except Fail as e:
                raise Fail(f"once trained, the network breaks a rule it "
                           f"passed before training ({check}): {e.message}",
                           e.hint) from None


# each check of the manifest is judged by the function named after it
JUDGES = {c: globals()[f"check_{c}"] for c in CHECKS}
