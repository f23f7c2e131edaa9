import pytest
import torch

from tinycnn.train import device


@pytest.mark.parametrize("cuda, mps, best", [
    (True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_pick_order(monkeypatch, cuda, mps, best):
    monkeypatch.delenv("TINYCNN_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert device.pick_device().type == best


def test_env_and_flag_override(monkeypatch):
    """TINYCNN_DEVICE picks the device where no flag does; a flag wins
    over it (here the variable names a device this machine lacks)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("TINYCNN_DEVICE", "cuda")
    with pytest.raises(ValueError, match="cuda"):
        device.pick_device()
    assert device.pick_device("cpu").type == "cpu"
    monkeypatch.setenv("TINYCNN_DEVICE", "cpu")
    assert device.pick_device().type == "cpu"


def test_unavailable_device_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    for name in ("cuda", "mps"):
        with pytest.raises(ValueError, match="available: cpu"):
            device.pick_device(name)


def test_layout_per_device():
    """channels_last where it is measured faster (CPU, CUDA), NCHW on MPS
    (device.py says why)."""
    assert device.memory_format(torch.device("cpu")) == torch.channels_last
    assert device.memory_format(torch.device("cuda")) == torch.channels_last
    assert device.memory_format(torch.device("mps")) == \
        torch.contiguous_format


@pytest.mark.parametrize("mps_layout", [False, True])
def test_training_follows_the_layout(monkeypatch, mps_layout):
    """The engine's path on MPS, run on the CPU: batches and weights in
    NCHW (in channels_last where the CPU wants it), augmentation on, and
    it learns."""
    from torch import nn

    from tinycnn.train import engine, step
    from tinycnn.train.recipe import Recipe

    if mps_layout:
        for module in (engine, step):
            monkeypatch.setattr(module, "memory_format",
                                lambda d: torch.contiguous_format)
    want = torch.contiguous_format if mps_layout else torch.channels_last
    seen = []

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 8, 3, padding=1)
            self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
            self.head = nn.Linear(8, 10)

        def forward(self, x):
            # one input channel looks like either layout: conv2's weight
            # (8 in) is the one that tells
            seen.append(x.is_contiguous(memory_format=want) and
                        self.conv2.weight.is_contiguous(memory_format=want))
            return self.head(self.conv2(self.conv(x).relu()).mean((2, 3)))

    g = torch.Generator().manual_seed(0)
    X = torch.randint(0, 256, (512, 1, 28, 28), dtype=torch.uint8,
                      generator=g)
    y = torch.randint(0, 10, (512,), generator=g)
    recipe = Recipe(num_epochs=2, batch_size=64, lr=0.05,
                           rotation=5, translate=0.1)
    hist = engine.fit(Net(), recipe, (X, y, X[:128], y[:128]),
                      torch.device("cpu"), progress=False, precision="fp32")
    assert seen and all(seen)
    assert hist[-1]["train_loss"] < hist[0]["train_loss"] * 1.5
    assert all(torch.isfinite(torch.tensor(r["train_loss"])) for r in hist)


def test_an_op_missing_on_mps_says_what_to_do(monkeypatch, tmp_path):
    """torch raises NotImplementedError for an op without an MPS kernel:
    the learner gets the two ways out, not a traceback."""
    from tinycnn.grader import trainer as step
    from tinycnn.paths import ROOT

    def fit(*a, **k):
        raise NotImplementedError(
            "The operator 'aten::foo' is not currently implemented for the "
            "MPS device.\nIf you want this op to be added ...")

    monkeypatch.setattr(step, "fit", fit)
    with pytest.raises(step.StepError) as e:
        step.train_step(ROOT / "solutions" / "i0", torch.device("mps"),
                        out=tmp_path / "run", progress=False,
                        on_epoch=lambda line: None)
    msg = str(e.value)
    assert "aten::foo" in msg and "--device cpu" in msg
    assert "PYTORCH_ENABLE_MPS_FALLBACK=1" in msg
    assert "If you want" not in msg  # the first line of torch's message
