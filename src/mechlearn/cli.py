"""The `mechlearn` command: the learner's daily habit (new → run → check → status)."""

from __future__ import annotations

import argparse
import signal
import sys
import time

from tqdm.auto import tqdm

from mechlearn.project import TOPICS, MechlearnError, find_root

# nbformat imports jsonschema, which builds a parser for IRIs with `rfc3987_syntax` (pulled in by JupyterLab) at
# import time: about a second added to every command. Notebook schemas validate no IRI formats, so the command
# does without it (jsonschema skips a format checker whose module is missing; JupyterLab's own process is unaffected).
sys.modules.setdefault("rfc3987_syntax", None)

DISTRIBUTION = "arena-mechanistic-learning"


def _refresh_progress(root) -> list:
    """Rewrite the grid after `new`/`run`, saying (one line each, on stderr) which entries it had to leave out."""
    from mechlearn.report import PROGRESS_FILE, entry_name, write_progress

    _, left_out = write_progress(root)
    for e in left_out:
        print(f"{entry_name(root, e)}: left out of {PROGRESS_FILE}: {'; '.join(e.problems)}", file=sys.stderr)
    return left_out


def cmd_new(args) -> int:
    from mechlearn.new import new_day

    root = find_root()
    path = new_day(root, args.title, args.topic, args.uses, args.date, args.day, args.arena)
    print(path.relative_to(root))
    _refresh_progress(root)
    if args.open:
        from mechlearn.lab import open_lab

        return open_lab(root, path)
    print(f"write it in JupyterLab: make lab NOTEBOOK={path.relative_to(root).as_posix()}", file=sys.stderr)
    return 0


def cmd_run(args) -> int:
    from mechlearn.entries import resolve_entries
    from mechlearn.execute import run_entry
    from mechlearn.report import entry_name

    root = find_root()
    entries = resolve_entries(root, args.paths)
    if not entries:
        raise MechlearnError('no entries to run (make one with: mechlearn new "Title" --topic backprop)')
    ran, failed, interrupted = 0, 0, None
    start = time.perf_counter()
    with tqdm(total=len(entries), desc="entries", unit="entry", disable=args.quiet) as bar:
        for entry in entries:
            try:
                if entry.problems:  # an unreadable notebook or bad front matter: `check` would fail it anyway
                    raise MechlearnError(f"{entry_name(root, entry)}: {'; '.join(entry.problems)} (not run)")
                seconds = run_entry(entry.path, progress=not args.quiet)
            except MechlearnError as e:
                failed += 1
                tqdm.write(f"FAILED {e}", file=sys.stderr)
                if not args.keep_going:
                    break
            except KeyboardInterrupt:
                signal.signal(signal.SIGINT, signal.SIG_IGN)  # stopping already: another Ctrl-C must not cut it short
                interrupted = entry
                break
            else:
                ran += 1
                tqdm.write(f"ran {entry_name(root, entry)} in {seconds:.1f}s")
            bar.update(1)
    if interrupted is not None:  # said after the progress bar is closed, so it is the last line
        print(
            f"mechlearn: interrupted: {entry_name(root, interrupted)} and its folder left as they were "
            f"({ran} of {len(entries)} entries had run)",
            file=sys.stderr,
        )
        return 130
    _refresh_progress(root)
    summary = f"{ran} of {len(entries)} entries ran in {time.perf_counter() - start:.1f}s"
    if failed:
        summary += f"; {failed} failed"
    if skipped := len(entries) - ran - failed:
        summary += f"; {skipped} not attempted after the failure (-k runs the rest)"
    print(summary)
    return 1 if failed else 0


def cmd_check(args) -> int:
    from mechlearn.entries import resolve_entries
    from mechlearn.report import check, out_of_date_files, site_problems

    root = find_root()
    findings = check(root, resolve_entries(root, args.paths) if args.paths else None)
    bad = 0
    for f in findings:
        rel = f.entry.path.relative_to(root)
        for p in f.problems:
            print(f"{rel}: {p}")
        for n in f.notes:
            print(f"{rel}: note: {n}")
        bad += bool(f.problems)
    if not args.paths:
        for rel in out_of_date_files(root):
            print(f"{rel}: out of date with the entries (regenerate: mechlearn progress)")
            bad += 1
        for p in site_problems(root):
            print(p)
            bad += 1
    if bad:
        print(f"check failed: {bad} problem(s) in {len(findings)} entries", file=sys.stderr)
        return 1
    print(f"check passed: {len(findings)} entries, stored results current")
    return 0


def cmd_status(args) -> int:
    from mechlearn.report import status_lines

    print("\n".join(status_lines(find_root())))
    return 0


