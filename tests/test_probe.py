"""The probe exports the network a run starts from: Net() built under the
run's seed (the recipe's unless given), as an eager run would build it."""

import torch

from tinycnn import probe
from tinycnn.network import load
from tinycnn.step import load_step


def exported(result):
    return {k: v for k, v in load(result.out)["train"].gm.state_dict().items()}


def test_initial_weights_follow_the_seed(root, tmp_path):
    folder = root / "solutions/i3"
    default = probe.run(folder, out=tmp_path / "a")
    two = probe.run(folder, seed=2, out=tmp_path / "b")
    assert default.facts["init_seed"] == 1  # the recipe's seed
    torch.manual_seed(1)
    eager = load_step(folder).model.Net().state_dict()
    got = exported(default)
    assert set(got) == set(eager)
    assert all(torch.equal(got[k], eager[k]) for k in eager)
    other = exported(two)
    assert not torch.equal(other["conv1.0.weight"], got["conv1.0.weight"])
