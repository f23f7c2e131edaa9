"""The lessons: generated parts fresh, `mkdocs build --strict` clean, and
every page rendered by a real headless browser."""

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import ROOT

from tinycnn.course import STEPS as SPECS
from tinycnn.grader import network
from tools import docs, evidence, measured, pictures, tables

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "runs" / "test-artifacts"


@pytest.mark.docs
def test_generated_docs_are_fresh():
    # the mistakes pages are made from the mutant library's grades, and
    # checked there (test_mutants.py): grading them twice cost two minutes
    for rel, content in docs.build(leave="generated/*-mistakes.md").items():
        path = ROOT / "docs" / rel
        assert path.exists(), f"{path} missing: run `python -m tools docs`"
        if isinstance(content, str):
            assert path.read_text() == content, (
                f"{path} is stale: run `python -m tools docs`")
        else:
            why = pictures.differs(path.read_bytes(), content)
            assert why is None, (f"{path} is stale ({why}): run `python -m "
                                 "tools docs`")


def test_a_stale_picture_is_told_apart():
    """The freshness test compares what pictures show: a changed number in
    a title fails it, a colour map's rounding does not."""
    import matplotlib.pyplot as plt
    import numpy as np

    def draw(title: str, noise: float = 0) -> bytes:
        fig, ax = plt.subplots(figsize=(4, 3))
        img = np.linspace(0, 1, 400).reshape(20, 20) + noise
        ax.imshow(img, cmap="viridis", vmin=0, vmax=1)
        ax.set_title(title)
        return pictures.png(fig)

    same = draw("i3: 99.41 %")
    assert pictures.differs(same, draw("i3: 99.41 %")) is None
    assert pictures.differs(same, draw("i3: 99.41 %", noise=1e-3)) is None
    assert "pixels changed" in pictures.differs(same, draw("i3: 99.47 %"))


def test_the_lessons_declare_what_is_generated(tmp_path):
    """The build makes what the lessons link: a step's picture by its
    {step} maker, a link nothing makes is an error that names it."""
    (tmp_path / "i9.md").write_text(
        "![](assets/i3-schedule.png)\n--8<-- \"generated/i2-task.md\"\n"
        "![](assets/i3-schedule.png) ![](assets/no-such-picture.png)\n")
    links = docs.asked(tmp_path)
    assert links == ["assets/i3-schedule.png", "generated/i2-task.md",
                     "assets/no-such-picture.png"]
    assert docs.maker(links[0]).args == ("i3",)
    assert docs.maker(links[0]).func is pictures.schedule
    with pytest.raises(ValueError, match="no-such-picture.png"):
        docs.maker(links[2])
    with pytest.raises(ValueError, match="i9-task"):  # not a step
        docs.maker("generated/i9-task.md")


def test_changed_lines_and_spans():
    assert tables.spans([1, 2, 3, 7, 9, 10]) == "1-3 7 9-10"
    assert tables.spans([]) == ""


def build(out: Path, site_url: str | None = None) -> Path:
    """`mkdocs build --strict` into `out`; SITE_URL as given (unset: the
    default of mkdocs.yml, `mkdocs serve`'s address)."""
    env = {k: v for k, v in os.environ.items() if k != "SITE_URL"}
    if site_url:
        env["SITE_URL"] = site_url
    res = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                          "-d", str(out)], cwd=ROOT, capture_output=True,
                         text=True, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    return out


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("site"))


@pytest.mark.docs
def test_published_under_a_sub_path(tmp_path):
    """The docs workflow sets SITE_URL to the Pages address, a sub-path
    (https://owner.github.io/repo/): the sitemap lists full addresses and
    the 404 page, served at any depth, finds its styles under that path."""
    out = build(tmp_path / "site", "https://example.org/course/")
    locs = re.findall(r"<loc>(.*?)</loc>", (out / "sitemap.xml").read_text())
    assert locs and all(u.startswith("https://example.org/course/")
                        for u in locs)
    assert 'href="/course/assets/stylesheets/' in (out / "404.html").read_text()


PAGES = ["", "setup/", "i0/", "i1/", "i2/", "i3/", "i4/", "recipe/",
         "results/", "instructors/"]


@pytest.mark.docs
def test_lessons_have_math(site):
    """Every inline formula a lesson writes reaches its page as MathJax's
    input (an arithmatex span holding that TeX), and the page loads
    MathJax to typeset it."""
    from html import unescape

    for page in ("i0", "i2", "i3", "i4"):
        tex = re.findall(r"\\\((.+?)\\\)", (ROOT / "docs" / f"{page}.md")
                         .read_text())
        html = (site / page / "index.html").read_text()
        shown = {unescape(t) for t in re.findall(
            r'<span class="arithmatex">\\\((.+?)\\\)</span>', html)}
        assert tex and set(tex) <= shown, (page, set(tex) - shown)
        assert "mathjax/tex-chtml.js" in html, page


