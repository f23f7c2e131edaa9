"""Ablation: the i4 reference without Dropout (p = 0)."""

from functools import partial

from tinycnn.step import ROOT, load_step

_ref = load_step(ROOT / "solutions/i4").model
Net = partial(_ref.Net, p_drop=0.0)
layer_shapes = _ref.layer_shapes
