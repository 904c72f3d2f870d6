"""The `mechlearn` command: the learner's daily habit (new → run → check → status)."""

from __future__ import annotations

import argparse
import sys
import time

from tqdm.auto import tqdm

from mechlearn.project import TOPICS, MechlearnError, find_root


def cmd_new(args) -> int:
    from mechlearn.new import new_day
    from mechlearn.report import write_progress

    root = find_root()
    path = new_day(root, args.title, args.topic, args.techniques, args.date, args.day)
    write_progress(root)
    print(path.relative_to(root))
    return 0


def cmd_run(args) -> int:
    from mechlearn.entries import resolve_entries
    from mechlearn.execute import run_entry
    from mechlearn.report import write_progress

    root = find_root()
    entries = resolve_entries(root, args.paths)
    if not entries:
        raise MechlearnError('no entries to run (make one with: mechlearn new "Title" --topic backprop)')
    failures = []
    start = time.perf_counter()
    for entry in tqdm(entries, desc="entries", unit="entry", disable=args.quiet):
        try:
            seconds = run_entry(entry.path, progress=not args.quiet)
            tqdm.write(f"ran {entry.path.relative_to(root)} in {seconds:.1f}s")
        except MechlearnError as e:
            failures.append(e)
            tqdm.write(f"FAILED {e}", file=sys.stderr)
            if not args.keep_going:
                break
    write_progress(root)
    print(f"{len(entries) - len(failures)} of {len(entries)} entries ran in {time.perf_counter() - start:.1f}s")
    return 1 if failures else 0


def cmd_check(args) -> int:
    from mechlearn.entries import resolve_entries
    from mechlearn.report import PROGRESS_FILE, check, progress_is_current

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
    if not args.paths and not progress_is_current(root):
        print(f"{PROGRESS_FILE}: out of date with the entries (regenerate: mechlearn progress)")
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
    from mechlearn.report import PROGRESS_FILE, write_progress

    changed = write_progress(find_root())
    print(f"{PROGRESS_FILE} {'updated' if changed else 'already current'}")
    return 0


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (with where to look), not a usage dump."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mechlearn", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("new", help="append the next day from the template")
    p.add_argument("title", help='the day\'s title, e.g. "Broadcasting and unbroadcast"')
    p.add_argument("--topic", required=True, help="one of: " + ", ".join(TOPICS))
    p.add_argument("--techniques", help="comma-separated techniques, e.g. einsum,broadcasting")
    p.add_argument("--date", help="YYYY-MM-DD (default: today)")
    p.add_argument("--day", type=int, help="day number (default: one after the highest existing day)")
    p.set_defaults(func=cmd_new)

    p = sub.add_parser("run", help="execute entries in place in a fresh kernel and record what they import")
    p.add_argument("paths", nargs="*", help="entry folders or notebooks (default: all)")
    p.add_argument("-k", "--keep-going", action="store_true", help="run the rest after a failure")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("check", help="fail if any entry's stored results are stale, missing or its front matter bad")
    p.add_argument("paths", nargs="*", help="entry folders or notebooks (default: all)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("status", help="days done, streak, last day, stale entries")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("progress", help="regenerate the home page's 100-day grid (_progress.md)")
    p.set_defaults(func=cmd_progress)
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
        print("mechlearn: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