@pytest.mark.docs
def test_build_has_every_page_and_no_raw_snippets(site):
    for page in PAGES:
        html = (site / page / "index.html").read_text()
        assert "--8<--" not in html, f"unresolved snippet in {page}"
    for step in SPECS:  # each lesson shows its reference's weight count
        html = (site / step / "index.html").read_text()
        assert f"{evidence.record(step)['params']:,}" in html, step


@pytest.mark.docs
def test_internal_links_and_images_exist(site):
    for page in PAGES:
        html = (site / page / "index.html").read_text()
        base = (site / page).resolve()
        for ref in re.findall(r'(?:href|src)="([^"#?]+)', html):
            if re.match(r"^[a-z]+:|^//", ref):
                continue
            target = (base / ref).resolve()
            if target.is_dir():
                target = target / "index.html"
            assert target.exists(), f"{page}: broken link {ref}"


REQUESTED: list[str] = []  # paths the browser fetched


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        REQUESTED.append(self.path)


def serve(folder: Path):
    handler = functools.partial(Handler, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/"


@pytest.fixture(scope="module")
def server(site):
    httpd, url = serve(site)
    yield url
    httpd.shutdown()


# Run in each page once it has loaded and MathJax has had its turn: how far
# the page is wider than the window (tables and code scroll inside their
# own boxes, which is fine), which elements stick out, which images did not
# load, and the text a reader sees without opening anything. Then, every
# fold opened: tables that need a sideways scroll, table cells off the
# window's right edge, and each picture's shown and natural width (the
# test turns them into the size of its smallest text). A page shown in a
# frame (a phone's width: FRAMED) reports to the page around it.
PROBE = """<script>
addEventListener("load", () => setTimeout(() => {
  const root = document.documentElement, width = root.clientWidth;
  const scrolls = e => e && e.closest(
    ".md-typeset__scrollwrap, pre, .highlight, mjx-container, .md-sidebar, "
    + ".figure");
  const wide = [...document.querySelectorAll(".md-content *")]
    .filter(e => e.getBoundingClientRect().right > width + 1
                 && !scrolls(e.parentElement) && e.offsetParent !== null)
    .slice(0, 5).map(e => e.tagName + "." + e.className);
  const broken = [...document.images]
    .filter(i => !i.complete || !i.naturalWidth).map(i => i.getAttribute("src"));
  const text = document.querySelector(".md-content").innerText;
  document.querySelectorAll("details").forEach(d => d.open = true);
  const over = [...document.querySelectorAll(".md-typeset__scrollwrap")]
    .filter(w => w.offsetParent !== null && w.scrollWidth > w.clientWidth + 1);
  const name = w => (w.querySelector("tr") || w).innerText.slice(0, 60);
  const tables = over.map(name);
  // a table wider than its box must scroll there, not be cut off
  const clipped = over.filter(w => !["auto", "scroll"].includes(
    getComputedStyle(w).overflowX)).map(name);
  const offscreen = [...document.querySelectorAll(".md-content td")]
    .filter(td => td.offsetParent !== null
                  && td.getBoundingClientRect().right > width + 1)
    .slice(0, 5).map(td => td.innerText.slice(0, 40));
  // a display formula must fit its column (a long one breaks into lines)
  const formulas = [...document.querySelectorAll(".md-content div.arithmatex")]
    .filter(d => d.offsetParent !== null && d.scrollWidth > d.clientWidth + 1)
    .map(d => d.innerText.slice(0, 40));
  const figures = [...document.querySelectorAll(".md-content img")]
    .filter(i => i.offsetParent !== null).map(i => {
      const box = i.closest(".figure");
      return {src: i.getAttribute("src"), natural: i.naturalWidth,
              shown: i.getBoundingClientRect().width,
              scrolls: !!box && box.scrollWidth > box.clientWidth + 1};
    });
  (window.frameElement ? parent.document : document).body.dataset.probe =
    JSON.stringify({overflow: root.scrollWidth - width, wide, broken, text,
                    tables, clipped, offscreen, formulas, figures, width});
}, 1500));
</script>"""
# Chromium's window is at least 500 px wide: a phone's width is a frame
# of that width in a page of its own, whose media queries the page obeys
FRAMED = 500


def framed(folder: Path, page: str, width: int, height: int = 900) -> str:
    """A page of `folder` showing `page` in a frame `width` px wide; its
    path under the site."""
    name = f"frame-{width}-{page.strip('/').replace('/', '-') or 'home'}.html"
    (folder / name).write_text(
        f'<!doctype html><body style="margin:0"><iframe src="/{page}" '
        f'style="border:0;width:{width}px;height:{height}px"></iframe>')
    return name


@pytest.fixture(scope="module")
def probed(site, tmp_path_factory):
    copy = tmp_path_factory.mktemp("probed") / "site"
    shutil.copytree(site, copy)
    for page in PAGES:
        path = copy / page / "index.html"
        path.write_text(path.read_text().replace("</body>", PROBE + "</body>"))
    httpd, url = serve(copy)
    yield url, copy
    httpd.shutdown()


def solution_lines() -> list[tuple[str, str, str]]:
    """(step, file, line) for every substantial line of the references'
    answers (their TODO regions)."""
    out = []
    for step in SPECS:
        for name in ("model.py", "train.py"):
            src = (ROOT / "solutions" / step / name).read_text()
            for region in re.findall(r"# >>> TODO.*?\n(.*?)# <<<", src, re.S):
                for line in region.splitlines():
                    line = line.strip()
                    if len(line) > 24 and not line.startswith("#"):
                        out.append((step, name, line))
    return out


def probe_page(tmp_path, url: str, width: int, folder: Path | None = None
               ) -> dict:
    """What PROBE found on the page at `url`, `width` px wide (narrower than
    a window can be: in a frame, written into `folder`, the served copy)."""
    import html
    import json

    if width < FRAMED:
        assert folder is not None, "a phone's width needs the served folder"
        base, page = url.split("/", 3)[:3], url.split("/", 3)[3]
        url = "/".join(base) + "/" + framed(folder, page, width)
    window = width if width >= FRAMED else FRAMED + 40
    res = chromium(tmp_path, f"--window-size={window},900", "--dump-dom", url)
    found = re.search(r'data-probe="([^"]*)"', res.stdout)
    assert found, res.stderr[-2000:]
    probe = json.loads(html.unescape(found.group(1)))
    assert probe["width"] <= width, probe["width"]  # the frame's, not more
    return probe


def smallest_text(site: Path, figure: dict) -> float | None:
    """The smallest text of a picture as the reader sees it, in CSS px: its
    PNG's note (tinycnn/figure.py) scaled by how wide it is shown."""
    from tinycnn.figure import min_text_px

    path = site / "assets" / Path(figure["src"]).name
    px = min_text_px(path.read_bytes()) if path.is_file() else None
    return None if px is None else px * figure["shown"] / figure["natural"]


@pytest.mark.docs
def test_the_probe_sees_each_fault(site, tmp_path):
    """The layout test can fail: a page given a 2,000 px block, an image
    that does not exist, an unfolded line of i1's answer, a folded table
    too wide for the column, a table cut off by its box, a picture shrunk
    to 200 px, one wider than the column and a formula wider than it are
    reported on every count."""
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    page = copy / "i1" / "index.html"
    line = next(x for x in solution_lines() if x[0] == "i1")[2]
    faults = (f'<div style="width:2000px">wide</div><img src="missing.png">'
              f"<p>{line}</p><details><summary>fold</summary>"
              '<div class="md-typeset__scrollwrap"><div class="md-typeset__'
              'table"><table><tr><td style="min-width:1500px">wide table'
              "</td></tr></table></div></div></details>"
              '<div class="md-typeset__scrollwrap" style="overflow:hidden">'
              '<table><tr><td style="min-width:1500px">cut table</td></tr>'
              "</table></div>"
              '<p><img src="../assets/i1-idea.png" width="200"></p><p>'
              '<span class="figure"><img src="../assets/i1-idea.png" '
              'width="1500"></span></p><div class="arithmatex" style="'
              'overflow:auto"><div style="width:1500px">wide formula</div>'
              "</div>")
    start = '<article class="md-content__inner md-typeset">'
    html = page.read_text()
    assert start in html
    page.write_text(html.replace(start, start + faults, 1)
                    .replace("</body>", PROBE + "</body>"))
    httpd, url = serve(copy)
    try:
        probe = probe_page(tmp_path, url + "i1/", 1280)
    finally:
        httpd.shutdown()
    assert probe["overflow"] > 0 and "DIV." in probe["wide"]
    assert probe["broken"] == ["missing.png"]
    assert line in probe["text"]
    assert set(probe["tables"]) == {"wide table", "cut table"}
    assert set(probe["clipped"]) == {"cut table"}
    assert {"wide table", "cut table"} <= set(probe["offscreen"])
    shrunk, wide = (next(f for f in probe["figures"] if f["shown"] == w)
                    for w in (200, 1500))
    assert smallest_text(copy, shrunk) < 11 <= smallest_text(copy, wide)
    assert wide["scrolls"] and not shrunk["scrolls"]
    assert probe["formulas"] == ["wide formula"]


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("page", PAGES)
def test_page_fits_its_width_and_hides_the_answers(page, width, probed,
                                                   tmp_path):
    """At a laptop's and a phone's width: no horizontal page overflow, every
    image loads, no line of a reference solution shows without a click, no
    table cell off the screen's edge (on a phone a row is a card), every
    picture's text at least 11 px as shown, every formula within the
    column, and on a laptop no table and no picture needs a sideways
    scroll."""
    from tinycnn.figure import MIN_TEXT_PX

    url, folder = probed
    probe = probe_page(tmp_path, url + page, width, folder)
    assert probe["overflow"] <= 0, (f"{page} at {width} px is "
                                    f"{probe['overflow']} px too wide: "
                                    f"{probe['wide']}")
    assert not probe["broken"], f"{page}: images not loaded {probe['broken']}"
    shown = [x for x in solution_lines() if x[2] in probe["text"]]
    assert not shown, f"{page} shows solution code unfolded: {shown[:3]}"
    assert not probe["clipped"], f"{page}: tables cut off: {probe['clipped']}"
    assert not probe["offscreen"], (f"{page} at {width} px: table cells off "
                                    f"the screen: {probe['offscreen']}")
    assert not probe["formulas"], (f"{page} at {width} px: formulas wider "
                                   f"than the column: {probe['formulas']}")
    small = {f["src"]: round(px, 1) for f in probe["figures"]
             if (px := smallest_text(folder, f)) is not None
             and px < MIN_TEXT_PX}
    assert not small, f"{page} at {width} px: text under 11 px in {small}"
    if width >= 1280:
        assert not probe["tables"], (f"{page}: tables wider than the column "
                                     f"at {width} px: {probe['tables']}")
        wide = [f["src"] for f in probe["figures"] if f["scrolls"]]
        assert not wide, f"{page}: pictures wider than the column: {wide}"


def chromium(tmp_path, *args):
    if not BROWSER:
        if os.environ.get("TINYCNN_REQUIRE_BROWSER"):
            pytest.fail("chromium not found, and TINYCNN_REQUIRE_BROWSER is set")
        pytest.skip("no chromium here (apt-get install chromium)")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}",
             "--virtual-time-budget=8000"]
    res = subprocess.run([BROWSER, *flags, *args], capture_output=True,
                         text=True, timeout=120)
    return res


