"""`python -m tools derive|docs|check|student-edition DIR [--gradescope ZIP
--step STEP]`: see tools/__init__.py."""

from __future__ import annotations

import sys

from tinycnn.paths import ROOT


def main(argv: list[str]) -> int:
    if argv[:1] == ["derive"]:
        from tools.derive import write

        for path in write(ROOT):
            print(path.relative_to(ROOT))
    elif argv[:1] == ["student-edition"] and (
            len(argv) == 2 or len(argv) == 6 and argv[2] == "--gradescope"
            and argv[4] == "--step"):
        from pathlib import Path

        from tools.edition import build, check_step, gradescope_zip

        try:  # before the edition is made
            if argv[5:]:
                check_step(argv[5])
        except ValueError as e:
            print(f"--step: {e}", file=sys.stderr)
            return 2
        files = build(Path(argv[1]))
        print(f"{len(files)} files in {argv[1]}: the students' repository")
        if argv[2:]:
            gradescope_zip(Path(argv[1]), Path(argv[3]), argv[5])
            print(f"{argv[3]}: Gradescope's autograder zip, grading "
                  f"{argv[5]}")
    elif argv[:1] == ["check"]:
        from tools.check import main as check

        return check()
    elif argv[:1] == ["docs"]:
        from tools.docs import write

        for rel in write():
            print(f"docs/{rel}")
    else:
        print(__doc__.replace("see tools/__init__.py.", ""), file=sys.stderr)
        print(sys.modules["tools"].__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