def cmd_progress(args) -> int:
    from mechlearn.report import PROGRESS_FILE, entry_name, write_progress

    root = find_root()
    changed, left_out = write_progress(root)
    for e in left_out:
        print(f"{entry_name(root, e)}: {'; '.join(e.problems)}", file=sys.stderr)
    print(f"{PROGRESS_FILE} {'updated' if changed else 'already current'}")
    if left_out:
        print(
            f"progress: {len(left_out)} entr{'y' if len(left_out) == 1 else 'ies'} could not be read and "
            f"{'is' if len(left_out) == 1 else 'are'} left out of the grid (fix and rerun: mechlearn progress)",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_practice(args) -> int:
    from mechlearn.practice import commands, scoreboard

    root = find_root()
    if args.practice == "list":
        print("\n".join(commands.list_lines(root, args.topic)))
    elif args.practice == "start":
        path = commands.start(root, args.name, force=args.force)
        print(path.relative_to(root))
        print(f"write it, then: mechlearn practice check {args.name}", file=sys.stderr)
    elif args.practice == "check":
        return commands.check(root, args.name, args.file, args.timeout)
    else:
        print("\n".join(scoreboard.status_lines(root)))
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # running from a source tree that was never installed
        from mechlearn import __version__

        return f"{__version__} (not installed)"


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (with where to look), not a usage dump."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mechlearn", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=summary, description=description)

    p = command(
        "new",
        "append the next day from the template",
        "Create daily_logs/day-NNN-<slug>/index.ipynb from the Derive → Implement → Verify → Experiment → Explain "
        "template, dated today, numbered one after the highest day; print its path and refresh the progress grid "
        "(with --open, then open it in JupyterLab). Never overwrites anything.",
    )
    p.add_argument("title", help='the day\'s title, e.g. "Broadcasting and unbroadcast"')
    p.add_argument("--topic", required=True, help="one of: " + ", ".join(TOPICS))
    p.add_argument(
        "--uses",
        help="technique:sub-problem pairs from vocabulary.yml, comma-separated, e.g. einsum:matrix-multiply",
    )
    p.add_argument("--arena", help='the ARENA section the day follows, a key of vocabulary.yml\'s arena, e.g. "1.1"')
    p.add_argument("--date", help="YYYY-MM-DD (default: today)")
    p.add_argument("--day", type=int, help="day number (default: one after the highest existing day)")
    p.add_argument("--open", action="store_true", help="then open it in JupyterLab (as `make lab` starts it)")
    p.set_defaults(func=cmd_new)

    p = command(
        "run",
        "execute entries in a fresh kernel and store their outputs and provenance",
        "Execute each entry top to bottom in a fresh kernel, in a temporary copy of its folder. When every cell "
        "has run, the notebook (outputs, and the hashes of the code it imports) and the files it wrote are "
        "written back; a failing cell or Ctrl-C leaves the entry's folder exactly as it was.",
    )
    p.add_argument("paths", nargs="*", help="entry folders or notebooks (default: all)")
    p.add_argument("-k", "--keep-going", action="store_true", help="run the rest after a failure")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_run)

    p = command(
        "check",
        "fail if any entry's stored results are stale, missing or its front matter bad",
        "Name every entry whose stored outputs no longer match its code or the mechlearn modules it imports, "
        "that has no outputs, or whose front matter is invalid; and check that the progress grid is current. "
        "Exits 1 if anything is wrong.",
    )
    p.add_argument("paths", nargs="*", help="entry folders or notebooks (default: all)")
    p.set_defaults(func=cmd_check)

    p = command(
        "status",
        "days done, streak, last day, stale entries",
        "Summarise the log: days done (a day still holding template placeholders is in progress, not done), "
        "the current streak, the last day, days by topic, and entries whose results are stale or missing.",
    )
    p.set_defaults(func=cmd_status)

    p = command(
        "progress",
        "regenerate the home page's 100-day grid (_progress.md)",
        "Rewrite _progress.md, the 100-day grid on the home page, from the entries' front matter. An entry that "
        "cannot be read is named and left out of the grid, and the command exits 1.",
    )
    p.set_defaults(func=cmd_progress)

    p = command(
        "practice",
        "re-derive the package's functions against the project's checks, with a scoreboard",
        "Practice mode. Every exercise is one function or method of the package (list them with `practice list`). "
        "`practice start NAME` writes a stub (signature, docstring, hints from the day) to practice/NAME.py, a "
        "git-ignored folder outside the package; `practice check NAME` runs the exercise's cases (the "
        "comparisons the project's tests make: finite differences, torch, TransformerLens, hand-worked values) "
        "against your version, substituted for the package's in a fresh Python, and prints how many passed and "
        "the first failing case's inputs, expected and got; `practice status` shows the exercises cleared per "
        "topic. Nothing here changes a tracked file.",
    )
    practice = p.add_subparsers(dest="practice", required=True, metavar="ACTION")
    q = practice.add_parser(
        "list", help="every exercise: day, topic, difficulty, techniques, cleared", description="List the exercises."
    )
    q.add_argument("--topic", help="only this topic: " + ", ".join(TOPICS))
    q = practice.add_parser(
        "start",
        help="write the exercise's stub into practice/NAME.py",
        description="Write practice/NAME.py: the target's imports, signature and docstring, hints from the day and "
        "`raise NotImplementedError`. An existing file is kept unless --force.",
    )
    q.add_argument("name", help="an exercise, e.g. unbroadcast or Tensor.__matmul__ (see: mechlearn practice list)")
    q.add_argument("--force", action="store_true", help="overwrite an existing practice/NAME.py")
    q = practice.add_parser(
        "check",
        help="run the exercise's cases against your version",
        description="Run every case of the exercise with your function in place of the package's, in a "
        "subprocess; print the cases passed and the first failure. Exits 0 only when every case passes "
        "(which clears the exercise on the scoreboard).",
    )
    q.add_argument("name", help="the exercise")
    q.add_argument("--file", help="your implementation (default: practice/NAME.py)")
    q.add_argument("--timeout", type=float, default=300, help="seconds before giving up (default: 300)")
    q = practice.add_parser(
        "status",
        help="the scoreboard: exercises cleared per topic",
        description="Exercises cleared per topic (a dungeon each), from practice/.scoreboard.json (git-ignored).",
    )
    for q in practice.choices.values():
        q.set_defaults(func=cmd_practice)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except MechlearnError as e:
        print(f"mechlearn: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print("mechlearn: interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # a folder that cannot be written, a disk that is full: say so, without a traceback
        where = f": {e.filename}" if e.filename else ""
        print(f"mechlearn: error: {e.strerror or e}{where}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