@pytest.mark.browser
@pytest.mark.parametrize("page", PAGES)
def test_page_renders_in_browser(page, server, tmp_path):
    REQUESTED.clear()
    res = chromium(tmp_path, "--dump-dom", server + page)
    dom = res.stdout
    assert "<h1" in dom, res.stderr[-2000:]
    assert "md-content" in dom
    if page.startswith("i") and page[1].isdigit():
        assert "<table" in dom
    if 'class="arithmatex"' in dom:
        # MathJax ran: formulas became mjx-container elements
        assert "mjx-container" in dom, f"formulas not typeset on {page}"
        # ...and drew glyphs: the math fonts were fetched from this site
        fonts = [p for p in REQUESTED if p.endswith(".woff")]
        assert any("Zero" not in p for p in fonts), (
            f"math on {page} typeset but no glyph font loaded: {fonts}")


@pytest.mark.browser
@pytest.mark.parametrize("width", [1280, 390])
def test_screenshot_of_a_lesson(server, site, width, tmp_path):
    """runs/test-artifacts/i3-<width>.png: i3 as a laptop and a phone show
    it (the closing notes' screenshots are these)."""
    from PIL import Image

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"i3-{width}.png"
    shot.unlink(missing_ok=True)
    url = server + ("i3/" if width >= FRAMED
                    else framed(site, "i3/", width, 2400))
    chromium(tmp_path, f"--screenshot={shot}",
             f"--window-size={max(width, FRAMED + 40)},2400", url)
    Image.open(shot).crop((0, 0, width, 2400)).save(shot)  # the frame
    img = Image.open(shot).convert("L")
    assert img.size == (width, 2400)
    # a page, not a blank or an error screen: dark text on much of it
    dark = sum(img.histogram()[:128]) / (img.size[0] * img.size[1])
    assert dark > 0.005, f"{shot}: {dark:.2%} of it is dark"


