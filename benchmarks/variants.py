"""Named variants of the references: each one a delta, never a copy.

A variant changes a step's reference by recipe fields and/or keyword
arguments to its `Net`, and says in one line what changed. `folder(name)`
writes it out as a step folder (model.py + train.py that import the
reference and apply the delta) under runs/variants/, so it is probed,
trained and graded exactly as a learner's step is:

    python benchmarks/seeds.py --steps i3-ep20 --seeds 1 2 3

A structural change that no argument reaches names its network in
benchmarks/nets.py (a transform of the reference's, or a layer list of its
blocks): the seed README's i3 tables, the i4 candidates, and the BatchNorm
and padding ablations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tinycnn.paths import ROOT


@dataclass(frozen=True)
class Variant:
    step: str                                  # reference: solutions/<step>
    what: str                                  # one line: what changed
    recipe: dict = field(default_factory=dict)  # Recipe fields that differ
    model: dict = field(default_factory=dict)   # keyword arguments to Net
    whole: bool = False  # recipe is a whole Recipe (over its defaults), not
    #                      a delta of the reference's: it stays put when the
    #                      reference's recipe moves
    net: str = ""        # a network of benchmarks/nets.py instead of the
    #                      reference's (which still gives the recipe)


LS = {"label_smoothing": 0.1}
# i4's reference until Nov 2026 (benchmarks/nets.py): what its searches and
# ablations ran on, so a recipe delta keeps meaning the runs it logged
V1 = "i4-v1"
# i0's first searches: one epoch, the 'step' schedule (constant in 1 epoch)
_I0 = {"num_epochs": 1, "batch_size": 32, "momentum": 0.9, "schedule": "step"}
SHIFT = {"rotation": 10.0, "translate": 0.1}
# i3 until Nov 2026: 15 epochs, Dropout2d 0.05 (the search below ran on it)
I3_OLD, P05 = {"num_epochs": 15}, {"p_drop": 0.05}
# the seed README's i3 tables trained by this whole recipe
_I3_TABLE = {"num_epochs": 15, "batch_size": 128, "lr": 0.2, "momentum": 0.9,
             "nesterov": True, "schedule": "onecycle", "rotation": 7.0}

VARIANTS: dict[str, Variant] = {
    # margin search (issue: a correct solution passes first time)
    # i0, one epoch: each spelled out in full, so it means the same recipe
    # before and after the reference moved from the first to the last
    "i0-step015": Variant("i0", "lr 0.015, 'step' schedule: constant within "
                          "the one epoch (the reference until Nov 2026)",
                          {"schedule": "step", "lr": 0.015}),
    # a design decision under the same budget (i0's Try this)
    "i0-early": Variant("i0", "widths 16, 16, 20, 20 instead of 8, 12, 16, "
                        "24: the budget spent early, a smaller head (18,810 "
                        "weights)", net="i0-early"),
    "i0-lr03": Variant("i0", "lr 0.03, constant within the epoch",
                       {"schedule": "step", "lr": 0.03}),
    "i0-onecycle015": Variant("i0", "OneCycle to a peak lr of 0.015",
                              {"schedule": "onecycle", "lr": 0.015}),
    "i0-onecycle02": Variant("i0", "OneCycle to a peak lr of 0.02",
                             {"schedule": "onecycle", "lr": 0.02}),
    "i0-onecycle": Variant("i0", "OneCycle to a peak lr of 0.05 (the "
                           "reference since Nov 2026)",
                           {"schedule": "onecycle", "lr": 0.05}),
    "i1-smallhead": Variant("i1", "the last map a third narrower, the head "
                            "weights it saves put into the convs before it: "
                            "the same count", net="i1-smallhead"),
    "i2-transfirst": Variant("i2", "each 1x1 transition before its pool "
                             "instead of after it: the same layers and "
                             "count", net="i2-transfirst"),
    "i3-linear": Variant("i3", "nn.Linear after the global average instead "
                         "of the 1x1 conv: the same weights", net="i3-linear"),
    "i1-ls": Variant("i1", "label smoothing 0.1", LS),
    "i1-ls-shift": Variant("i1", "label smoothing 0.1, rotation 10, shift 0.1",
                           {**LS, **SHIFT}),
    "i2-ls": Variant("i2", "label smoothing 0.1", LS),
    "i2-ls-shift": Variant("i2", "label smoothing 0.1, rotation 10, shift 0.1",
                           {**LS, **SHIFT}),
    "i3-ep15": Variant("i3", "15 epochs and Dropout2d 0.05 (the reference "
                       "until Nov 2026)", I3_OLD, P05),
    "i3-ep20": Variant("i3", "Dropout2d 0.05 (20 epochs, the cap)",
                       model=P05),
    "i3-ls": Variant("i3", "15 epochs, Dropout2d 0.05, label smoothing 0.1",
                     I3_OLD | LS, P05),
    "i4-ls": Variant("i4", "label smoothing 0.1", LS, net=V1),
    "i4-shift": Variant("i4", "shifts 0.1 added to the rotations",
                        {"translate": 0.1}, net=V1),
    # margin search, second round (GPU, seeds 1-10): less dropout, and
    # the epoch cap probed (a step's cap is its rule; these say what a
    # higher cap would buy)
    "i1-p02": Variant("i1", "Dropout2d 0.02", model={"p_drop": 0.02}),
    "i1-p02-shift": Variant("i1", "Dropout2d 0.02, rotation 10, shift 0.1",
                            SHIFT, {"p_drop": 0.02}),
    "i1-ep15": Variant("i1", "15 epochs (over the cap of 10)",
                       {"num_epochs": 15}),
    "i2-p02": Variant("i2", "Dropout2d 0.02", model={"p_drop": 0.02}),
    "i2-p02-shift": Variant("i2", "Dropout2d 0.02, rotation 10, shift 0.1",
                            SHIFT, {"p_drop": 0.02}),
    "i2-ep15": Variant("i2", "15 epochs (over the cap of 12)",
                       {"num_epochs": 15}),
    "i4-ep20": Variant("i4", "20 epochs (over the cap of 15)",
                       {"num_epochs": 20}, net=V1),
    # margin search, third round (CPU): i3's recipe (batch 64, rotation
    # 10, shifts 0.1, Dropout2d 0.02) on the i1 and i2 networks, within
    # their caps and at the assignment's 20 epochs
    "i1-r3": Variant("i1", "i3's recipe (batch 64, rotation 10, shift "
                     "0.1, Dropout2d 0.02), 10 epochs",
                     {"batch_size": 64, **SHIFT}, {"p_drop": 0.02}),
    "i1-r3-ep20": Variant("i1", "i3's recipe, 20 epochs (over the cap of "
                          "10)", {"batch_size": 64, "num_epochs": 20,
                                  **SHIFT}, {"p_drop": 0.02}),
    "i2-r3": Variant("i2", "i3's recipe (batch 64, rotation 10, shift "
                     "0.1, Dropout2d 0.02), 12 epochs: the reference since "
                     "Nov 2026",
                     {"batch_size": 64, **SHIFT}, {"p_drop": 0.02}),
    # "Try this" on i2, against the i2-r3 runs of margin3-cpu (the same
    # network and recipe as solutions/i2)
    "i2-ep10": Variant("i2", "10 epochs (i1's cap) instead of 12",
                       {"num_epochs": 10}),
    "i2-p05": Variant("i2", "Dropout2d 5 % (i1's) instead of 2 %",
                      model={"p_drop": 0.05}),
    # "Try this" on i3, against the solutions/i3 runs of margin-cpu
    "i3-15ep": Variant("i3", "15 epochs instead of 20", {"num_epochs": 15}),
    # one-change ablations and candidates of the i4 reference
    "i4f": Variant("i4", "Dropout2d 0.02", model={"p_drop": 0.02}, net=V1),
    "i4g": Variant("i4", "Dropout2d 0.05 and batch 32", {"batch_size": 32},
                   {"p_drop": 0.05}, net=V1),
    "i4i": Variant("i4", "Dropout2d 0.02 and batch 32", {"batch_size": 32},
                   {"p_drop": 0.02}, net=V1),
    "i4-nodrop": Variant("i4", "no dropout (p = 0)", model={"p_drop": 0.0},
                         net=V1),
    "i4-norot": Variant("i4", "no rotations", {"rotation": 0.0}, net=V1),
    # i3's search (sweep1/sweep2): the network, 15 epochs, other recipes
    "i3c": Variant("i3", "15 epochs, Dropout2d 0.05, batch 128, rotation 7, "
                   "no shifts", I3_OLD | {"batch_size": 128, "rotation": 7.0,
                                          "translate": 0.0}, P05),
    "i3ce": Variant("i3", "15 epochs, Dropout2d 0.05, batch 128",
                    I3_OLD | {"batch_size": 128}, P05),
    "i3g": Variant("i3", "15 epochs, Dropout2d 0.05: the reference as the "
                   "search found it", I3_OLD, P05),
    "i3j": Variant("i3", "15 epochs, Dropout2d 0.05, batch 128, lr 0.1",
                   I3_OLD | {"batch_size": 128, "lr": 0.1}, P05),
    "i3k": Variant("i3", "15 epochs, batch 128, Dropout2d 0.1",
                   I3_OLD | {"batch_size": 128}, {"p_drop": 0.1}),
    "i3w": Variant("i3", "15 epochs, Dropout2d 0.05, batch 128, weight "
                   "decay 1e-4", I3_OLD | {"batch_size": 128,
                                           "weight_decay": 1e-4}, P05),
    # the seed README's i3 tables: transitions as bare 1x1 convs (i3a) or
    # with BN and ReLU (i3b, and i3e with more augmentation)
    "i3a": Variant("i3", "the seed README's i3 table, bare 1x1 transitions, "
                   "lr 0.05 without Nesterov", _I3_TABLE | {
                       "lr": 0.05, "nesterov": False}, whole=True, net="i3a"),
    "i3b": Variant("i3", "the seed README's i3 table, transitions with BN "
                   "and ReLU", _I3_TABLE, whole=True, net="i3b"),
    "i3e": Variant("i3", "i3b with rotation 10 and shifts 0.1",
                   _I3_TABLE | SHIFT, whole=True, net="i3b"),
    # i4's search: the reference's network with Dropout2d 0.05 and other
    # recipes (i4b: conv6 padded too)
    "i4a": Variant("i4", "Dropout2d 0.05, batch 128", {"batch_size": 128},
                   P05, net=V1),
    "i4b": Variant("i4", "Dropout2d 0.05, conv6 padded, batch 128, rotation "
                   "10, shifts 0.1", {"batch_size": 128, **SHIFT}, P05,
                   net="i4-pad6"),
    "i4c": Variant("i4", "Dropout2d 0.05, batch 128, lr 0.1, rotation 10, "
                   "shifts 0.1", {"batch_size": 128, "lr": 0.1, **SHIFT}, P05,
                   net=V1),
    "i4d": Variant("i4", "Dropout2d 0.05, as in i1 and i2", model=P05, net=V1),
    "i4e": Variant("i4", "Dropout2d 0.05, batch 128, weight decay 1e-4",
                   {"batch_size": 128, "weight_decay": 1e-4}, P05, net=V1),
    # one-change ablations of the i1 and i4 references (lessons i1, i4)
    "i1-nobn": Variant("i1", "no BatchNorm (convs get their bias back)",
                       net="i1-nobn"),
    "i1-nodrop": Variant("i1", "no Dropout (p = 0)", model={"p_drop": 0.0}),
    "i4-nobn": Variant("i4", "no BatchNorm (convs get their bias back)",
                       net="i4-nobn"),
    "i4-pad": Variant("i4", "padded convs: same parameters, maps stay 28 "
                      "and 14", net="i4-pad"),
    "i4-i3layout": Variant("i4", "the i3 layout (padded, two pools) "
                           "thinned to 8K", net="i4-i3layout"),
    # i4's margin search, second round: other 8K layouts, a lower peak lr
    "i4-notrans": Variant("i4", "no 1x1 after the pool: conv4 12 wide "
                          "(7,720 weights)", net="i4-notrans"),
    "i4-pool2": Variant("i4", "the pool after two convs (8, 12), four "
                        "after it (12, 14, 14, 16; 7,846 weights)",
                        net="i4-pool2"),
    "i4-lr01": Variant("i4", "peak lr 0.1", {"lr": 0.1}, net=V1),
    # third round
    "i4-relubn": Variant("i4", "ReLU before BatchNorm in every block",
                         net="i4-relubn"),
    "i4-late": Variant("i4", "the same count moved from the convs before "
                       "the pool and the 1x1 after it to the convs after "
                       "it: the last the widest", net="i4-late"),
    "i4-deep": Variant("i4", "four convs after the pool (10, 12, 14, 18; "
                       "maps down to 3x3; 7,922 weights)", net="i4-deep"),
    # i1's search: the reference's network, other recipes
    "i1b": Variant("i1", "rotation 10 and shifts 0.1",
                   {"rotation": 10.0, "translate": 0.1}),
    "i1c": Variant("i1", "batch 64", {"batch_size": 64}),
    # i0's recipe search (i0-recipes-cpu, sweep1): whole recipes
    "i0a": Variant("i0", "Adam lr 0.002, batch 128", _I0 | {
        "batch_size": 128, "optimizer": "adam", "lr": 0.002,
        "momentum": 0.0}, whole=True),
    "i0b": Variant("i0", "Adam lr 0.003, batch 64", _I0 | {
        "batch_size": 64, "optimizer": "adam", "lr": 0.003,
        "momentum": 0.0}, whole=True),
    "i0c": Variant("i0", "SGD lr 0.02, batch 32", _I0 | {"lr": 0.02},
                   whole=True),
    "i0d": Variant("i0", "SGD lr 0.01, batch 32", _I0 | {"lr": 0.01},
                   whole=True),
    "i0e": Variant("i0", "SGD lr 0.01, batch 16", _I0 | {
        "batch_size": 16, "lr": 0.01}, whole=True),
    "i0f": Variant("i0", "Adam lr 0.001, batch 32", _I0 | {
        "optimizer": "adam", "lr": 0.001}, whole=True),
    "i0g": Variant("i0", "SGD lr 0.015, batch 32 (the reference until "
                   "Nov 2026)", _I0 | {"lr": 0.015}, whole=True),
    "i0h": Variant("i0", "SGD lr 0.05, batch 128", _I0 | {
        "batch_size": 128, "lr": 0.05}, whole=True),
}

_MODEL = '''"""Variant {name}: {base} with {what} (benchmarks/variants.py)."""

from functools import partial

from pathlib import Path

from tinycnn.learner.workspace import load_step

# a copy of the reference beside this file: the sandbox shows nothing else
_ref = load_step(Path(__file__).parent / "{base}").model
Net = partial(_ref.Net, **{model!r})
layer_shapes = _ref.layer_shapes
'''

_NET = '''"""Variant {name}: {what} (benchmarks/variants.py)."""

import sys
from functools import partial
from pathlib import Path

# copies of benchmarks/nets.py and the references beside this file: the
# sandbox shows nothing else
sys.path.insert(0, str(Path(__file__).parent))
from nets import NETS  # noqa: E402

Net = partial(NETS[{net!r}], **{model!r})


def layer_shapes():
    return {{}}  # not graded: a structural variant has no shape table
'''

_TRAIN = '''"""Variant {name}: {base} with {what} (benchmarks/variants.py)."""

import dataclasses
from pathlib import Path

from tinycnn.learner.workspace import load_step

_ref = load_step(Path(__file__).parent / "{base}").train


def recipe():
    return dataclasses.replace(_ref.recipe(), **{recipe!r})
'''

_WHOLE = '''"""Variant {name}: step {step} with {what} (benchmarks/variants.py)."""

from tinycnn import Recipe


def recipe():
    return Recipe(**{recipe!r})
'''


def folder(name: str) -> Path:
    """The step folder of variant `name`, written under runs/variants/."""
    if name not in VARIANTS:
        raise KeyError(f"no variant {name!r}; known: {', '.join(VARIANTS)}")
    v = VARIANTS[name]
    out = ROOT / "runs" / "variants" / name
    out.mkdir(parents=True, exist_ok=True)
    fields = {"name": name, "step": v.step, "what": v.what, "net": v.net,
              "model": v.model, "recipe": v.recipe,
              "base": f"solutions/{v.step}"}
    model = _NET if v.net else _MODEL
    train = _WHOLE if v.whole else _TRAIN
    files = {"model.py": model.format(**fields),
             "train.py": train.format(**fields)}
    # what they import, copied in: the grader's sandbox shows a step only
    # its own folder
    for step in sorted(p.name for p in (ROOT / "solutions").iterdir()
                       if (p / "model.py").is_file()):
        for file in ("model.py", "train.py"):
            files[f"solutions/{step}/{file}"] = (
                ROOT / "solutions" / step / file).read_text()
    files["nets.py"] = (ROOT / "benchmarks" / "nets.py").read_text()
    for file, new in files.items():
        path = out / file
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != new:  # keep mtimes
            path.write_text(new)
    return out
