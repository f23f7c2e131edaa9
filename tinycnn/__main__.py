"""`python -m tinycnn COMMAND`: the course's housekeeping commands.

    data        make sure MNIST is on disk (verified), from any source
    summary D   the layer table of the Net in step folder D
    skeletons   regenerate steps/ from solutions/
    docs        regenerate the lessons' tables and images from records
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tinycnn.paths import ROOT


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tinycnn")
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("data", help="fetch and verify MNIST")
    d.add_argument("--root", help="data folder "
                   "(default: $TINYCNN_DATA, else data/ in the repo)")
    s = sub.add_parser("summary", help="layer table of a step's Net")
    s.add_argument("folder", type=Path)
    s.add_argument("--markdown", action="store_true")
    sub.add_parser("skeletons", help="regenerate steps/ from solutions/")
    sub.add_parser("docs", help="regenerate docs/generated and docs/assets")
    args = p.parse_args(argv)

    if args.cmd == "data":
        from tinycnn.data import DataError, ensure_mnist, md5

        try:
            raw = ensure_mnist(args.root)
        except DataError as e:
            print(e, file=sys.stderr)
            return 1
        from tinycnn.data import FILES

        for name in FILES:  # only ours: other files and folders are not
            print(f"{md5(raw / name)}  {raw / name}")
    elif args.cmd == "summary":
        from tinycnn.step import load_step
        from tinycnn.summary import markdown, summarize, text

        rows = summarize(load_step(args.folder).model.Net())
        print(markdown(rows) if args.markdown else text(rows))
    elif args.cmd == "skeletons":
        from tinycnn.skeleton import write

        for path in write(ROOT / "solutions", ROOT / "steps"):
            print(path.relative_to(ROOT))
    elif args.cmd == "docs":
        from tinycnn.docs import write as write_docs

        for rel in write_docs():
            print(f"docs/{rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
