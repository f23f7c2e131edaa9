"""The graders are proven: pass on solutions, fail on skeletons, and fail
each deliberately broken model on exactly the check it breaks."""

import shutil

import pytest
from conftest import ROOT, grade

STEPS = ["i0", "i1", "i2", "i3"]


@pytest.mark.parametrize("step", STEPS)
def test_solutions_pass_structure(step, tmp_path):
    data, failed, out = grade("solutions", step, tmp_path / "r.json",
                              "-m", "not slow")
    assert not failed, out
    assert data["score"] == len(data["tests"]) > 3


@pytest.mark.parametrize("step", STEPS)
def test_skeletons_fail_clearly(step, tmp_path):
    data, failed, out = grade("steps", step, tmp_path / "r.json",
                              "-m", "not slow")
    assert len(failed) == len(data["tests"]), out
    for t in data["tests"]:
        assert t["output"].startswith("not implemented yet: TODO("), t
        assert "Traceback" not in t["output"]


I3 = (ROOT / "solutions/i3/model.py").read_text()
BLOCK_BN = "        nn.BatchNorm2d(c_out),\n        nn.ReLU(),\n        nn.Dropout2d"
GAP_HEAD = ("        self.gap = nn.AdaptiveAvgPool2d(1)\n"
            "        self.head = nn.Conv2d(16, 10, 1)")

# name: (edits to solutions/i3/model.py, checks that must fail)
BROKEN = {
    "no batchnorm": (
        [(BLOCK_BN, "        nn.ReLU(),\n        nn.Dropout2d"),
         ("        nn.BatchNorm2d(c_out),\n        nn.ReLU(),\n    )",
          "        nn.ReLU(),\n    )")],
        {"BatchNorm present and used in forward"}),
    "batchnorm never called": (
        [(BLOCK_BN, "        nn.ReLU(),\n        nn.Dropout2d"),
         ("        nn.BatchNorm2d(c_out),\n        nn.ReLU(),\n    )",
          "        nn.ReLU(),\n    )"),
         ("        self.pool1 = nn.MaxPool2d(2)\n",
          "        self.pool1 = nn.MaxPool2d(2)\n"
          "        self.bn = nn.BatchNorm2d(16)\n")],
        {"BatchNorm present and used in forward"}),
    "no dropout": (
        [("p_drop: float = 0.05) -> None", "p_drop: float = 0.0) -> None")],
        {"Dropout random in train mode, off in eval mode"}),
    "linear head over flattened 7x7": (
        [("block(28, 16, p_drop)", "block(28, 8, p_drop)"),
         (GAP_HEAD, "        self.fc = nn.Linear(8 * 7 * 7, 10)"),
         ("        X = self.gap(X)            # (B, 16, 1, 1)\n"
          "        return self.head(X).flatten(1)",
          "        return self.fc(X.flatten(1))"),
         ('"conv5": (16, 7, 7),\n        "gap": (16, 1, 1),\n'
          '        "head": (10, 1, 1),',
          '"conv5": (8, 7, 7),\n        "fc": (10,),')],
        {"classifier sees a global average, not a flattened map"}),
    "global max pool": (
        [("nn.AdaptiveAvgPool2d(1)", "nn.AdaptiveMaxPool2d(1)")],
        {"classifier sees a global average, not a flattened map"}),
    "20,001 parameters": (
        [("        self.pool1 = nn.MaxPool2d(2)\n",
          "        self.pool1 = nn.MaxPool2d(2)\n"
          "        self.extra = nn.Parameter(torch.zeros(20_001 - 17_154))\n")],
        {"fewer than 20,000 parameters"}),
    "wrong shape table": (
        [('"trans1": (12, 14, 14)', '"trans1": (12, 7, 7)')],
        {"declared layer_shapes() match the forward pass"}),
    "wrong output shape": (
        [("nn.Conv2d(16, 10, 1)", "nn.Conv2d(16, 9, 1)"),
         ('"head": (10, 1, 1)', '"head": (9, 1, 1)')],
        {"output is (B, 10) for any batch size"}),
    "functional F.dropout passes": (
        [("p_drop: float = 0.05) -> None", "p_drop: float = 0.0) -> None"),
         ("        return self.head(X).flatten(1)",
          "        X = nn.functional.dropout(X, 0.1, self.training)\n"
          "        return self.head(X).flatten(1)")],
        set()),
    "GAP then Linear(C, 10) passes": (
        [("self.head = nn.Conv2d(16, 10, 1)", "self.head = nn.Linear(16, 10)"),
         ("return self.head(X).flatten(1)", "return self.head(X.flatten(1))"),
         ('"head": (10, 1, 1)', '"head": (10,)')],
        set()),
}


def make_impl(tmp_path, model_src, train_src=None):
    impl = tmp_path / "impl"
    shutil.copytree(ROOT / "solutions/i3", impl / "i3")
    (impl / "i3/model.py").write_text(model_src)
    if train_src is not None:
        (impl / "i3/train.py").write_text(train_src)
    return impl


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_model_fails_on_the_right_check(name, tmp_path):
    edits, expected = BROKEN[name]
    src = I3
    for old, new in edits:
        assert old in src, f"edit for {name!r} no longer applies: {old!r}"
        src = src.replace(old, new)
    impl = make_impl(tmp_path, src)
    _, failed, out = grade(impl, "i3", tmp_path / "r.json", "-m", "not slow")
    assert failed == expected, out


def test_recipe_over_epoch_cap_fails(tmp_path):
    train = (ROOT / "solutions/i3/train.py").read_text()
    impl = make_impl(tmp_path, I3, train.replace("num_epochs=15",
                                                 "num_epochs=21"))
    _, failed, out = grade(impl, "i3", tmp_path / "r.json", "-m", "not slow")
    assert failed == {"recipe stays within 20 epochs"}, out


@pytest.mark.slow
@pytest.mark.parametrize("step", STEPS)
def test_solutions_reach_pass_mark(step, tmp_path):
    """Full training on this machine's device: minutes per step on a CPU."""
    data, failed, out = grade("solutions", step, tmp_path / "r.json")
    assert not failed, out
    assert any(t["name"].startswith("final test accuracy")
               for t in data["tests"])
