"""Candidate i4g: the i4 reference with Dropout2d 0.05 and batch 32."""

from dataclasses import replace

from tinycnn import Recipe
from tinycnn.step import ROOT, load_step


def recipe() -> Recipe:
    return replace(load_step(ROOT / "solutions/i4").train.recipe(), batch_size=32)