# the lessons' content column in a 1280 px window inside a fold (688 px
# less the fold's padding; Material's layout, measured in Chromium):
# a picture shown at its design size must fit it
COLUMN_PX = 640


def unreadable(data: bytes) -> str | None:
    """Why a picture of docs/assets/ would not read, or None: not drawn
    by tinycnn/figure.py (no note of its smallest text), text under 11 px
    at its shown size (half its pixels), or wider than the column."""
    import io

    from PIL import Image

    from tinycnn.figure import MIN_TEXT_PX, SCALE, min_text_px

    px = min_text_px(data)
    width = Image.open(io.BytesIO(data)).size[0] / SCALE
    if px is None or px / SCALE < MIN_TEXT_PX or width > COLUMN_PX:
        return f"smallest text {px} px at 2x, shown {width:.0f} px wide"
    return None


def test_every_picture_is_drawn_to_be_read():
    """Every picture of docs/assets/ was drawn by tinycnn/figure.py: at 2x,
    noting its smallest text, which at its shown size (half its pixels,
    docs/hooks/screens.py) is at least 11 px; and it fits the column."""
    bad = [f"{path.name}: {why}"
           for path in sorted((ROOT / "docs" / "assets").glob("*.png"))
           if (why := unreadable(path.read_bytes()))]
    assert not bad, "\n".join(bad)


