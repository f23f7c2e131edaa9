"""The step a CUDA graph records (tinycnn/train/graphed.py), run on the CPU:
PyTorch's optimizers and schedulers are the oracle for its update, the
eager loop for a whole run. A fake capture stands in for CUDA's (it
warms up as the real one does, then replays by calling the step), so
restoring the state after the warm-up, and the fallback when capture
fails, are tested here; the real capture is tested where CUDA is."""

import dataclasses

import pytest
import torch
from torch import nn

from tinycnn.train import graphed
from tinycnn.train.engine import fit
from tinycnn.train.recipe import Recipe
from tinycnn.train.step import EagerStep

CPU = torch.device("cpu")

RECIPES = {  # every optimizer and schedule, each option once
    "sgd onecycle": Recipe(num_epochs=2, batch_size=32, lr=0.05),
    "sgd nesterov, decay, step": Recipe(
        num_epochs=3, batch_size=32, lr=0.05, nesterov=True,
        weight_decay=1e-2, schedule="step", gamma=0.5),
    "sgd no momentum, constant": Recipe(
        num_epochs=2, batch_size=32, lr=0.05, momentum=0.0,
        schedule="constant", label_smoothing=0.1),
    "adam onecycle, decay": Recipe(
        num_epochs=2, batch_size=32, lr=0.01, optimizer="adam",
        weight_decay=1e-2, rotation=7, translate=0.1),
    "adam step": Recipe(num_epochs=2, batch_size=32, lr=0.005,
                        optimizer="adam", schedule="step", gamma=0.3),
}


def data(n=250):  # 8 batches of 32, the last one of 26
    g = torch.Generator().manual_seed(0)
    X = torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=g)
    y = (X.float().mean((1, 2, 3)) > 127.5).long()
    return X, y, X[:64], y[:64]


def net():
    """Conv, BatchNorm, dropout (draws numbers), an unused parameter (no
    gradient: torch.optim leaves it alone) and a frozen one. The conv's
    bias before the BatchNorm has a gradient of rounding noise, which
    Adam scales up to whole steps."""
    torch.manual_seed(3)
    m = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4),
                      nn.ReLU(), nn.Dropout2d(0.1), nn.AdaptiveAvgPool2d(1),
                      nn.Flatten(), nn.Linear(4, 10))
    m.register_parameter("unused", nn.Parameter(torch.ones(3)))
    m.frozen = nn.Parameter(torch.ones(2), requires_grad=False)
    return m.to(memory_format=torch.channels_last)


def same_state(theirs: EagerStep, ours: graphed.Step) -> None:
    """Ours from where torch.optim is: weights, buffers, optimizer state."""
    with torch.no_grad():
        for p, q in zip(theirs.model.state_dict().values(),
                        ours.model.state_dict().values(), strict=True):
            q.copy_(p)
        keys = (("momentum_buffer",) if ours.recipe.optimizer == "sgd" else
                ("exp_avg", "exp_avg_sq"))
        mine = [p for p in theirs.model.parameters() if p.requires_grad]
        for i, p in enumerate(mine):
            state = theirs.opt.state.get(p, {})
            for key, group in zip(keys, ours.state, strict=True):
                if key in state:
                    group[i].copy_(state[key])
            if "step" in state:
                ours.adam_t.copy_(state["step"])


@pytest.mark.parametrize("name", RECIPES)
def test_the_update_is_torch_optims(name):
    """Every step of a run, each from the state torch.optim reached, on
    the same batch and random draws: the graph's update, with its table
    of lr and momentum, against torch.optim with its scheduler. (From
    the same state: along a whole run, Adam scales rounding noise in
    near-zero gradients up to whole steps, and the trajectories part.)"""
    recipe, (X, y, *_) = RECIPES[name], data()
    B, batches = recipe.batch_size, 8
    a, b = net(), net()
    theirs = EagerStep(a, recipe, batches, X, y, "fp32")
    ours = graphed.Step(b, recipe, batches, X, y, "fp32")
    torch.manual_seed(recipe.seed)
    worst = 0.0
    for _ in range(recipe.num_epochs):
        perm = torch.randperm(len(X))
        for i in range(batches):
            same_state(theirs, ours)
            draws = torch.get_rng_state()
            theirs(perm[i * B:(i + 1) * B])
            torch.set_rng_state(draws)
            ours(perm[i * B:(i + 1) * B])
            for p, q in zip(a.state_dict().values(), b.state_dict().values(),
                            strict=True):
                worst = max(worst, (p.float() - q.float()).abs().max().item())
            assert ours.loss_sum.item() == pytest.approx(
                theirs.loss_sum.item(), rel=1e-6)
        theirs.end_epoch()
        assert ours.lrs[int(ours.k)] == theirs.lr  # the lr it reports
    assert worst < 1e-6, worst
    assert torch.equal(b.unused, torch.ones(3)) and torch.equal(
        b.frozen, torch.ones(2))


