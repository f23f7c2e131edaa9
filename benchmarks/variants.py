"""Named variants of the references: each one a delta, never a copy.

A variant changes a step's reference by recipe fields and/or keyword
arguments to its `Net`, and says in one line what changed. `folder(name)`
writes it out as a step folder (model.py + train.py that import the
reference and apply the delta) under runs/variants/, so it is probed,
trained and graded exactly as a learner's step is:

    python benchmarks/seeds.py --steps i3-ep20 --seeds 1 2 3

Structural changes that no argument reaches still live as folders in
benchmarks/variants/ (the seed README's i3 tables, the i4 candidates and
the BatchNorm/Dropout/padding ablations).
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
    base: str = ""       # the folder it changes, if not solutions/<step>

    @property
    def folder(self) -> str:
        return self.base or f"solutions/{self.step}"


LS = {"label_smoothing": 0.1}
# i0's first searches: one epoch, the 'step' schedule (constant in 1 epoch)
_I0 = {"num_epochs": 1, "batch_size": 32, "momentum": 0.9, "schedule": "step"}
SHIFT = {"rotation": 10.0, "translate": 0.1}

VARIANTS: dict[str, Variant] = {
    # margin search (issue: a correct solution passes first time)
    # i0, one epoch: each spelled out in full, so it means the same recipe
    # before and after the reference moved from the first to the last
    "i0-step015": Variant("i0", "lr 0.015, 'step' schedule: constant within "
                          "the one epoch (the reference until Nov 2026)",
                          {"schedule": "step", "lr": 0.015}),
    "i0-lr03": Variant("i0", "lr 0.03, constant within the epoch",
                       {"schedule": "step", "lr": 0.03}),
    "i0-onecycle015": Variant("i0", "OneCycle to a peak lr of 0.015",
                              {"schedule": "onecycle", "lr": 0.015}),
    "i0-onecycle02": Variant("i0", "OneCycle to a peak lr of 0.02",
                             {"schedule": "onecycle", "lr": 0.02}),
    "i0-onecycle": Variant("i0", "OneCycle to a peak lr of 0.05 (the "
                           "reference since Nov 2026)",
                           {"schedule": "onecycle", "lr": 0.05}),
    "i1-ls": Variant("i1", "label smoothing 0.1", LS),
    "i1-ls-shift": Variant("i1", "label smoothing 0.1, rotation 10, shift 0.1",
                           {**LS, **SHIFT}),
    "i2-ls": Variant("i2", "label smoothing 0.1", LS),
    "i2-ls-shift": Variant("i2", "label smoothing 0.1, rotation 10, shift 0.1",
                           {**LS, **SHIFT}),
    "i3-ep20": Variant("i3", "20 epochs (the cap) instead of 15",
                       {"num_epochs": 20}),
    "i3-ls": Variant("i3", "label smoothing 0.1", LS),
    "i4-ls": Variant("i4", "label smoothing 0.1", LS),
    "i4-shift": Variant("i4", "shifts 0.1 added to the rotations",
                        {"translate": 0.1}),
    # one-change ablations and candidates of the i4 reference
    "i4f": Variant("i4", "Dropout2d 0.02", model={"p_drop": 0.02}),
    "i4g": Variant("i4", "Dropout2d 0.05 and batch 32", {"batch_size": 32},
                   {"p_drop": 0.05}),
    "i4i": Variant("i4", "Dropout2d 0.02 and batch 32", {"batch_size": 32},
                   {"p_drop": 0.02}),
    "i4-nodrop": Variant("i4", "no dropout (p = 0)", model={"p_drop": 0.0}),
    "i4-norot": Variant("i4", "no rotations", {"rotation": 0.0}),
    # i3's search (sweep1/sweep2): the reference's network, other recipes
    "i3c": Variant("i3", "batch 128, rotation 7, no shifts",
                   {"batch_size": 128, "rotation": 7.0, "translate": 0.0}),
    "i3ce": Variant("i3", "batch 128", {"batch_size": 128}),
    "i3g": Variant("i3", "nothing: the reference, as found by the search"),
    "i3j": Variant("i3", "batch 128, lr 0.1", {"batch_size": 128, "lr": 0.1}),
    "i3k": Variant("i3", "batch 128, Dropout2d 0.1", {"batch_size": 128},
                   {"p_drop": 0.1}),
    "i3w": Variant("i3", "batch 128, weight decay 1e-4",
                   {"batch_size": 128, "weight_decay": 1e-4}),
    # the seed README's i3 table with BN+ReLU transitions, more augmentation
    "i3e": Variant("i3", "rotation 10 and shifts 0.1",
                   {"rotation": 10.0, "translate": 0.1},
                   base="benchmarks/variants/i3b"),
    # i4's search: the i4a network with other recipes
    "i4c": Variant("i4", "lr 0.1, rotation 10, shifts 0.1",
                   {"lr": 0.1, "rotation": 10.0, "translate": 0.1},
                   base="benchmarks/variants/i4a"),
    "i4d": Variant("i4", "batch 64", {"batch_size": 64},
                   base="benchmarks/variants/i4a"),
    "i4e": Variant("i4", "weight decay 1e-4", {"weight_decay": 1e-4},
                   base="benchmarks/variants/i4a"),
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

from tinycnn.step import ROOT, load_step

_ref = load_step(ROOT / "{base}").model
Net = partial(_ref.Net, **{model!r})
layer_shapes = _ref.layer_shapes
'''

_TRAIN = '''"""Variant {name}: {base} with {what} (benchmarks/variants.py)."""

import dataclasses

from tinycnn.step import ROOT, load_step

_ref = load_step(ROOT / "{base}").train


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
    fields = {"name": name, "step": v.step, "what": v.what,
              "model": v.model, "recipe": v.recipe, "base": v.folder}
    train = _WHOLE if v.whole else _TRAIN
    for file, text in (("model.py", _MODEL), ("train.py", train)):
        path = out / file
        new = text.format(**fields)
        if not path.exists() or path.read_text() != new:  # keep mtimes
            path.write_text(new)
    return out
