"""The graders are proven: pass on solutions, fail on skeletons, and fail
each deliberately broken model on exactly the check it breaks."""

import shutil

import pytest
from conftest import ROOT, grade

from tinycnn.grading import SPECS
from tinycnn.mistakes import MISTAKES, apply

STEPS = list(SPECS)


@pytest.mark.parametrize("step", STEPS)
def test_solutions_pass_structure(step, tmp_path):
    data, failed, out = grade("solutions", step, tmp_path / "r.json",
                              "-m", "not slow")
    assert not failed, out
    assert data["score"] == len(data["tests"]) > 3
    # one test per check in the spec (accuracy is the slow one)
    assert len(data["tests"]) == len(SPECS[step].checks) - 1


@pytest.mark.parametrize("step", STEPS)
def test_skeletons_fail_clearly(step, tmp_path):
    data, failed, out = grade("steps", step, tmp_path / "r.json",
                              "-m", "not slow")
    assert len(failed) == len(data["tests"]), out
    for t in data["tests"]:
        assert t["output"].startswith("not implemented yet: TODO("), t
        assert "Traceback" not in t["output"]


# the grader's name for each check a mistake must fail
NAMES = {
    "batchnorm": "BatchNorm present and used in forward",
    "dropout": "Dropout random in train mode, off in eval mode",
    "gap": "classifier sees a global average, not a flattened map",
    "params": "fewer than 20,000 parameters",
    "shapes": "declared layer_shapes() match the forward pass",
    "output": "output is (B, 10) for any batch size",
}
I3 = (ROOT / "solutions/i3/model.py").read_text()


def make_impl(tmp_path, model_src, train_src=None):
    impl = tmp_path / "impl"
    shutil.copytree(ROOT / "solutions/i3", impl / "i3")
    (impl / "i3/model.py").write_text(model_src)
    if train_src is not None:
        (impl / "i3/train.py").write_text(train_src)
    return impl


@pytest.mark.parametrize("name", list(MISTAKES))
def test_broken_model_fails_on_the_right_check(name, tmp_path):
    edits, check = MISTAKES[name]
    impl = make_impl(tmp_path, apply(edits))
    _, failed, out = grade(impl, "i3", tmp_path / "r.json", "-m", "not slow")
    assert failed == ({NAMES[check]} if check else set()), out


def test_recipe_over_epoch_cap_fails(tmp_path):
    train = (ROOT / "solutions/i3/train.py").read_text()
    impl = make_impl(tmp_path, I3, train.replace("num_epochs=15",
                                                 "num_epochs=21"))
    _, failed, out = grade(impl, "i3", tmp_path / "r.json", "-m", "not slow")
    assert failed == {"recipe stays within 20 epochs"}, out


def test_i3_net_is_over_the_i4_budget(tmp_path):
    """i4's own budget: the i3 reference, handed in as i4, fails only it."""
    impl = tmp_path / "impl"
    shutil.copytree(ROOT / "solutions/i3", impl / "i4")
    _, failed, out = grade(impl, "i4", tmp_path / "r.json", "-m", "not slow")
    assert failed == {"at most 8,000 parameters"}, out
    assert "17,154 parameters; i4 allows at most 8,000" in out


def test_i4_recipe_over_15_epochs_fails(tmp_path):
    impl = tmp_path / "impl"
    shutil.copytree(ROOT / "solutions/i4", impl / "i4")
    train = impl / "i4/train.py"
    train.write_text(train.read_text().replace("num_epochs=15",
                                               "num_epochs=16"))
    _, failed, out = grade(impl, "i4", tmp_path / "r.json", "-m", "not slow")
    assert failed == {"recipe stays within 15 epochs"}, out


@pytest.mark.slow
@pytest.mark.parametrize("step", STEPS)
def test_solutions_reach_pass_mark(step, tmp_path):
    """Full training on this machine's device: minutes per step on a CPU."""
    data, failed, out = grade("solutions", step, tmp_path / "r.json")
    assert not failed, out
    assert any(t["name"].startswith("final test accuracy")
               for t in data["tests"])
