"""fp32 or bf16: measured once per machine, cached, overridable."""

import pytest
import torch
from torch import nn

from tinycnn.train import precision
from tinycnn.train.step import train_batch


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("TINYCNN_PRECISION", raising=False)
    monkeypatch.setattr(precision, "_GUESSED", {})
    return tmp_path / "tinycnn" / "precision.json"


@pytest.mark.parametrize("fp32, bf16, want", [
    (0.030, 0.020, "bf16"),   # a CPU with a native bf16 path
    (0.030, 0.045, "fp32"),   # one without: bf16 is emulated, slower
    (0.030, 0.0295, "fp32"),  # a tie is not worth the lost precision
])
def test_the_faster_precision_is_picked_and_cached(cache, monkeypatch,
                                                   fp32, bf16, want):
    monkeypatch.setattr(precision, "measure",
                        lambda: {"fp32": fp32, "bf16": bf16})
    got, why = precision.choose(torch.device("cpu"))
    assert got == want and f"{1000 * bf16:g}" in why
    assert cache.is_file()

    def no_second_measurement():
        raise AssertionError("measured twice on one machine")

    monkeypatch.setattr(precision, "measure", no_second_measurement)
    assert precision.choose(torch.device("cpu"))[0] == want


def test_gpus_train_in_fp32_and_the_variable_overrides(cache, monkeypatch):
    assert precision.choose(torch.device("cuda"))[0] == "fp32"
    monkeypatch.setenv("TINYCNN_PRECISION", "bf16")
    assert precision.choose(torch.device("cpu")) == (
        "bf16", "set by TINYCNN_PRECISION")
    monkeypatch.setenv("TINYCNN_PRECISION", "fp16")
    with pytest.raises(ValueError, match="fp32 or bf16"):
        precision.choose(torch.device("cpu"))


def test_a_damaged_cache_is_measured_again(cache, monkeypatch):
    cache.parent.mkdir(parents=True)
    cache.write_text("[not json")
    monkeypatch.setattr(precision, "measure",
                        lambda: {"fp32": 0.03, "bf16": 0.01})
    assert precision.choose(torch.device("cpu"))[0] == "bf16"


@pytest.mark.parametrize("bf16_flag, want", [(True, "bf16"), (False, "fp32")])
def test_a_busy_machine_is_not_measured_into_the_cache(cache, monkeypatch,
                                                        bf16_flag, want):
    """Timed while other jobs hold the cores, fp32 and bf16 are noise: the
    CPU's flags decide this run, nothing is cached, the next run measures."""
    monkeypatch.setattr(precision, "measure", lambda: {
        "fp32": 0.760, "bf16": 0.784, "cpu_share": 0.44})
    monkeypatch.setattr(precision, "native_bf16", lambda: bf16_flag)
    got, why = precision.choose(torch.device("cpu"))
    assert got == want and "too busy to measure" in why and "44%" in why
    assert not cache.exists()
    monkeypatch.setattr(precision, "measure", lambda: {
        "fp32": 0.020, "bf16": 0.030, "cpu_share": 0.95})
    assert precision.choose(torch.device("cpu"))[0] == want  # same process
    monkeypatch.setattr(precision, "_GUESSED", {})  # a new run measures
    assert precision.choose(torch.device("cpu"))[0] == "fp32"
    assert cache.is_file()


def test_measure_times_both_for_real():
    t = precision.measure(steps=1, batch=8)
    assert set(t) == {"fp32", "bf16", "cpu_share"}
    assert all(0 < t[p] < 10 for p in precision.CHOICES)
    assert 0 < t["cpu_share"] <= 1.5  # spinning threads may add a little


@pytest.mark.parametrize("name, dtype", [("fp32", torch.float32),
                                         ("bf16", torch.bfloat16)])
def test_train_batch_runs_the_forward_in_that_precision(name, dtype):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(),
                        nn.Linear(4 * 26 * 26, 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    X, y = torch.randn(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    loss, logits = train_batch(net, opt, X, y, name)
    assert logits.dtype == dtype and loss.dtype == torch.float32
