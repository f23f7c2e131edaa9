"""The checks behind `pytest checks/iN`: each tests what the model does.

Every check raises `Fail(message, hint)`; the graders' conftest turns that
into a one-paragraph pytest failure (no traceback) and a results.json row.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from tinycnn import records
from tinycnn.data import load_mnist
from tinycnn.engine import Diverged, evaluate
from tinycnn.step import Step, train_step
from tinycnn.summary import trace

HINTS = {
    "builds": "Net() must build and run on a (B, 1, 28, 28) batch; the "
              "message above names the line that failed.",
    "todo": "Replace the `raise NotImplementedError` at that TODO in your "
            "step folder; the lesson section it names explains what to write.",
    "params": "Count with sum(p.numel() for p in net.parameters()); the "
              "lesson's table shows where they go. Fewer channels, or 1x1 "
              "transitions, cut them fastest.",
    "batchnorm": "Put nn.BatchNorm2d(C) after each conv and call it in "
                 "forward: a layer defined in __init__ but never called "
                 "does nothing.",
    "dropout": "Add nn.Dropout2d(p) (or nn.Dropout / F.dropout with "
               "training=self.training) after the blocks; it must be "
               "random in train() mode and off in eval() mode.",
    "transitions": "After each MaxPool2d put a 1x1 conv "
                   "(nn.Conv2d(C_in, C_out, 1)) before the next 3x3 conv.",
    "gap": "End with nn.AdaptiveAvgPool2d(1) over the last feature map, "
           "then a 1x1 conv (or a small Linear) to 10 classes: the "
           "classifier must see one average per channel.",
    "output": "forward must return logits of shape (B, 10) for any batch "
              "size B: flatten with X.flatten(1), never a fixed size.",
    "shapes": "Work each layer's output out by hand: a 3x3 conv with "
              "padding=1 keeps H x W, without padding it trims 2 (28 -> "
              "26), MaxPool2d(2) halves it, a conv's C is its "
              "out_channels.",
    "epochs": "Lower num_epochs in recipe(): the budget is part of the task.",
    "accuracy": "Compare your curves with the lesson's: more epochs within "
                "the cap, augmentation, or the learning rate usually close "
                "the gap.",
}


class Fail(AssertionError):
    def __init__(self, message: str, hint: str) -> None:
        super().__init__(f"{message}\nHint: {hint}")
        self.message, self.hint = message, hint


@dataclass(frozen=True)
class Spec:
    step: str                 # "i3"
    max_params: int           # at most this many parameters
    max_epochs: int           # recipe().num_epochs must not exceed it
    pass_acc: float           # final-epoch test accuracy, %
    checks: tuple[str, ...]   # what checks/iN tests, in order (HINTS keys)


_CORE = ("builds", "params", "batchnorm", "dropout")
_TAIL = ("output", "shapes", "epochs", "accuracy")
# The one place each step's budget lives: graders, benchmarks and lessons
# all read it from here.
SPECS = {s.step: s for s in [
    Spec("i0", 19_999, 1, 98.0, ("builds", "params", *_TAIL)),
    Spec("i1", 21_999, 10, 99.4, (*_CORE, *_TAIL)),
    Spec("i2", 19_999, 12, 99.4, (*_CORE, "transitions", *_TAIL)),
    Spec("i3", 19_999, 20, 99.4, (*_CORE, "transitions", "gap", *_TAIL)),
    Spec("i4", 8_000, 15, 99.4, (*_CORE, "transitions", "gap", *_TAIL)),
]}


def expect(ok: bool, check: str, message: str) -> None:
    if not ok:
        raise Fail(message, HINTS[check])


def _call(what: str, fn, *args):  # noqa: ANN001, ANN202
    """Run learner code; turn its exceptions into a clear failure."""
    try:
        return fn(*args)
    except NotImplementedError as e:
        raise Fail(f"not implemented yet: {e}", HINTS["todo"]) from None
    except Exception as e:  # noqa: BLE001 - any learner error is a failure
        raise Fail(f"{what} raised {type(e).__name__}: {e}{_where(e)}",
                   HINTS["builds"]) from None


def _where(e: BaseException) -> str:
    """' (model.py, line 42)': the learner's last line in the traceback."""
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if Path(f.filename).name in ("model.py", "train.py")]
    if not frames:
        return ""
    f = frames[-1]
    return f" ({Path(f.filename).name}, line {f.lineno}: {f.line})"


def build(step: Step) -> nn.Module:
    torch.manual_seed(0)
    return _call("Net()", step.model.Net)


def forward(net: nn.Module, X: torch.Tensor):  # noqa: ANN201
    return _call("forward", net, X)


def _X(batch: int = 4) -> torch.Tensor:
    return torch.randn(batch, 1, 28, 28, generator=torch.Generator().manual_seed(0))


# ------------------------------------------------------------------ checks


def check_builds(step: Step) -> None:
    net = build(step)
    net.eval()
    forward(net, _X())


def check_params(step: Step, spec: Spec) -> None:
    n = sum(p.numel() for p in build(step).parameters())
    expect(n <= spec.max_params, "params",
           f"{n:,} parameters; {spec.step} allows at most "
           f"{spec.max_params:,}")


def check_batchnorm(step: Step) -> None:
    net = build(step)
    bns = {n for n, m in net.named_modules()
           if isinstance(m, nn.modules.batchnorm._BatchNorm)}
    expect(bool(bns), "batchnorm", "no BatchNorm layer in the model")
    used = {name for name, *_ in _trace(net)}
    unused = sorted(bns - used)
    expect(not unused, "batchnorm",
           f"BatchNorm defined but never called in forward: {unused}")


