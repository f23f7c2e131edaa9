"""Candidate i4g: the i4 reference with Dropout2d 0.05 and batch 32."""

from functools import partial

from tinycnn.step import ROOT, load_step

_ref = load_step(ROOT / "solutions/i4").model
Net = partial(_ref.Net, p_drop=0.05)
layer_shapes = _ref.layer_shapes
