"""`python -m tinycnn COMMAND`: the learner's loop and the housekeeping.

    status      every step: not started, in progress, structure, trained,
                passed; and the one next thing to do
    watch [iN]  re-run iN's structure checks on every save (--manual: on
                Enter); never trains
    hint iN [CHECK]   the next hint for CHECK (default: the first failing;
                "design": for designing the network, from i1 on)
    reset iN    back up your files and restore the skeleton (--undo)
    solution iN diff from your files to the reference, once iN passed
    map iN      where your newest run of iN sits among the recorded
                designs (parameters against accuracy), as a picture

    compare A B train two step folders on the same seeds (--seeds 5) and
                judge B against A by the lessons' rule

    data        make sure MNIST is on disk (verified), from any source
    summary D   the layer table of the Net in step folder D (--plot PNG:
                also as a picture)

    class DIR   (instructors) every results.json below DIR as one table
                (--csv FILE) and on the map (--map DIR)

Authoring (steps/, checks/, the lessons' generated parts) is in tools/:
`python -m tools derive`, `python -m tools docs`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["class"]:  # the instructors' command: its own options
        from tinycnn.grader import classview

        return classview.main(argv[1:])
    p = argparse.ArgumentParser(prog="python -m tinycnn", epilog=(
        "instructors: `python -m tinycnn class FOLDER` (--help) turns a "
        "folder of results.json files into a class table and map"))
    sub = p.add_subparsers(dest="cmd", required=True)
    st = sub.add_parser("status", help="where you are, and what next")
    w = sub.add_parser("watch", help="structure checks on every save")
    w.add_argument("step", nargs="?", help="default: the first not passed")
    w.add_argument("--manual", action="store_true",
                   help="check when Enter is pressed, not on save")
    h = sub.add_parser("hint", help="the next hint, one tier at a time")
    h.add_argument("step")
    h.add_argument("check", nargs="?", help="default: the first failing; "
                   "design: hints for designing the network")
    h.add_argument("--all", action="store_true", help="every tier at once")
    r = sub.add_parser("reset", help="restore the skeleton (backs up first)")
    r.add_argument("step")
    r.add_argument("--undo", action="store_true",
                   help="bring back the files of the newest reset")
    so = sub.add_parser("solution", help="your files vs the reference")
    so.add_argument("step")
    so.add_argument("--anyway", action="store_true",
                    help="show it before the step has passed")
    m = sub.add_parser("map", help="where your run sits among the "
                       "recorded designs of a step")
    m.add_argument("step")
    m.add_argument("--out", type=Path, metavar="PNG",
                   help="the picture (default: runs/steps/iN/map.png)")
    c = sub.add_parser("compare", help="train two step folders on the "
                       "same seeds and judge the change as the lessons do")
    c.add_argument("a", type=Path, help="the baseline: a step folder (steps/iN)")
    c.add_argument("b", type=Path, help="the changed copy of it (try/iN)")
    c.add_argument("--seeds", type=int, default=5,
                   help="how many seeds, 1 to N (default 5: the lessons' "
                   "least)")
    c.add_argument("--first-seed", type=int, default=1)
    c.add_argument("--device", help="cuda, mps or cpu (default: best here)")
    for q in (st, w, h, r, so, m):
        q.add_argument("--impl", default="steps", help=argparse.SUPPRESS)
    d = sub.add_parser("data", help="fetch and verify MNIST")
    d.add_argument("--root", help="data folder "
                   "(default: $TINYCNN_DATA, else data/ in the repo)")
    s = sub.add_parser("summary", help="layer table of a step's Net")
    s.add_argument("folder", type=Path)
    s.add_argument("--markdown", action="store_true")
    s.add_argument("--worksheet", type=Path, metavar="MD",
                   help="your hand-made table (layer | C_in | C_out | H×W | "
                   "parameters | receptive field): checked against the "
                   "network, or written empty when the file does not exist")
    s.add_argument("--plot", type=Path, metavar="PNG",
                   help="also draw parameters, shapes and receptive field "
                   "per layer into this picture")
    args = p.parse_args(argv)

    if args.cmd in ("status", "watch", "hint", "reset", "solution", "map"):
        return _loop(args)
    if args.cmd == "data":
        from tinycnn.train.data import DataError, ensure_mnist, md5

        try:
            raw = ensure_mnist(args.root)
        except DataError as e:
            print(e, file=sys.stderr)
            return 1
        from tinycnn.train.data import FILES

        for name in FILES:  # only ours: other files and folders are not
            print(f"{md5(raw / name)}  {raw / name}")
    elif args.cmd == "summary":
        return _summary(args)
    elif args.cmd == "compare":
        from tinycnn.learner import compare
        from tinycnn.train.device import pick_device

        if not 1 <= args.seeds <= 100:
            print("--seeds: from 1 to 100", file=sys.stderr)
            return 2
        try:
            device = pick_device(args.device)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        seeds = list(range(args.first_seed, args.first_seed + args.seeds))
        return compare.main(args.a, args.b, seeds, device)
    return 0


def _summary(args: argparse.Namespace) -> int:
    """The table from the traced graph, the learner's layer_shapes()
    beside it with the grader's verdict on it, and the budget left."""
    from tinycnn import course, figure
    from tinycnn.grader import shape_table
    from tinycnn.learner import summary as sm
    from tinycnn.learner.workspace import load_step

    try:
        module = load_step(args.folder).model
        graphs = sm.export(module.Net())
    except sm.TraceError as e:
        print(f"torch.export cannot trace forward, and the grader traces it "
              f"the same way: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # the learner's file: anything can happen
        todo = isinstance(e, NotImplementedError)
        print(f"{'not implemented yet' if todo else type(e).__name__}: {e}",
              file=sys.stderr)
        return 1
    rows = sm.rows_of(graphs)
    try:
        declared = [(str(k), tuple(v)) for k, v in module.layer_shapes().items()]
    except Exception as e:
        declared, why = None, f"{type(e).__name__}: {e}"
    if args.markdown:
        print(sm.markdown(rows))
    else:
        extra, lost = sm.beside(rows, declared or [])
        print(sm.text(rows, extra if declared else None))
        if declared is None:
            print(f"your layer_shapes(): not readable yet ({why})")
        else:
            verdict = shape_table.judge(declared, graphs["eval"])
            print("your layer_shapes(): " + (
                "right, as the grader reads it" if verdict.ok
                else f"the grader would say: {verdict.message}"))
            for entry in lost:
                print(f"  fits no row above: {entry}")
    spec = course.STEPS.get(args.folder.resolve().name)
    total = sum(r.params for r in rows)
    if spec is not None:
        left = spec.max_params - total
        print(f"budget of {spec.step}: at most {spec.max_params:,}; "
              + (f"{left:,} left" if left >= 0 else f"{-left:,} over"))
    if args.worksheet:
        return _worksheet(args.worksheet, rows)
    if args.plot:
        fig = sm.plot(rows, args.folder.name,
                      spec.max_params if spec else None)
        try:  # at 2x, as the lessons' pictures (tinycnn/figure.py)
            Path(args.plot).write_bytes(figure.png(fig))
        except OSError as e:
            print(f"could not write {args.plot}: {e}", file=sys.stderr)
            return 1
        print(f"picture: {args.plot}")
    return 0


def _worksheet(path: Path, rows) -> int:
    from tinycnn.learner import worksheet

    if not path.exists():
        try:
            path.write_text(worksheet.blank(rows), encoding="utf-8")
        except OSError as e:
            print(f"could not write {path}: {e}", file=sys.stderr)
            return 1
        print(f"worksheet: {path}, one empty row per layer; fill it in by "
              "hand, then run the same command to check it")
        return 0
    try:
        said = worksheet.check(path.read_text(encoding="utf-8"), rows)
    except (OSError, UnicodeDecodeError) as e:
        print(f"could not read {path}: {e}", file=sys.stderr)
        return 1
    for line in said:
        print(line)
    if not said:
        print(f"worksheet {path}: every filled cell matches the network")
    return 1 if said else 0


def _loop(args: argparse.Namespace) -> int:
    from tinycnn.course import STEPS
    from tinycnn.learner import commands
    from tinycnn.learner.workspace import folder_of

    if args.cmd == "status":
        from tinycnn.learner import progress  # (the grader: PyTorch)

        progress.status(args.impl)
    elif args.cmd == "watch":
        from tinycnn.learner import progress

        step = args.step or next(
            (s for s in STEPS
             if not progress.passed(folder_of(s, args.impl))),
            next(iter(STEPS)))
        commands.watch(step, args.impl, args.manual)
    elif args.cmd == "hint":
        commands.hint(args.step, args.check, args.all, args.impl)
    elif args.cmd == "reset":
        commands.reset(args.step, args.undo, args.impl)
    elif args.cmd == "solution":
        return 0 if commands.solution(args.step, args.anyway, args.impl) else 1
    elif args.cmd == "map":
        if args.step not in STEPS:
            print(f"no step {args.step}: steps are {', '.join(STEPS)}",
                  file=sys.stderr)
            return 2
        return 0 if commands.show_map(args.step, args.impl, args.out) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