def test_the_picture_check_can_fail():
    """A 6-pt label, a figure too wide for the column and a PNG saved
    without tinycnn.figure each fail it; a 10-pt figure of 7 inches passes."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from tinycnn import figure

    def drawn(width: float, size: float) -> Figure:
        fig = Figure(figsize=(width, 2))
        fig.add_subplot().set_title("a title", fontsize=size)
        return fig

    assert unreadable(figure.png(drawn(7, 10))) is None
    assert unreadable(figure.png(drawn(7, 6)))
    assert unreadable(figure.png(drawn(9, 10)))
    plain = io.BytesIO()
    drawn(7, 10).savefig(plain, format="png", dpi=figure.DPI)
    assert unreadable(plain.getvalue())


def test_every_todo_names_a_section_of_its_lesson():
    """A skeleton's `(lesson: "X")` points at a real heading of its page."""
    for step in SPECS:
        page = (ROOT / "docs" / f"{step}.md").read_text()
        headings = set(re.findall(r"^## (.+?)(?: \{.*\})?$", page, re.M))
        for name in ("model.py", "train.py"):
            text = (ROOT / "solutions" / step / name).read_text()
            for section in re.findall(r'\(lesson: "([^"]+)"\)', text):
                assert section in headings, f"{step}/{name}: {section!r}"


def test_reference_records_say_how_they_trained():
    """Every committed reference record is of the reference's current
    code and names the precision it trained in (the lessons print both)."""
    for step in SPECS:
        rec = evidence.record(step)
        assert rec["precision"] in ("fp32", "bf16"), step
        assert rec["graph_hash"] == measured.reference_hash(step), step
        # the hash names layers, not widths: the weight count says those
        assert rec["params"] == network.weight_count(
            measured.reference_graphs(step)), step


def test_recipe_page_documents_every_field():
    import dataclasses

    from tinycnn.train.recipe import Recipe
    from tools.pages import recipe_fields, recipe_md

    names = [f.name for f in dataclasses.fields(Recipe)]
    what = recipe_fields()
    assert sorted(what) == sorted(names)
    assert all(len(text) > 10 for text in what.values()), what
    table = recipe_md()
    assert all(f"| `{n}` |" in table for n in names)


@pytest.mark.docs
def test_lessons_put_the_task_first_and_fold_the_answers(site):
    """Each step page opens with its task box (from the manifest); the
    reference code and layer table sit in closed <details> blocks."""
    for step, spec in SPECS.items():
        html = (site / step / "index.html").read_text()
        task = html.index("Your task")
        assert f"pytest checks/{step}" in html[task:task + 3000]
        assert f"at least {spec.pass_acc}%" in html[task:task + 3000]
        for listing in (f"solutions/{step}/model.py",
                        f"solutions/{step}/train.py"):
            at = html.index(listing)
            opened = html.rfind("<details", 0, at)
            assert opened != -1 and html.rfind("</details>", 0, at) < opened
            assert "open" not in html[opened:html.index(">", opened)]
    # i3 states the constraints; what follows is hints, one fold each,
    # and the reference's widths only after passing
    i3 = (site / "i3" / "index.html").read_text()
    section = i3.index('id="the-network"')
    folded = i3.index("<details", section)
    assert "19,999 parameters" in i3[section:folded]
    end = i3.index("<h2", section)
    assert "Hint 1 of 3" in i3[folded:end] and "28 → 16" not in i3[section:end]
    assert "28→16" in i3[i3.index('id="after-you-pass"'):]


@pytest.mark.docs
def test_no_solution_code_in_the_search_index(site):
    """Site search must not hand out the answers: no line of a reference
    solution's code (its TODO regions) is in the search index, though the
    lessons' other code blocks are."""
    import json

    idx = json.loads((site / "search" / "search_index.json").read_text())
    text = " ".join(d["text"] for d in idx["docs"])
    assert "python steps/i3/train.py" in text  # code blocks are indexed
    for step, name, line in solution_lines():
        assert line not in text, (step, name, line)


def test_every_picture_is_shown_somewhere():
    """No generated picture is dead weight: each is on a page."""
    pages = "".join(p.read_text() for p in (ROOT / "docs").glob("*.md"))
    unused = [p.name for p in (ROOT / "docs" / "assets").glob("*.png")
              if p.name not in pages]
    assert not unused, f"pictures no page shows: {unused}"


def reference_widths(step: str) -> list[tuple[int, int]]:
    """(in, out) channels of every conv and Linear of the step's reference."""
    import importlib.util

    import torch.nn as nn

    path = ROOT / "solutions" / step / "model.py"
    spec = importlib.util.spec_from_file_location(f"ref_{step}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return [(m.in_channels, m.out_channels) if isinstance(m, nn.Conv2d)
            else (m.in_features, m.out_features)
            for m in mod.Net().modules()
            if isinstance(m, nn.Conv2d | nn.Linear)]


