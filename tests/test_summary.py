"""Layer tables from the traced graph, checked by hand (references and
learner styles: attributes, nn.Sequential, ModuleList with a functional
forward) and against autograd (receptive fields)."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from tinycnn.learner.summary import beside, markdown, summarize, text
from tinycnn.learner.workspace import load_step


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
    rows = summarize(net, (1, size, size))
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


def table(rows) -> list[tuple]:
    return [(r.name, r.shape, r.params, r.rf) for r in rows]


def test_a_sequential_gets_a_row_per_layer(root):
    """One nn.Sequential holding every layer: one row per conv and pool
    (named by its index), a flatten row (the Linear's in_features), and
    the parameters of each block in its conv's row."""
    rows = summarize(load_step(root / "benchmarks/learners/i2").model.Net())
    assert table(rows) == [
        ("features.0", (10, 28, 28), 9 * 10 + 20, 3),
        ("features.4", (16, 28, 28), 9 * 10 * 16 + 32, 5),
        ("features.8", (16, 14, 14), 0, 6),
        ("features.9", (10, 14, 14), 16 * 10 + 20, 6),
        ("features.13", (20, 14, 14), 9 * 10 * 20 + 40, 10),
        ("features.17", (28, 14, 14), 9 * 20 * 28 + 56, 14),
        ("features.21", (28, 7, 7), 0, 16),
        ("features.22", (12, 7, 7), 28 * 12 + 24, 16),
        ("forward: flatten", (588,), 0, 16),
        ("classifier", (10,), 588 * 10 + 10, None)]
    assert rows[0].kind == "3×3 conv, BN, ReLU, Dropout2d"


FUNCTIONAL_I4 = """
import torch
import torch.nn.functional as F
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        w = [1, 8, 12, 16, 10, 12, 14, 17]
        self.convs = nn.ModuleList(
            nn.Conv2d(a, b, 1 if i == 3 else 3, bias=False)
            for i, (a, b) in enumerate(zip(w, w[1:])))
        self.bns = nn.ModuleList(nn.BatchNorm2d(b) for b in w[1:])
        self.out = nn.Conv2d(17, 10, 1)

    def forward(self, x):
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            if i == 3:
                x = F.max_pool2d(x, 2)
            x = F.dropout2d(F.relu(bn(conv(x))), 0.02, self.training)
        x = F.adaptive_avg_pool2d(x, 1)
        return self.out(x).view(-1, 10)
"""


def test_a_functional_forward_shows_its_pools_and_fields(tmp_path):
    """A ModuleList with F.max_pool2d and F.adaptive_avg_pool2d: the pool
    and the GAP get rows of their own, and the fields count the pool's
    jump (the last conv sees 20×20; hooks on modules said 13×13)."""
    (tmp_path / "model.py").write_text(FUNCTIONAL_I4)
    ns: dict = {}
    exec(compile(FUNCTIONAL_I4, "model.py", "exec"), ns)
    rows = summarize(ns["Net"]())
    assert table(rows) == [
        ("convs.0", (8, 26, 26), 72 + 16, 3),
        ("convs.1", (12, 24, 24), 9 * 8 * 12 + 24, 5),
        ("convs.2", (16, 22, 22), 9 * 12 * 16 + 32, 7),
        ("forward: max_pool2d", (16, 11, 11), 0, 8),
        ("convs.3", (10, 11, 11), 16 * 10 + 20, 8),
        ("convs.4", (12, 9, 9), 9 * 10 * 12 + 24, 12),
        ("convs.5", (14, 7, 7), 9 * 12 * 14 + 28, 16),
        ("convs.6", (17, 5, 5), 9 * 14 * 17 + 34, 20),
        ("forward: adaptive_avg_pool2d", (17, 1, 1), 0, None),
        ("out", (10, 1, 1), 180, None)]
    assert rows[-1].also == ((10,),)


def test_the_learners_table_beside_the_rows(root):
    """Entries named like a module go to its row; unnamed ones to the next
    row of their shape; a wrong one is listed with what forward gives."""
    rows = summarize(load_step(root / "solutions/i3").model.Net())
    extra, lost = beside(rows, [("conv1", (16, 28, 28)), ("x", (16, 28, 28)),
                                ("pool1", (16, 14, 14)),
                                ("conv5", (20, 7, 7)), ("head", (10,))])
    assert extra == {0: "✓ conv1", 1: "✓ x", 2: "✓ pool1", 9: "✓ head",
                     **{i: "✗ no entry" for i in range(3, 9)}}
    assert lost == ["'conv5': (20, 7, 7) (forward gives 16×7×7)"]


def test_summary_says_what_the_grader_would(root, tmp_path, capsys):
    """The CLI: the learner's entries beside the rows, the grader's own
    verdict on them, the budget left; a forward torch.export cannot trace
    gets the same message the grader would give, not a traceback."""
    from tinycnn.__main__ import main

    step = tmp_path / "i4"
    step.mkdir()
    (step / "train.py").write_text(
        (root / "solutions/i4/train.py").read_text())
    (step / "model.py").write_text(FUNCTIONAL_I4 + (
        "\n\ndef layer_shapes():\n    return {'a': (8, 26, 26), "
        "'convs.1': (12, 24, 24), 'convs.2': (16, 20, 20)}\n"))
    assert main(["summary", str(step)]) == 0
    out = capsys.readouterr().out
    assert "✓ a" in out and "✓ convs.1" in out and "✗ no entry" in out
    assert "the grader would say: layer_shapes() has 3 entries" in out
    assert "fits no row above: 'convs.2': (16, 20, 20) (forward gives " \
        "16×22×22)" in out
    assert "budget of i4: at most 8,000; 84 left" in out
    (step / "model.py").write_text(FUNCTIONAL_I4.replace(
        "        x = F.adaptive_avg_pool2d(x, 1)\n",
        "        if x.sum() > 0:\n            x = x * 2\n"
        "        x = F.adaptive_avg_pool2d(x, 1)\n"))
    assert main(["summary", str(step)]) == 1
    assert "torch.export cannot trace forward" in capsys.readouterr().err


def test_every_legit_design_of_the_library_gets_its_layers(tmp_path):
    """For each design the grader accepts (the mutant library's legit
    ones: functional, Sequential, residual, ERA-style, ...): one row per
    layer the shape check requires, each with the shape that layer gives,
    and the grader's own parameter count as the total."""
    from mutants import MUTANTS

    from tinycnn.grader import network as nw
    from tinycnn.grader import shape_table
    from tinycnn.learner.summary import export, rows_of

    legit = [m for m in MUTANTS if m.kind == "legit"]
    assert len(legit) >= 15
    for i, m in enumerate(legit):
        folder = tmp_path / str(i) / m.step
        folder.mkdir(parents=True)
        (folder / "model.py").write_text(m.model)
        (folder / "train.py").write_text(m.train)
        graphs = export(load_step(folder).model.Net())
        rows = rows_of(graphs)
        need = [nw.shape(n) for n in shape_table.layers(graphs["eval"])]
        heads = [r.shape for r in rows
                 if not r.kind.startswith(("flatten", "unused"))]
        assert heads == need, (m.name, heads, need)
        assert sum(r.params for r in rows) == nw.weight_count(graphs), m.name
