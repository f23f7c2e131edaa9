"""The variant registry: every entry builds, and says what it changes."""

import dataclasses

import pytest

from benchmarks.variants import VARIANTS, folder
from tinycnn.course import STEPS
from tinycnn.engine import Recipe
from tinycnn.step import load_step


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_builds_and_differs_as_it_says(name):
    v = VARIANTS[name]
    assert v.step in STEPS and v.what
    step = load_step(folder(name))
    ref = load_step(folder(name).parents[2] / v.folder)
    recipe = step.train.recipe()
    checked = Recipe.from_fields(dataclasses.asdict(recipe))
    assert checked == recipe
    for key, value in v.recipe.items():
        assert getattr(recipe, key) == value
    if not v.whole:  # a delta: everything else is the base's
        base = dataclasses.asdict(ref.train.recipe())
        for key, value in dataclasses.asdict(recipe).items():
            if key not in v.recipe:
                assert base[key] == value, key
    net = step.model.Net()
    assert sum(p.numel() for p in net.parameters()) > 0
    assert step.model.layer_shapes() == ref.model.layer_shapes()
