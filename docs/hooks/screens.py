"""mkdocs hook: every picture and table of a lesson reads on any screen.

- Pictures: the course draws them at twice their size (tinycnn/figure.py).
  Each <img> of docs/assets/ gets width and height attributes of half its
  pixels and a box of its own (class "figure") that scrolls sideways when
  a phone's column is narrower than the picture, rather than shrinking its
  text below what a reader can read.
- Tables: each cell gets its column's header as `data-label`; on a narrow
  screen (docs/stylesheets/lessons.css) a row becomes a card of
  "header: value" lines, so no column (the verdict, last) is off-screen.
"""

from __future__ import annotations

import html
import re
import struct
from pathlib import Path

IMG = re.compile(r'<img ([^>]*?)src="((?:\.\./)*assets/([\w.-]+\.png))"([^>]*)>')
SCALE = 2  # tinycnn.figure.SCALE: the hook runs in mkdocs, which need not
#            import the course's package (a bare `pip install mkdocs`)
TABLE = re.compile(r"<table>(.*?)</table>", re.S)
ROW = re.compile(r"<tr>(.*?)</tr>", re.S)
TAG = re.compile(r"<[^>]+>")


def size(path: Path) -> tuple[int, int] | None:
    """A PNG's width and height, from its header; None if it is not one."""
    try:
        head = path.read_bytes()[:24]
    except OSError:
        return None
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


def pictures(text: str, docs: Path) -> str:
    def show(m: re.Match) -> str:
        before, src, name, after = m.groups()
        got = size(docs / "assets" / name)
        if got is None or "width=" in before + after:
            return m.group(0)
        w, h = (v // SCALE for v in got)
        return (f'<span class="figure"><img {before}src="{src}" width="{w}" '
                f'height="{h}"{after}></span>')

    return IMG.sub(show, text)


def tables(text: str) -> str:
    def label(m: re.Match) -> str:
        body = m.group(1)
        heads = [html.escape(html.unescape(TAG.sub("", h)).strip(), quote=True)
                 for h in re.findall(r"<th[^>]*>(.*?)</th>", body, re.S)]
        if not heads:
            return m.group(0)

        def cells(row: re.Match) -> str:
            k = iter(heads)
            return "<tr>" + re.sub(
                r"<td(?=[ >])", lambda _: f'<td data-label="{next(k, "")}"',
                row.group(1)) + "</tr>"

        return "<table>" + ROW.sub(cells, body) + "</table>"

    return TABLE.sub(label, text)


def on_page_content(html_text: str, page, config, files, **_) -> str:
    return tables(pictures(html_text, Path(config["docs_dir"])))
