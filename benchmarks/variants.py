"""Named variants of the references: each one a delta, never a copy.

A variant changes a step's reference by recipe fields and/or keyword
arguments to its `Net`, and says in one line what changed. `folder(name)`
writes it out as a step folder (model.py + train.py that import the
reference and apply the delta) under runs/variants/, so it is probed,
trained and graded exactly as a learner's step is:

    python benchmarks/seeds.py --steps i3-ep20 --seeds 1 2 3

Structural changes that no argument reaches still live as folders in
benchmarks/variants/.
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


LS = {"label_smoothing": 0.1}
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
    # one-change ablations of the i4 reference
    "i4-drop02": Variant("i4", "Dropout2d 0.02", model={"p_drop": 0.02}),
    "i4-batch32": Variant("i4", "batch 32", {"batch_size": 32}),
    "i4-nodropout": Variant("i4", "no dropout", model={"p_drop": 0.0}),
    "i4-norotation": Variant("i4", "no rotation", {"rotation": 0.0}),
}

_MODEL = '''"""Variant {name}: solutions/{step} with {what} (benchmarks/variants.py)."""

from functools import partial

from tinycnn.step import ROOT, load_step

_ref = load_step(ROOT / "solutions/{step}").model
Net = partial(_ref.Net, **{model!r})
layer_shapes = _ref.layer_shapes
'''

_TRAIN = '''"""Variant {name}: solutions/{step} with {what} (benchmarks/variants.py)."""

import dataclasses

from tinycnn.step import ROOT, load_step

_ref = load_step(ROOT / "solutions/{step}").train


def recipe():
    return dataclasses.replace(_ref.recipe(), **{recipe!r})
'''


def folder(name: str) -> Path:
    """The step folder of variant `name`, written under runs/variants/."""
    if name not in VARIANTS:
        raise KeyError(f"no variant {name!r}; known: {', '.join(VARIANTS)}")
    v = VARIANTS[name]
    out = ROOT / "runs" / "variants" / name
    out.mkdir(parents=True, exist_ok=True)
    fields = {"name": name, "step": v.step, "what": v.what,
              "model": v.model, "recipe": v.recipe}
    for file, text in (("model.py", _MODEL), ("train.py", _TRAIN)):
        path = out / file
        new = text.format(**fields)
        if not path.exists() or path.read_text() != new:  # keep mtimes
            path.write_text(new)
    return out
