"""Every picture the course draws, as PNG bytes a screen can read.

A figure is saved at twice its design size (180 dpi) and shown at half
its pixels: the lessons' build gives each picture of docs/assets/ the CSS
width of half its pixels (docs/hooks/screens.py), so it is sharp on a 2x screen
and keeps its design size on any other. The PNG notes its smallest text
in pixels (the `MinTextPx` chunk), which the browser test turns into the
size a reader sees: at least 11 CSS px, on a laptop and on a phone.
"""

from __future__ import annotations

import io
import sys

SCALE = 2         # pixels per CSS pixel: a picture is shown at half its size
DPI = 90 * SCALE  # matplotlib's 1 inch is 90 CSS px on the page
MIN_TEXT_PX = 11  # the smallest text a reader should meet, in CSS px
CHUNK = "MinTextPx"  # the PNG text chunk that holds the smallest text


def smallest_text(fig) -> float | None:
    """The smallest font size (points) of any text `fig` shows: titles,
    labels, tick labels, legends and annotations; None when it has none."""
    from matplotlib.text import Text

    sizes = [t.get_fontsize() for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip()]
    return min(sizes) if sizes else None


def png(fig) -> bytes:
    """`fig` as PNG bytes at DPI, without a timestamp (so files compare),
    noting its smallest text in pixels; the figure is closed."""
    # a figure laid out by hand (axes placed, not on a grid) keeps it
    if fig.get_layout_engine() is None and all(
            ax.get_subplotspec() for ax in fig.axes):
        fig.tight_layout()
    fig.draw_without_rendering()  # tick labels exist once laid out
    small = smallest_text(fig)
    meta = {"Software": None}
    if small is not None:
        meta[CHUNK] = f"{small * DPI / 72:.1f}"
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata=meta)
    if "matplotlib.pyplot" in sys.modules:  # a Figure made without pyplot
        sys.modules["matplotlib.pyplot"].close(fig)  # has nothing to close
    return buf.getvalue()


def min_text_px(data: bytes) -> float | None:
    """The smallest text of a PNG png() wrote, in its own pixels (None
    when it has no note: a picture not drawn by png())."""
    from PIL import Image

    value = Image.open(io.BytesIO(data)).text.get(CHUNK)
    return float(value) if value else None