def width_leaks(pairs: list[tuple[int, int]], text: str) -> list[str]:
    """Where `text` states the design of the network with these layers:
    "16 → 12" for one of its convs, "24 channels" or a "24×7×7" map for one
    of its widths, or a list of widths "(12, 16, ...". The logits' 10 and the
    input's 1 say nothing."""
    num = r"(?<![\d.])(?<!\d,)({})(?!\d|[,.]\d)"
    ws = "|".join(str(w) for w in sorted({o for _, o in pairs} - {1, 10}))
    pats = [num.format(f"{a}|{a:,}") + r"\s*(?:→|->|to)\s*" + num.format(b)
            for a, b in pairs]
    pats += [num.format(ws) + r"[ -]channels?\b",
             num.format(ws) + r"\s*[×x]\s*(?:49|\d+\s*[×x]\s*\d)",
             r"\(\s*" + num.format(ws) + r"\s*,\s*" + num.format(ws) + ",",
             r"\(\s*" + num.format(ws) + r"\s*,\s*\d+\s*,\s*\d+\s*\)"]
    return [text[max(0, m.start() - 40):m.end() + 20]
            for p in pats for m in re.finditer(p, text)]


def reference_design(step: str) -> dict:
    """What a page must not state about `step`'s reference before the
    pass: its widths (reference_widths), the map sizes after its first
    layer (the 28 of the input and the 1 after the average say nothing),
    what each of its layers costs, its total, and its module names."""
    import importlib.util

    from tinycnn.learner.summary import summarize

    path = ROOT / "solutions" / step / "model.py"
    spec = importlib.util.spec_from_file_location(f"ref_{step}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = summarize(mod.Net())
    # i1 and i2 build on the network i0 gives: their sizes are the
    # lessons' to state; from i3 on the network is the learner's design
    designed = list(SPECS).index(step) >= list(SPECS).index("i3")
    return {"pairs": reference_widths(step),
            "maps": sorted({r.shape[-1] for r in rows if len(r.shape) == 3}
                           - {28, 1}),
            "costs": sorted({r.params for r in rows if r.params >= 100}
                            | {sum(r.params for r in rows)}) if designed
            else [],
            "names": sorted({r.name for r in rows
                             if re.fullmatch(r"[a-z]+\d+", r.name)})}


def design_leaks(design: dict, text: str) -> list[str]:
    """Where `text` gives the design away (width_leaks, and): a run of
    its map sizes ("26…22", "11 → 5"), what one of its layers or the whole
    costs ("170 here", "7,894 parameters"), or a list or range of its
    module names ("conv1-conv3", "`conv4` alone")."""
    num = r"(?<![\d.,])({})(?![\d]|[,.]\d)"
    found = width_leaks(design["pairs"], text)
    # a run of map sizes says how many layers sit where: a jump that is
    # not one unpadded conv ("26…22", "11 → 5"), or three sizes in a row
    # ("9 → 7 → 5"); "28 → 26 → 24" (one conv, then the next) says nothing
    sep = r"\s*(?:→|->|…|\.\.\.)\s*"
    for m in re.finditer(rf"\d+(?:{sep}\d+)+", text):
        sizes = [int(x) for x in re.findall(r"\d+", m.group(0))]
        ours = [x in design["maps"] for x in sizes]
        pairs = list(zip(sizes, sizes[1:], strict=False))
        jumps = any(a in design["maps"] and b in design["maps"] and a - b != 2
                    for a, b in pairs)
        three = any(all(ours[i:i + 3]) for i in range(len(ours) - 2))
        if jumps or three:
            found.append(text[max(0, m.start() - 40):m.end() + 20])
    costs = "|".join(f"{c}|{c:,}" for c in design["costs"])
    found += [text[max(0, m.start() - 40):m.end() + 20]
              for m in re.finditer(num.format(costs)
                                   + r"(?!\s*(?:×|x|px|%|°))", text)
              if costs]
    for name in design["names"]:
        stem = re.escape(re.sub(r"\d+$", "", name))
        # `conv1` and `conv2` are any network's; from the third on, a name
        # says how many layers the reference has
        alone = (rf"`{re.escape(name)}`|" if int(re.sub(r"\D", "", name)) >= 3
                 else "")
        for m in re.finditer(rf"{alone}\b{re.escape(name)}\s*"
                             rf"(?:-|–|to)\s*{stem}\d", text):
            found.append(text[max(0, m.start() - 40):m.end() + 20])
    return found


def test_design_leak_finder():
    """It finds each kind of passage the lessons once gave the design away
    with, planted, and not the sizes or names every design shares."""
    design = {"pairs": [(1, 10), (10, 16), (16, 20), (20, 10)],
              "maps": [5, 7, 9, 11, 22, 24, 26], "costs": [170, 7894],
              "names": ["conv1", "conv2", "conv4", "conv5"]}
    for leak in ("shrinking 26…22 and 9…5", "rounds down: 11 → 5",
                 "then 9 → 7 → 5",
                 "C·10+10 parameters, 170 here", "a net of 7,894 parameters",
                 "weights moved from conv1-conv3 to the rest",
                 "`conv4` alone holds", "conv2 to conv5"):
        assert design_leaks(design, leak), leak
    for fine in ("28 → 26 for k = 3", "13 → 6", "a 20×20 box",
                 "2 pixels per conv: 28 → 26 → 24 and so on",
                 "an entry named after a module (`conv1`, or", "170 px",
                 "99.4 %", "1,700 parameters"):
        assert not design_leaks(design, fine), fine


def test_width_leak_finder():
    """It finds the ways the lessons used to give a design away, and not the
    sizes every design shares."""
    pairs = [(1, 12), (12, 16), (16, 12), (12, 24), (24, 20), (980, 10),
             (1176, 10)]
    for leak in ("The channels grow (12, 16, 20", "squeezes 16 channels to",
                 "trans2 squeezes 24 to 20 before", "conv 16→12 at 7×7",
                 "the head's 24 × 49 × 10 weights", "a 20×7×7 map",
                 "the 980 → 10 linear layer", "the 1,176 → 10 head",
                 "you declared (20, 7, 7)"):
        assert width_leaks(pairs, leak), leak
    for fine in ("28 → 26 → 24", "10 channels", "a 16,000-weight head",
                 "from 20,950 to 19,006", "C × 7 × 7"):
        assert not width_leaks(pairs, fine), fine


def open_text(html: str) -> str:
    """A built page's article as a reader sees it before opening anything:
    without folds (<details>) and without the "After you pass" section."""
    import html as markup

    art = html[html.index("<article"):html.index("</article>")]
    after = art.find('id="after-you-pass"')
    if after != -1:
        end = art.find("<h2", after)
        art = art[:art.rfind("<h2", 0, after)] + (art[end:] if end != -1
                                                  else "")
    art = re.sub(r"<details.*?</details>", " ", art, flags=re.S)
    return re.sub(r"\s+", " ", markup.unescape(re.sub(r"<[^>]+>", " ", art)))


@pytest.mark.docs
def test_lessons_leave_the_design_to_the_learner(site):
    """From i1 on, the reference's widths are only where the learner
    chooses to look after passing: not in the open text of its lesson, not
    in the site search (folds are indexed unless marked), and the results
    page, which records every design, is out of the search too."""
    import html as markup
    import json

    idx = json.loads((site / "search" / "search_index.json").read_text())
    assert not [d for d in idx["docs"] if d["location"].startswith("results")]
    home = open_text((site / "index.html").read_text())
    for step in [s for s in SPECS if s != "i0"]:
        pairs = reference_widths(step)
        design = reference_design(step)
        html = (site / step / "index.html").read_text()
        shown = design_leaks(design, open_text(html))
        assert not shown, f"{step}'s open text gives its design: {shown}"
        shown = design_leaks(design, home)
        assert not shown, f"the home page gives {step}'s design: {shown}"
        for d in idx["docs"]:
            if d["location"].split("/")[0] in (step, ""):
                text = markup.unescape(re.sub(r"<[^>]+>", " ", d["text"]))
                found = design_leaks(design, text)
                assert not found, (f"{step}'s design is in the search "
                                   f"index ({d['location']}): {found}")
        # ...and they are there for whoever opens the section
        assert width_leaks(pairs, markup.unescape(html))


VERDICT = re.compile(r":\s+(no measurable difference|better|worse)\b")


def table_verdicts(md: str) -> dict[str, str]:
    """{variant code: verdict} of a generated comparison table."""
    rows = [r.split("|") for r in md.splitlines() if r.startswith("|")]
    if not rows or rows[0][-2].strip() != "verdict":
        return {}
    # a search's first row is compared with nothing: no verdict to state
    return {m.group(1): r[-2].strip() for r in rows[2:]
            if (m := re.search(r"\(`([^`]+)`\)", r[1])) and r[-2].strip()}


def verdict_contradictions(lesson: str, verdicts: dict[str, str]) -> list[str]:
    """Each variant of `verdicts` must be named (`code`) in a paragraph or
    bullet of `lesson` whose verdicts (": worse", ": no measurable
    difference", ": better") are all the table's; what is not."""
    units = re.split(r"\n\s*\n|\n(?=- )", lesson)
    wrong, told = [], set()
    for unit in units:
        said = set(VERDICT.findall(" ".join(unit.split())))
        for code, verdict in verdicts.items():
            if f"`{code}`" not in unit:
                continue
            if said:
                told.add(code)
            if said - {verdict}:
                wrong.append(f"{code}: the table says {verdict!r}, the text "
                             f"{sorted(said)}")
    wrong += [f"{code}: no verdict in the text" for code in verdicts
              if code not in told]
    return wrong


def test_verdict_check_catches_a_planted_contradiction():
    table = ("| variant | verdict |\n|---|---|\n"
             "| no BatchNorm (`x-nobn`) | worse |\n")
    assert table_verdicts(table) == {"x-nobn": "worse"}
    fine = "Without it (`x-nobn`) every seed ends lower: worse."
    assert not verdict_contradictions(fine, table_verdicts(table))
    for planted in ("Without it (`x-nobn`): no measurable difference.",
                    "Without it (`x-nobn`) it trains: better.",
                    "Without it every seed ends lower: worse."):
        assert verdict_contradictions(planted, table_verdicts(table))


def test_lessons_state_the_verdicts_of_their_tables():
    """Every comparison a lesson includes is stated in its prose with the
    verdict its table computed (the course's rule), so the text cannot
    contradict the record."""
    found = 0
    for page in sorted((ROOT / "docs").glob("i*.md")):
        text = page.read_text()
        for inc in re.findall(r'--8<-- "(docs/generated/[^"]+)"', text):
            verdicts = table_verdicts((ROOT / inc).read_text())
            found += len(verdicts)
            wrong = verdict_contradictions(text, verdicts)
            assert not wrong, f"{page.name} ({inc}): {wrong}"
    assert found >= 9


def test_every_variant_named_on_the_site_is_explained():
    """A variant code in a lesson or a results table (`i4-pad`, a row
    `i3c`) is one the registry declares, so the Results page's list says
    what it changes; a network of benchmarks/nets.py is named as such."""
    from benchmarks.nets import NETS
    from benchmarks.variants import VARIANTS

    pages = [*(ROOT / "docs").glob("*.md"),
             *(ROOT / "docs" / "generated").glob("*.md")]
    named = set()
    for page in pages:
        text = page.read_text()
        named |= set(re.findall(r"`(i\d[a-z0-9-]*)`", text))
        named |= {row.split("|")[1].strip() for row in text.splitlines()
                  if re.match(r"\| i\d[a-z0-9-]* \|", row)}
    unknown = sorted(n for n in named if not re.fullmatch(r"i\d", n)
                     and n not in VARIANTS and n not in NETS)
    assert not unknown, f"variants nobody declares: {unknown}"
    glossary = (ROOT / "docs" / "generated" / "variants.md").read_text()
    assert all(f"`{n}`" in glossary for n in named if n in VARIANTS)


WORDS = {"no": 0, "none": 0, "one": 1, "two": 2, "three": 3, "four": 4,
         "five": 5}


def test_claims_about_seeds_match_their_records():
    """The sentences that once contradicted their records (issue 43),
    recomputed from the records they quote."""
    from tools.evidence import seed_runs

    def span(runs: dict, seeds) -> str:
        accs = [runs[s]["final_test_acc"] for s in seeds]
        return f"{min(accs):.2f} to {max(accs):.2f} %"

    # the old i2 against i1 on six seeds: ranges apart, not overlapping
    # (on Results since the i2 lesson lost its history)
    old = seed_runs("seeds-i2-cpu", "solutions/i2")
    i1 = seed_runs("ablations-i1-cpu", "solutions/i1")
    seeds = sorted(old)[:6]
    results = " ".join((ROOT / "docs" / "results.md").read_text().split())
    assert f"({span(old, seeds)} against {span(i1, seeds)};" in results
    assert max(old[s]["final_test_acc"] for s in seeds) < \
        min(i1[s]["final_test_acc"] for s in seeds)
    # i4: how many of i4-i3layout's seeds ended under the mark
    i4_page = " ".join((ROOT / "docs" / "i4.md").read_text().split())
    said = re.search(r"(\w+) of `i4-i3layout`'s (\w+) seeds ended under the "
                     r"mark", i4_page)
    runs = seed_runs("i4-search-cpu", "i4-i3layout")
    under = sum(r["final_test_acc"] < SPECS["i4"].pass_acc
                for r in runs.values())
    assert said and WORDS[said[1].lower()] == under
    assert WORDS[said[2]] == len(runs)
    # i3: the second row of the search changes three things
    from benchmarks.variants import VARIANTS

    i3_page = " ".join((ROOT / "docs" / "i3.md").read_text().split())
    a, b = VARIANTS["i3a"], VARIANTS["i3b"]
    changed = [k for k in {**a.recipe, **b.recipe}
               if a.recipe.get(k) != b.recipe.get(k)]
    things = len(changed) + (a.net != b.net)  # the transitions' BN and ReLU
    assert f"changes {list(WORDS)[things + 1]} things" in i3_page, changed
    # home: the number of steps
    home = " ".join((ROOT / "docs" / "index.md").read_text().split())
    stretch = sum("stretch" in s.about for s in SPECS.values())
    core = len(SPECS) - stretch
    assert f"in {list(WORDS)[core + 1]} steps and a stretch step" in home
