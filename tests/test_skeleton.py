import pytest

from tinycnn.learner.skeleton import strip
from tools.derive import derived


def test_derived_files_are_what_the_manifest_makes(root):
    """steps/, checks/, the nav and the CI matrix follow the manifest."""
    files = derived(root)
    assert any(p.parent.parent.name == "steps" for p in files)
    for path, text in files.items():
        assert path.read_text() == text, (
            f"{path} is stale: run `python -m tools derive`")


def test_strip_keeps_signature_and_raises():
    src = ("def f(x: int) -> int:\n"
           "    # >>> TODO: double it (lesson: \"Doubling\")\n"
           "    return 2 * x\n"
           "    # <<<\n")
    out = strip(src, "i9")
    assert "def f(x: int) -> int:" in out and "2 * x" not in out
    ns = {}
    exec(out, ns)
    with pytest.raises(NotImplementedError, match=r"TODO\(i9\): double it"):
        ns["f"](1)


@pytest.mark.parametrize("bad", ["    # >>> TODO: a\n", "    # <<<\n",
                                 "# >>> TODO: a\n# >>> TODO: b\n"])
def test_strip_rejects_unbalanced_markers(bad):
    with pytest.raises(ValueError):
        strip(bad, "i0")
