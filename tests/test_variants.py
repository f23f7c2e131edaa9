"""The variant registry: every entry builds, and says what it changes."""

import dataclasses

import pytest
import torch

from benchmarks.nets import NETS
from benchmarks.variants import VARIANTS, folder
from tinycnn.course import STEPS
from tinycnn.engine import Recipe
from tinycnn.paths import ROOT
from tinycnn.step import load_step


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_builds_and_differs_as_it_says(name):
    v = VARIANTS[name]
    assert v.step in STEPS and v.what
    step = load_step(folder(name))
    ref = load_step(ROOT / "solutions" / v.step)
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
    if v.net:  # a structural variant has no shape table to grade
        assert step.model.layer_shapes() == {}
    else:
        assert step.model.layer_shapes() == ref.model.layer_shapes()


@pytest.mark.parametrize("name", sorted(NETS))
def test_structural_net_runs_and_differs_from_its_reference(name):
    """Each network of benchmarks/nets.py maps digits to 10 logits, and a
    variant that names it is not the reference under another name."""
    net = NETS[name]()
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    users = [v for v in VARIANTS.values() if v.net == name]
    assert users, f"no variant uses {name}"
    ref = load_step(ROOT / "solutions" / users[0].step).model.Net()
    assert str(net) != str(ref)
