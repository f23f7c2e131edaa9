"""Ablation: the i4 reference without Dropout (p = 0)."""

from tinycnn.step import ROOT, load_step

recipe = load_step(ROOT / "solutions/i4").train.recipe
