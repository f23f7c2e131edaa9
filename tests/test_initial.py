"""The weights a run starts from are the grader's own draw (initial.py):
for a network of nn layers, exactly what Net() draws under the run's seed;
whatever else Net() put in its tensors never reaches training."""

import shutil

import pytest
import torch

from tinycnn.grader import initial
from tinycnn.grader.network import load
from tinycnn.learner.workspace import load_step
from tinycnn.sandbox import probe


def start(folder, seed):
    result = probe.run(folder, seed=seed)
    try:
        return {k: v.clone() for k, v in
                load(result.out, seed)["train"].gm.state_dict().items()}
    finally:
        result.remove()


def test_the_draw_is_what_net_draws_under_the_seed(root):
    folder = root / "solutions/i3"
    got = start(folder, 1)
    torch.manual_seed(1)
    eager = load_step(folder).model.Net().state_dict()
    assert set(got) == set(eager)
    assert all(torch.equal(got[k], eager[k]) for k in eager)
    assert not torch.equal(start(folder, 2)["conv1.0.weight"],
                           got["conv1.0.weight"])


@pytest.mark.parametrize("init", [
    # weights from elsewhere, loaded in __init__
    "        with torch.no_grad():\n"
    "            for p in self.parameters():\n"
    "                p.mul_(0).add_(0.123)\n",
    # a custom initialisation
    "        for m in self.modules():\n"
    "            if isinstance(m, nn.Conv2d):\n"
    "                nn.init.kaiming_normal_(m.weight)\n",
    # BatchNorm statistics and affine weights moved
    "        for m in self.modules():\n"
    "            if isinstance(m, nn.BatchNorm2d):\n"
    "                m.running_mean.fill_(3.0)\n"
    "                m.weight.data.fill_(7.0)\n"], ids=["loaded", "custom",
                                                      "batchnorm"])
def test_what_net_puts_in_its_tensors_is_not_graded(root, tmp_path, init):
    folder = tmp_path / "i3"
    shutil.copytree(root / "solutions/i3", folder)
    model = folder / "model.py"
    src = model.read_text()
    end = "        # <<<\n\n    def forward"
    assert end in src
    model.write_text(src.replace(end, init + end, 1))
    assert_same(start(folder, 1), start(root / "solutions/i3", 1))


def assert_same(a, b):
    assert set(a) == set(b)
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_varying_integer_tensors_are_refused():
    """An int buffer could carry quantised weights the grader cannot redraw."""
    t = torch.arange(10)
    with pytest.raises(initial.InitError, match="index table"):
        initial._set("perm", t, "other", None, torch.Generator())
    same = torch.full((4,), 3)
    initial._set("k", same, "other", None, torch.Generator())
    assert same.tolist() == [3, 3, 3, 3]  # a constant carries nothing