def _trace(net: nn.Module) -> list[tuple]:
    return _call("forward", trace, net)


def check_dropout(step: Step) -> None:
    net = build(step)
    X = _X(8)
    net.train()
    torch.manual_seed(1)
    a = forward(net, X)
    torch.manual_seed(2)
    b = forward(net, X)
    expect(not torch.allclose(a, b), "dropout",
           "train() mode is deterministic: no dropout is active in forward")
    net.eval()
    c, d = forward(net, X), forward(net, X)
    expect(torch.equal(c, d), "dropout",
           "eval() mode is random: dropout must switch off in eval mode "
           "(F.dropout needs training=self.training)")


def check_transitions(step: Step) -> None:
    calls = _trace(build(step))
    after_pool, pools = [], 0
    for i, (_, mod, *_rest) in enumerate(calls):
        if isinstance(mod, nn.MaxPool2d):
            pools += 1
            nxt = next((m for _, m, *_r in calls[i + 1:]
                        if isinstance(m, nn.Conv2d)), None)
            if nxt is not None and nxt.kernel_size == (1, 1):
                after_pool.append(mod)
    expect(pools > 0 and len(after_pool) >= 1, "transitions",
           f"{pools} max-pool(s), {len(after_pool)} followed by a 1x1 conv: "
           "no 1x1 transition after a pool")


def check_gap(step: Step) -> None:
    net = build(step)
    calls = _trace(net)
    net.eval()
    logits = forward(net, _X(2))

    def spatial(t) -> bool:  # noqa: ANN001
        return torch.is_tensor(t) and t.dim() == 4 and t.shape[2] * t.shape[3] > 1

    last = max((i for i, c in enumerate(calls) if spatial(c[3])), default=None)
    expect(last is not None, "gap", "no layer produces a spatial map")
    fmap = calls[last][3]                               # (B, C, H, W)
    head_in = next((c[2] for c in calls[last + 1:]
                    if torch.is_tensor(c[2]) and not spatial(c[2])), logits)
    C, H, W = fmap.shape[1:]
    flat = head_in.reshape(head_in.shape[0], -1)
    expect(flat.shape[1] == C, "gap",
           f"the classifier sees {flat.shape[1]} features from a "
           f"{C}x{H}x{W} map: that is a flattened map, not one average "
           "per channel")
    mean = fmap.mean((2, 3))
    expect(torch.allclose(flat, mean, atol=1e-4, rtol=1e-3), "gap",
           f"the {C}x{H}x{W} map is reduced to 1x1 by something other than "
           "an average (global max pooling?)")


def check_output(step: Step, batch: int) -> None:
    net = build(step)
    net.eval()
    out = forward(net, _X(batch))
    expect(tuple(out.shape) == (batch, 10), "output",
           f"batch of {batch} gave output shape {tuple(out.shape)}, "
           f"expected ({batch}, 10)")


def check_shapes(step: Step) -> None:
    declared = _call("layer_shapes()", step.model.layer_shapes)
    net = build(step)
    real = {}
    for name, _m, _X, out in _trace(net):
        real[name.split(".")[0]] = tuple(out.shape[1:])
    expect(isinstance(declared, dict) and declared, "shapes",
           "layer_shapes() must return a non-empty dict")
    for name, shape in declared.items():
        expect(name in real, "shapes",
               f"layer_shapes() names {name!r}, which the model does not "
               f"run; it runs {list(real)}")
        expect(tuple(shape) == real[name], "shapes",
               f"layer {name!r}: you declared {tuple(shape)}, the forward "
               f"pass gives {real[name]}")
    missing = [n for n in real if n not in declared]
    expect(not missing, "shapes", f"layer_shapes() leaves out {missing}")


def check_epochs(step: Step, spec: Spec) -> None:
    recipe = _call("recipe()", step.train.recipe)
    expect(1 <= recipe.num_epochs <= spec.max_epochs, "epochs",
           f"recipe trains {recipe.num_epochs} epochs; {spec.step} allows "
           f"1 to {spec.max_epochs}")


def check_accuracy(step: Step, spec: Spec, device: torch.device,
                   retrain: bool = False) -> float:
    """Train (or reuse a run of this exact code), then evaluate it here."""
    check_epochs(step, spec)
    net = build(step)
    found = records.load(step.run_dir)
    fresh = (found is not None and not retrain
             and found[0].get("code_hash") == step.code_hash())
    if not fresh:
        try:
            train_step(step, device, progress=False)
        except Diverged as e:
            raise Fail(str(e), HINTS["accuracy"]) from None
        except NotImplementedError as e:
            raise Fail(f"not implemented yet: {e}", HINTS["todo"]) from None
        found = records.load(step.run_dir)
    expect(found is not None, "accuracy", "training wrote no run record")
    try:
        net.load_state_dict(found[1], strict=True)
    except RuntimeError as e:
        raise Fail(f"the checkpoint does not fit your Net: {e}",
                   "retrain with --retrain") from None
    _, _, X_test, y_test = load_mnist()
    _, acc = evaluate(net.to(device), X_test.to(device), y_test.to(device))
    expect(acc >= spec.pass_acc, "accuracy",
           f"final test accuracy {acc:.2f}% < {spec.pass_acc}% "
           f"(evaluated by the grader on the 10,000 test images)")
    return acc
