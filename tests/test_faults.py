"""Bad input and faults: nothing is lost, nothing untrusted is believed,
and every failure says what to do."""

import json
import os
import shutil
import subprocess
from dataclasses import asdict

import pytest
import torch
from conftest import copy_step, edit

from tinycnn.course import STEPS
from tinycnn.grader.bounded import reusable
from tinycnn.grader.network import INIT, GradedNet, graph_hash, load, weight_count
from tinycnn.grader.run import Grade
from tinycnn.grader.submission import code_hash
from tinycnn.grader.trainer import train_step
from tinycnn.grader.verdict import Fail
from tinycnn.paths import run_dir
from tinycnn.train import data, records


@pytest.fixture
def step_dir(tmp_path, monkeypatch):
    """A copy of the i3 reference to break, with runs kept in tmp."""
    return copy_step("i3", tmp_path, monkeypatch)


# ---------------------------------------------------------- learner code
# (models that raise, hang, exit or compute NaN: tests/mutants.py)


def grade_i3(folder):
    return Grade(folder, STEPS["i3"])


def test_nan_loss_stops_early_with_hint(step_dir):
    """Logits scaled far past what training can hold: the head's weights
    blow up within the first batches and the loss stops being a number
    (a BatchNorm network shrugs off any lr the recipe allows)."""
    edit(step_dir, "model.py", "return self.head(X).flatten(1)",
         "return self.head(X).flatten(1) * 1e30")
    with pytest.raises(Fail, match="loss became .* lr"):
        grade_i3(step_dir).check("accuracy")


def test_data_error_during_a_grade_is_its_message(step_dir, monkeypatch):
    """No traceback in results.json: the DataError's own words."""
    monkeypatch.setenv("TINYCNN_DATA", "/dev/null/mnist")
    with pytest.raises(Fail) as e:
        grade_i3(step_dir).check("accuracy")
    assert e.value.message.startswith("MNIST is not available:")
    assert "Traceback" not in str(e.value) and len(str(e.value)) < 1500


def test_a_killed_graders_probe_folder_is_removed_by_the_next(tmp_path):
    """kill -9 skips cleanup: the next probe removes folders whose grader
    (the pid in their name) is gone, and only those."""
    from tinycnn.sandbox import probe
    from tinycnn.sandbox.isolation import workdir

    dead = subprocess.Popen(["true"])
    dead.wait()
    gone = workdir(f"{probe.PREFIX}{dead.pid}-")
    alive = workdir(f"{probe.PREFIX}{os.getppid()}-")
    (gone / "out").mkdir()
    probe.remove_stale()
    assert not gone.exists() and alive.exists()
    shutil.rmtree(alive)


# ------------------------------------------------------ records and cache


def fake_record(g, net=None, acc=99.9, **over):
    """A record of this user's trainer claiming `acc`, with `net`'s weights
    (default: the untrained network), matching the code and recipe of the
    grade `g` (its probe serves the test's grade too)."""
    folder = g.sub.folder
    net = net or GradedNet(load(g.sub.result.out, 1))
    rec = {"step": "i3", "params": weight_count(g.sub.graphs),
           "code_hash": code_hash(folder),
           "graph_hash": graph_hash(g.sub.graphs), "recipe": asdict(g.sub.recipe),
           "init": INIT, "final_test_acc": acc, "epochs": [
               {"epoch": 1, "train_loss": 1, "test_loss": 1, "train_acc": acc,
                "test_acc": acc}], **over}
    records.save(run_dir(folder), rec, net)
    return rec


def test_interrupted_training_leaves_no_record(step_dir, monkeypatch):
    fake_record(grade_i3(step_dir))

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr("tinycnn.grader.trainer.fit", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_step(step_dir, torch.device("cpu"), progress=False)
    assert records.load(run_dir(step_dir)) is None


def test_edited_record_is_not_believed(step_dir):
    """The JSON claims 99.9 %; the grader evaluates the (untrained) weights."""
    g = grade_i3(step_dir)
    fake_record(g)
    with pytest.raises(Fail, match="final test accuracy .*< 99.4"):
        g.check("accuracy")


def test_unsigned_record_is_retrained(step_dir):
    """A record.json written by hand (matching hashes, the reference's own
    checkpoint) is not reused: the grader trains."""
    g = grade_i3(step_dir)
    rec = fake_record(g)
    assert reusable(run_dir(step_dir), g.sub.fingerprint, retrain=False)
    path = run_dir(step_dir) / "record.json"
    path.write_text(json.dumps({**rec, "signature": "0" * 64}))
    assert reusable(run_dir(step_dir), g.sub.fingerprint, retrain=False) is None


# a record is reused only for the same code, traced graph and weight count:
# the graph hash names layers, not widths, so widths read from a config
# file change the count alone
@pytest.mark.parametrize("differs", [{"code_hash": "0" * 64}, {"params": 1},
                                     {"init": None}],
                         ids=["changed code", "other widths",
                              "started from Net()'s own weights"])
def test_record_that_does_not_match_is_not_reused(step_dir, differs):
    g = grade_i3(step_dir)
    fake_record(g)
    assert reusable(run_dir(step_dir), g.sub.fingerprint, retrain=False)
    assert reusable(run_dir(step_dir), g.sub.fingerprint, retrain=True) is None
    fake_record(g, **differs)
    assert reusable(run_dir(step_dir), g.sub.fingerprint, retrain=False) is None


def test_checkpoint_of_another_architecture_is_refused(step_dir, root,
                                                       tmp_path):
    from tinycnn.sandbox import probe

    other = probe.run(root / "solutions/i2")
    g = grade_i3(step_dir)
    fake_record(g, net=GradedNet(load(other.out, 1)))
    other.remove()
    with pytest.raises(Fail, match="checkpoint .* does not fit"):
        g.check("accuracy")


def test_checkpoint_is_loaded_weights_only(step_dir, tmp_path):
    """A checkpoint that would run code on load is refused, not run."""
    fake_record(grade_i3(step_dir))

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"x": Evil()}, run_dir(step_dir) / "model.pt")
    assert records.load(run_dir(step_dir)) is None


# ------------------------------------------------------------------ data


def test_unwritable_data_dir_is_a_clear_error(tmp_path, monkeypatch):
    def denied(path, blob):
        raise PermissionError(f"[Errno 13] Permission denied: '{path}'")

    def source(raw, names):  # what every source ends with: a write
        data.write_atomic(raw / names[0], b"")

    monkeypatch.setattr(data, "write_atomic", denied)
    monkeypatch.setitem(data.SOURCES, "mirrors", source)
    monkeypatch.setitem(data.SOURCES, "pypi wheel", source)
    with pytest.raises(data.DataError, match="Permission denied") as e:
        data.ensure_mnist(tmp_path / "ro", verbose=False)
    assert "TINYCNN_DATA" in str(e.value)
