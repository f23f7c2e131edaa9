import pytest
import torch

from tinycnn import device


@pytest.mark.parametrize("cuda, mps, best", [
    (True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_pick_order(monkeypatch, cuda, mps, best):
    monkeypatch.delenv("TINYCNN_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert device.pick_device().type == best


def test_env_and_flag_override(monkeypatch):
    monkeypatch.setenv("TINYCNN_DEVICE", "cpu")
    assert device.pick_device().type == "cpu"
    assert device.pick_device("cpu").type == "cpu"


def test_unavailable_device_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    for name in ("cuda", "mps"):
        with pytest.raises(ValueError, match="available: cpu"):
            device.pick_device(name)
