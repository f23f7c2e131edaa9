"""Ablation: the i4 reference trained without rotations."""

from tinycnn.step import ROOT, load_step

_ref = load_step(ROOT / "solutions/i4").model
Net, layer_shapes = _ref.Net, _ref.layer_shapes