# ops that wait for the device (a graph being captured refuses them)
SYNCS = {"aten::_local_scalar_dense", "aten::nonzero", "aten::masked_select",
         "aten::_unique2", "aten::unique_consecutive", "aten::item"}


def ops_of(fn):
    """The aten ops `fn()` runs (PyTorch's dispatch, as a capture sees it)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    seen = []

    class Record(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            seen.append(func._schema.name)
            return func(*args, **(kwargs or {}))

    with Record():
        fn()
    return seen


@pytest.mark.parametrize("name", RECIPES)
def test_a_step_waits_for_nothing(name):
    """What a capture needs, checked on the CPU: the step of every recipe
    (update, schedule, augmentation, dropout, BatchNorm, label smoothing)
    never reads a value back to Python. The eager step does, which is why
    it cannot be captured: torch.optim reads a tensor lr with .item()."""
    recipe, X, y = RECIPES[name], *data()[:2]
    step = graphed.Step(net(), recipe, 8, X, y, "fp32")
    ops = ops_of(lambda: step(torch.arange(32)))
    assert "aten::convolution_backward" in ops and not SYNCS & set(ops)
    eager = EagerStep(net(), dataclasses.replace(recipe, lr=torch.tensor(0.05))
                      if recipe.optimizer == "sgd" else recipe, 8, X, y, "fp32")
    if recipe.optimizer == "sgd":
        assert "aten::_local_scalar_dense" in ops_of(
            lambda: eager(torch.arange(32)))


def test_the_reference_steps_wait_for_nothing():
    """The same for each reference network as the grader trains it (its
    exported graphs) with its own recipe."""
    from tinycnn.course import STEPS
    from tinycnn.grader import network
    from tinycnn.paths import ROOT
    from tinycnn.sandbox.probe_many import probed

    X, y = data()[:2]
    # the course's own references: probed together (probe_many.py)
    with probed([ROOT / "solutions" / s for s in STEPS], 60) as results:
        for step_name, result in zip(STEPS, results, strict=True):
            recipe = result.recipe()
            model = network.GradedNet(network.load(result.out, recipe.seed))
            model.to(memory_format=torch.channels_last)
            step = graphed.Step(model, recipe, 8, X, y, "fp32")
            ops = ops_of(lambda s=step: s(torch.arange(32)))
            assert not SYNCS & set(ops), (step_name, SYNCS & set(ops))


def fake_capture(fn):
    """CUDA's capture without CUDA: the warm-up steps train for real (so
    the state must be put back), and a replay calls the step."""
    for _ in range(graphed.WARM_UP):
        fn()
    return fn


def failing_capture(fn):
    fn()  # a warm-up step ran before it failed
    raise RuntimeError("operation not permitted when stream is capturing\n"
                       "(more lines)")


def fits(recipe, **kw):
    paths = []
    history = fit(net(), recipe, data(), CPU, progress=False,
                  precision="fp32", on_path=paths.append, **kw)
    for row in history:
        row.pop("seconds")
    return history, paths


def test_a_replayed_graph_trains_as_the_eager_loop(monkeypatch):
    recipe = RECIPES["sgd onecycle"]
    eager, paths = fits(recipe, graph=False)
    assert paths == ["eager"]
    monkeypatch.setattr(graphed, "cuda_capture", fake_capture)
    replayed, paths = fits(recipe, graph=True)
    assert paths == ["cuda graph"]
    for ours, theirs in zip(replayed, eager, strict=True):
        assert ours["lr"] == theirs["lr"]
        # rounding only, 16 steps of SGD: at most one of 64 images flips
        assert abs(ours["test_acc"] - theirs["test_acc"]) <= 100 / 64
        for key in ("train_loss", "test_loss"):
            assert ours[key] == pytest.approx(theirs[key], rel=1e-4), key


def test_a_capture_that_fails_trains_eagerly_from_the_same_start(monkeypatch):
    recipe = RECIPES["adam onecycle, decay"]
    eager, _ = fits(recipe, graph=False)
    monkeypatch.setattr(graphed, "cuda_capture", failing_capture)
    fallback, paths = fits(recipe, graph=True)
    assert paths == ["eager (no cuda graph: operation not permitted when "
                     "stream is capturing)"]
    assert fallback == eager  # the warm-up's step undone, the seed redrawn


def test_the_path_by_device_and_switch(monkeypatch):
    """A graph only on CUDA: TINYCNN_GRAPH=1 or 0 decides, else the
    default; an explicit `graph` wins; anything else is an error."""
    cuda = torch.device("cuda")  # a name only: no GPU needed
    monkeypatch.delenv("TINYCNN_GRAPH", raising=False)
    assert graphed.wanted(cuda) is graphed.GRAPH_BY_DEFAULT
    monkeypatch.setattr(graphed, "GRAPH_BY_DEFAULT", True)
    assert graphed.wanted(cuda) and not graphed.wanted(CPU)
    monkeypatch.setenv("TINYCNN_GRAPH", "0")
    assert not graphed.wanted(cuda)
    monkeypatch.setattr(graphed, "GRAPH_BY_DEFAULT", False)
    monkeypatch.setenv("TINYCNN_GRAPH", "1")
    assert graphed.wanted(cuda) and not graphed.wanted(CPU)
    monkeypatch.setenv("TINYCNN_GRAPH", "yes")
    with pytest.raises(ValueError, match="TINYCNN_GRAPH='yes'"):
        graphed.wanted(cuda)
    monkeypatch.setenv("TINYCNN_GRAPH", "1")
    asked = []
    monkeypatch.setattr(graphed, "choose", lambda *a: asked.append(a[-1])
                        or EagerStep(*a[:-1]))
    fits(RECIPES["sgd onecycle"])
    fits(RECIPES["sgd onecycle"], graph=True)
    assert asked == [False, True]


needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="needs CUDA")


class Syncs(nn.Module):
    """A network a graph cannot hold: its forward reads a value back."""

    def __init__(self):
        super().__init__()
        self.net = net()

    def forward(self, x):
        return self.net(x) * (1.0 if x.sum().item() > 0 else 2.0)


@needs_cuda
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("name", ["sgd onecycle", "adam onecycle, decay"])
def test_a_real_graph_on_cuda_trains_as_the_eager_loop(name, precision):
    """Where CUDA is: the captured path of a small run lands where the
    eager one does (other random streams: close, not equal)."""
    recipe = dataclasses.replace(RECIPES[name], num_epochs=3)
    runs = {}
    for graph in (False, True):
        paths = []
        runs[graph] = fit(net(), recipe, data(2048), torch.device("cuda"),
                          progress=False, graph=graph, precision=precision,
                          on_path=paths.append)
        assert paths == ["cuda graph" if graph else "eager"]
    assert abs(runs[True][-1]["train_loss"] - runs[False][-1]["train_loss"]) \
        < 0.1


@needs_cuda
def test_every_reference_is_captured_and_a_syncing_net_falls_back():
    """Each reference as the grader trains it (its exported graphs) runs
    as a graph on CUDA; a network that reads a value back trains eagerly
    and says why."""
    from tinycnn.course import STEPS
    from tinycnn.grader import network
    from tinycnn.paths import ROOT
    from tinycnn.sandbox import probe

    cuda = torch.device("cuda")
    for step_name in STEPS:
        result = probe.run(ROOT / "solutions" / step_name)
        recipe = dataclasses.replace(result.recipe(), num_epochs=1)
        model = network.GradedNet(network.load(result.out, recipe.seed))
        paths = []
        rows = fit(model, recipe, data(2048), cuda, progress=False,
                   graph=True, on_path=paths.append)
        assert paths == ["cuda graph"], step_name
        assert rows[-1]["train_loss"] < 2.3, step_name
    paths = []
    fit(Syncs(), RECIPES["sgd onecycle"], data(), cuda, progress=False,
        graph=True, on_path=paths.append)
    assert paths[0].startswith("eager (no cuda graph: "), paths
