"""The course notebook runs headless and grades a step from a cell."""

import os

import pytest

from tinycnn.paths import ROOT

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")


def test_notebook_grades_a_step(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYCNN_RUNS", str(tmp_path / "runs"))
    nb = nbformat.read(ROOT / "notebooks/course.ipynb", as_version=4)
    assert nb.cells[1].get("id") == "course-setup"
    params = nb.cells[2]
    assert params.source.startswith('STEP = "i0"')
    params.source = 'STEP = "i3"\nIMPL = "solutions"\nTRAIN = False'
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": ROOT}})
    client.execute(env={**os.environ})
    out = {i: "".join(o.get("text", "") + str(o.get("data", {}))
                      for o in c.get("outputs", []))
           for i, c in enumerate(nb.cells) if c.cell_type == "code"}
    assert f"the course: {ROOT}" in out[1]  # local mode: found, no clone
    assert "i3  The GAP head" in out[4]
    assert "PASS" in out[6] and "FAIL" not in out[6]
    assert "<table>" in out[6]  # Jupyter shows the HTML table
    assert "every check passed" in out[8]


def colab_cell(repo: str) -> str:
    nb = nbformat.read(ROOT / "notebooks/course.ipynb", as_version=4)
    src = nb.cells[1].source
    assert 'COURSE_REPO = ""' in src
    return src.replace('COURSE_REPO = ""', f"COURSE_REPO = {repo!r}")


def test_colab_cell_clones_the_course_where_there_is_none(tmp_path):
    """Colab's mode of the first cell, in an empty folder: without an
    address it says what to set; with one it clones, keeps the installed
    packages (all present here, as PyTorch is on Colab) and fetches MNIST
    (here: verifies the copy TINYCNN_DATA names)."""
    import subprocess
    import sys

    env = {**os.environ, "TINYCNN_DATA": str(ROOT / "data")}
    cmd = [sys.executable, "-c"]
    out = subprocess.run([*cmd, colab_cell("")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 1 and "set COURSE_REPO" in out.stderr
    out = subprocess.run([*cmd, colab_cell(str(ROOT)) +
                          "\nfrom tinycnn import paths; print(paths.ROOT)"],
                         cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    clone = tmp_path / "tinycnn-course"
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"the course: {clone}" in out.stdout
    assert out.stdout.strip().endswith(str(clone))  # its own tinycnn
    assert (clone / "checks").is_dir() and (clone / "steps").is_dir()


@pytest.mark.slow
def test_notebook_trains_with_a_live_plot(tmp_path, monkeypatch):
    """i0 trains from a cell: epoch lines stream, the plot is redrawn per
    epoch, and the table and final curves follow."""
    monkeypatch.setenv("TINYCNN_RUNS", str(tmp_path / "runs"))
    nb = nbformat.read(ROOT / "notebooks/course.ipynb", as_version=4)
    nb.cells[2].source = 'STEP = "i0"\nIMPL = "solutions"\nTRAIN = True'
    client = nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                                     resources={"metadata": {"path": ROOT}})
    client.execute(env={**os.environ})
    outs = nb.cells[6].outputs
    text = "".join(o.get("text", "") for o in outs)
    assert "epoch  1" in text and "about" in text  # live lines, estimate
    pngs = [o for o in outs if "image/png" in o.get("data", {})]
    assert len(pngs) >= 2  # the live plot (updated in place), the curves
    assert any("<table>" in o.get("data", {}).get("text/html", "")
               for o in outs)


def run_explore(params: str) -> dict[int, str]:
    nb = nbformat.read(ROOT / "notebooks/explore.ipynb", as_version=4)
    assert nb.cells[2].source.startswith('STEP = "i3"')
    nb.cells[2].source += "\n" + params  # the parameters cell, overridden
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": ROOT}})
    client.execute(env={**os.environ})
    return {i: "".join(o.get("text", "") + str(o.get("data", {}).keys())
                       for o in c.get("outputs", []))
            for i, c in enumerate(nb.cells) if c.cell_type == "code"}


def test_explore_notebook_runs_on_a_small_budget(tmp_path, monkeypatch):
    """The explore notebook on the reference, one epoch on 512 images: the
    digits, the augmentation, the layer table and the live curves."""
    monkeypatch.setenv("TINYCNN_RUNS", str(tmp_path / "runs"))
    out = run_explore('IMPL = "solutions"\nEPOCHS = 1\nLIMIT = 512')
    assert "images per class" in out[5] and "image/png" in out[5]
    assert "rotation ±10°" in out[7] and "image/png" in out[7]
    assert "17,154" in out[9] and "image/png" in out[9]
    assert "epoch 1: test" in out[11] and "image/png" in out[11]


def test_explore_notebook_on_a_skeleton_says_what_is_missing(tmp_path,
                                                             monkeypatch):
    """On an unwritten step the notebook still shows the data and says why
    it cannot show the network, instead of failing."""
    monkeypatch.setenv("TINYCNN_RUNS", str(tmp_path / "runs"))
    out = run_explore('IMPL = "steps"\nEPOCHS = 1\nLIMIT = 512')
    assert "images per class" in out[5]
    assert "cannot read your files yet" in out[7]
    assert "17,154" not in out[9] and "epoch 1" not in out[11]
