"""Candidate i4f: the i4 reference with Dropout2d 0.02."""

from tinycnn.step import ROOT, load_step

recipe = load_step(ROOT / "solutions/i4").train.recipe
