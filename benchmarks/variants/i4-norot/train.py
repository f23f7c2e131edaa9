"""Ablation: the i4 reference trained without rotations."""

from dataclasses import replace

from tinycnn import Recipe
from tinycnn.step import ROOT, load_step


def recipe() -> Recipe:
    return replace(load_step(ROOT / "solutions/i4").train.recipe(), rotation=0.0)
