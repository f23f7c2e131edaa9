"""Layer tables from hooks, checked by hand and against autograd."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from tinycnn.step import load_step
from tinycnn.summary import markdown, summarize, text


def test_i3_table_by_hand(root):
    rows = summarize(load_step(root / "solutions/i3").model.Net())
    got = {r.name: (r.shape, r.params, r.rf) for r in rows}
    assert got["conv1"] == ((16, 28, 28), 9 * 16 + 2 * 16, 3)
    assert got["conv2"] == ((16, 28, 28), 9 * 16 * 16 + 32, 5)
    assert got["pool1"] == ((16, 14, 14), 0, 6)
    assert got["trans1"] == ((12, 14, 14), 16 * 12 + 24, 6)
    assert got["conv3"] == ((28, 14, 14), 9 * 12 * 28 + 56, 10)
    assert got["conv4"] == ((28, 14, 14), 9 * 28 * 28 + 56, 14)
    assert got["pool2"] == ((28, 7, 7), 0, 16)
    assert got["conv5"] == ((16, 7, 7), 9 * 28 * 16 + 32, 24)
    assert got["gap"] == ((16, 1, 1), 0, None)
    assert got["head"] == ((10, 1, 1), 170, None)
    assert sum(r.params for r in rows) == 17_154
    assert "17,154" in markdown(rows) and "17,154" in text(rows)


def autograd_rf(net: nn.Module, size: int) -> int:
    """Oracle: how wide is the input patch that moves the centre output?"""
    X = torch.randn(1, 1, size, size, requires_grad=True)
    out = net(X)
    h, w = out.shape[2] // 2, out.shape[3] // 2
    out[0, :, h, w].sum().backward()
    cols = (X.grad[0, 0].abs().sum(0) > 0).nonzero()
    return int(cols.max() - cols.min() + 1)


layer = st.tuples(st.sampled_from(["conv", "pool"]), st.sampled_from([1, 3, 5]),
                  st.sampled_from([1, 2]), st.sampled_from([1, 2]))


@settings(max_examples=40, deadline=None)
@given(st.lists(layer, min_size=1, max_size=5))
def test_random_stacks_agree_with_pytorch(spec):
    """Shapes match the real pass; the receptive field matches autograd.

    Average pools, not max pools: a max routes the gradient through one
    pixel, which would shrink the oracle's patch.
    """
    mods, c = [], 1
    for kind, k, s, d in spec:
        if kind == "conv":
            mods.append(nn.Conv2d(c, 2, k, stride=s, dilation=d))
            c = 2
        else:
            mods.append(nn.AvgPool2d(2))
    net = nn.Sequential(*mods)
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Conv2d):
                m.weight.fill_(1.0)  # no accidental zeros in the oracle
    size = 64
    try:
        real = net(torch.zeros(1, 1, size, size)).shape
    except RuntimeError:
        return  # shrank below a kernel: not a valid net
    rows = summarize(net, (1, size, size), depth=None)
    assert rows[-1].shape == tuple(real[1:])
    # no padding: the centre output's field lies inside the input
    assert rows[-1].rf == autograd_rf(net, size)


def test_summary_draws_the_learners_network(root, tmp_path, capsys):
    """`python -m tinycnn summary D --plot PNG` draws the same table for any
    step folder; a folder it cannot write to gets a message, not a trace."""
    from tinycnn.__main__ import main

    out = tmp_path / "mine.png"
    assert main(["summary", str(root / "solutions/i3"), "--plot",
                 str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert "17,154" in capsys.readouterr().out
    bad = tmp_path / "missing" / "mine.png"
    assert main(["summary", str(root / "solutions/i3"), "--plot",
                 str(bad)]) == 1
    assert "could not write" in capsys.readouterr().err
