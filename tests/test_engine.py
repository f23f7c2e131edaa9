"""The training loop on a few batches, and run records."""

import json

import pytest
import torch
from torch import nn

from tinycnn.learner.workspace import load_step
from tinycnn.train import records
from tinycnn.train.engine import fit
from tinycnn.train.recipe import Diverged, Recipe
from tinycnn.train.step import augment


def tiny_data(n=512):
    g = torch.Generator().manual_seed(0)
    X = torch.randint(0, 256, (n, 1, 28, 28), dtype=torch.uint8, generator=g)
    y = (X.float().mean((1, 2, 3)) > 127.5).long()  # a learnable rule
    return X, y, X[:128], y[:128]


def small_net():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4),
                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4, 10))


def test_loss_goes_down():
    r = Recipe(num_epochs=4, batch_size=64, lr=0.05, schedule="constant")
    h = fit(small_net(), r, tiny_data(), torch.device("cpu"), progress=False)
    assert h[-1]["train_loss"] < h[0]["train_loss"]
    assert set(h[0]) >= {"train_loss", "train_acc", "test_loss", "test_acc"}


def test_a_heartbeat_inside_each_epoch():
    """Where no bar shows, `on_beat` reports inside the epoch (here on
    every sync: beat_s=0), never after its last batch (the epoch line
    follows), with the batches done so far."""
    beats = []
    r = Recipe(num_epochs=2, batch_size=4, lr=0.05, schedule="constant")
    fit(small_net(), r, tiny_data(), torch.device("cpu"), progress=False,
        on_beat=lambda *a: beats.append(a), beat_s=0)
    assert [b[:3] for b in beats] == [(e, n, 128) for e in (1, 2)
                                      for n in (50, 100)]
    assert all(b[3] > 0 for b in beats)


def test_same_seed_same_result():
    r = Recipe(num_epochs=1, batch_size=64, rotation=10, translate=0.1)
    runs = []
    for _ in range(2):
        torch.manual_seed(r.seed)
        runs.append(fit(small_net(), r, tiny_data(), torch.device("cpu"),
                        progress=False)[0]["train_loss"])
    assert runs[0] == runs[1]


def test_nan_stops_training_early():
    r = Recipe(num_epochs=5, batch_size=64, lr=1e36, schedule="constant",
               momentum=0.0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    with pytest.raises(Diverged, match="lr"):
        fit(net, r, tiny_data(), torch.device("cpu"), progress=False)


def test_augment_off_is_identity_and_on_changes_pixels():
    X = torch.rand(8, 1, 28, 28)
    assert augment(X, Recipe()) is X
    Y = augment(X, Recipe(rotation=15))
    assert Y.shape == X.shape and not torch.equal(X, Y)


def test_zero_angle_augment_is_near_identity():
    X = torch.rand(4, 1, 28, 28)
    Y = augment(X, Recipe(rotation=1e-6))
    assert torch.allclose(X, Y, atol=1e-4)


def test_record_round_trip_and_invalidate(tmp_path, root):
    step = load_step(root / "solutions/i3")
    net = step.model.Net()
    rec = {"step": "i3", "params": 1, "final_test_acc": 99.5,
           "epochs": [{"epoch": 1, "train_loss": 1.0, "test_loss": 0.5,
                       "train_acc": 90.0, "test_acc": 95.0}]}
    records.save(tmp_path, rec, net)
    back, state = records.load(tmp_path)
    assert back.pop("signature")  # signed by this user's trainer
    assert back == json.loads(json.dumps(rec))
    assert records.load(tmp_path, signed=True) is not None
    fresh = step.model.Net()
    fresh.load_state_dict(state, strict=True)  # weights_only load fits
    records.invalidate(tmp_path)
    assert records.load(tmp_path) is None
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"


def test_a_thin_pass_says_how_often_it_would_pass(tmp_path):
    """The grade's note on a pass within the references' seed spread of
    the mark: from recorded deviations, how many moved onto this result
    would still pass; nothing for a comfortable pass or without records."""
    from tinycnn.grader.odds import deviations, thin

    devs = deviations({"cpu": [99.40, 99.50, 99.60], "one run": [99.9]})
    assert devs == [-0.1, 0.0, 0.1]
    spread = tmp_path / "seed_spread.json"
    spread.write_text(json.dumps({"i4": devs}))
    note = thin("i4", 99.45, 99.4, spread)
    assert "2 of 3 would pass" in note and "--seed 2" in note
    assert thin("i4", 99.55, 99.4, spread) == ""
    assert thin("i4", 99.45, 99.4, tmp_path / "missing.json") == ""


def test_the_estimate_skips_the_warm_up(monkeypatch):
    """On a fake clock where the first 10 batches take 1 s (a GPU's warm-up,
    a compile) and the rest 0.1 s, the estimate is within 30 % of the run's
    real time; timing the first 21 batches, as before, was 4.5 times it."""
    import types

    from tinycnn.train import engine, step
    from tinycnn.train.recipe import Recipe

    clock = types.SimpleNamespace(now=0.0, batches=0)
    monkeypatch.setattr(engine, "time", types.SimpleNamespace(
        perf_counter=lambda: clock.now))
    real_batch = step.train_batch

    def timed_batch(*a, **k):
        clock.now += 1.0 if clock.batches < 10 else 0.1
        clock.batches += 1
        return real_batch(*a, **k)

    monkeypatch.setattr(step, "train_batch", timed_batch)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    X = torch.randint(0, 256, (100 * 8, 1, 28, 28), dtype=torch.uint8)
    y = torch.randint(0, 10, (100 * 8,))
    said = []
    engine.fit(net, Recipe(num_epochs=3, batch_size=8), (X, y, X, y),
               torch.device("cpu"), progress=False, precision="fp32",
               on_estimate=said.append)
    assert clock.batches == 300 and len(said) == 1
    real = clock.now  # 10 x 1 s + 290 x 0.1 s
    assert abs(said[0] - real) <= 0.3 * real, (said, real)
