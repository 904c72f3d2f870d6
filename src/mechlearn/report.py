"""`mechlearn check`, `status` and `progress`: what the log holds, and whether its stored results can be trusted."""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from pathlib import Path

from mechlearn.artefacts import stale_artefacts
from mechlearn.entries import Entry, all_entries, read_notebook, unparsable_cell
from mechlearn.index_pages import index_pages, stray_pages
from mechlearn.project import TOPICS, TOTAL_DAYS, MechlearnError, write_atomic
from mechlearn.provenance import stale_reasons
from mechlearn.site import stale_files, write_generated
from mechlearn.variables import results_problems, unknown_quotes
from mechlearn.vocabulary import Vocabulary, front_matter_problems, load_vocabulary

PROGRESS_FILE = "_progress.md"


@dataclass
class Finding:
    entry: Entry
    problems: list[str]  # each one makes `check` fail
    notes: list[str]  # worth saying, not failing


def inspect(entry: Entry, vocab: Vocabulary | None = None) -> Finding:
    problems = list(entry.problems)
    if not entry.problems:  # front matter readable: its arena/uses/categories must use the vocabulary
        problems += front_matter_problems(entry.front, vocab or load_vocabulary(entry.path.parents[2]))
    notes: list[str] = []
    try:
        nb = read_notebook(entry.path) if entry.path.is_file() else None
    except MechlearnError:  # already among entry.problems: all_entries read the same file
        nb = None
    if nb is not None:
        code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
        if code and not any(c.get("outputs") for c in code):
            problems.append("has no outputs (run it: mechlearn run)")
        elif bad_cell := unparsable_cell(nb):
            problems.append(f"cannot be read for imports: {bad_cell}")
        else:
            stale = [f"stale: {r}" for r in stale_reasons(nb)]
            stale += [f"stale: {name} was made by code that has changed" for name in stale_artefacts(entry.path.parent)]
            if stale:  # one command stores a run's outputs, whatever made them stale
                stale[-1] += f" (rerun: mechlearn run daily_logs/{entry.path.parent.name})"
            problems += stale
            problems += results_problems(entry.path.parent, nb)
        if entry.unfinished:
            notes.append("still holds template placeholders (not counted as done)")
    return Finding(entry, problems, notes)


def check(root: Path, entries: list[Entry] | None = None) -> list[Finding]:
    vocab = load_vocabulary(root)
    return [inspect(e, vocab) for e in (all_entries(root) if entries is None else entries)]


def streak(dates: list[dt.date], today: dt.date) -> int:
    """Consecutive calendar days with at least one entry, ending today (or yesterday: today isn't over yet)."""
    have = set(dates)
    day = today if today in have else today - dt.timedelta(days=1)
    count = 0
    while day in have:
        count += 1
        day -= dt.timedelta(days=1)
    return count


def status_lines(root: Path, today: dt.date | None = None) -> list[str]:
    findings = check(root)
    entries = [f.entry for f in findings if f.entry.done]
    today = today or dt.date.today()
    lines = [f"Days done: {len(entries)}/{TOTAL_DAYS}"]
    unfinished = [f.entry for f in findings if f.entry.unfinished and not f.entry.problems]
    if unfinished:
        days = ", ".join(str(e.day) for e in unfinished)
        lines.append(f"In progress (template placeholders left, not counted as done): day {days}")
    lines.append(f"Current streak: {streak([e.date for e in entries if e.date], today)} day(s)")
    if entries:
        last = entries[-1]
        title = last.front.get("title", "(no title)")
        lines.append(f"Last day: {last.day} · {title} ({last.front.get('date', 'no date')})")
    else:
        lines.append('Last day: none yet (start with: mechlearn new "Title" --topic backprop)')
    by_topic = {t: sum(e.topic == t for e in entries) for t in TOPICS}
    lines.append("By topic: " + ", ".join(f"{t} {n}" for t, n in by_topic.items()))
    bad = [f for f in findings if f.problems]
    if bad:
        lines.append(f"Stale or missing results ({len(bad)}):")
        lines += [f"  {entry_name(root, f.entry)}: {'; '.join(f.problems)}" for f in bad]
    else:
        lines.append("Stale or missing results: none")
    return lines


TOPIC_COLOURS = {  # colour-blind-safe (Okabe–Ito)
    "backprop": "#0072B2",
    "transformers": "#E69F00",
    "rl": "#009E73",
    "interp": "#CC79A7",
    "alignment": "#56B4E9",
}


def entry_name(root: Path, entry: Entry) -> str:
    """The entry's notebook as the learner finds it in the repository: `daily_logs/day-NNN-slug/index.ipynb`."""
    try:
        return str(entry.path.relative_to(root))
    except ValueError:
        return str(entry.path)


def progress_markdown(root: Path, entries: list[Entry] | None = None) -> str:
    """The home page's 100-day grid, as a raw-HTML block Quarto includes (`{{< include _progress.md >}}`).

    A day is coloured when it is done (`Entry.done`): written past the template, with valid front matter.
    """
    entries = {e.day: e for e in (all_entries(root) if entries is None else entries) if e.done}
    cells = []
    for day in range(1, TOTAL_DAYS + 1):
        e = entries.get(day)
        if e is None:
            cells.append(f'<span class="ml-day ml-todo" title="Day {day}: not yet">{day}</span>')
            continue
        title = html.escape(f"Day {day}: {e.front['title']} ({e.topic})", quote=True)
        href = f"daily_logs/{e.path.parent.name}/index.html"
        colour = TOPIC_COLOURS[e.topic]
        cells.append(f'<a class="ml-day ml-done" href="{href}" title="{title}" style="background:{colour}">{day}</a>')
    legend = " ".join(f'<span class="ml-key" style="background:{c}"></span>{t}' for t, c in TOPIC_COLOURS.items())
    return (
        "<!-- generated by `mechlearn progress` from the entries' front matter; do not edit -->\n"
        "```{=html}\n"
        f'<div class="ml-progress" aria-label="{len(entries)} of {TOTAL_DAYS} days done">\n'
        + "\n".join(cells)
        + f'\n</div>\n<p class="ml-legend">{len(entries)}/{TOTAL_DAYS} days · {legend}</p>\n'
        "```\n"
    )


def write_progress(root: Path) -> tuple[bool, list[Entry]]:
    """Write the grid (atomically: the old file or the whole new one); returns whether the file changed, and the
    entries left out of it because they cannot be read (bad front matter, unreadable notebook)."""
    entries = all_entries(root)
    written = write_generated(root, entries)  # the site's other generated files (mechlearn.site) go with the grid
    path = root / PROGRESS_FILE
    text = progress_markdown(root, entries)
    left_out = [e for e in entries if e.problems]
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return bool(written), left_out
    try:
        write_atomic(path, text)
    except OSError as e:
        raise MechlearnError(f"cannot write {PROGRESS_FILE} ({e.strerror}); it was left as it was") from None
    return True, left_out


def out_of_date_files(root: Path) -> list[str]:
    """The generated files (the grid, then mechlearn.site's) that differ from what the entries make now."""
    entries = all_entries(root)
    path = root / PROGRESS_FILE
    grid_ok = path.is_file() and path.read_text(encoding="utf-8") == progress_markdown(root, entries)
    return ([] if grid_ok else [PROGRESS_FILE]) + stale_files(root, entries)


def site_problems(root: Path) -> list[str]:
    """What is wrong with the site beyond single entries: quoted numbers that no day recorded, and index pages that
    no vocabulary term makes any more."""
    strays = stray_pages(root, index_pages(root))
    return unknown_quotes(root) + [
        f"{p}: no term in vocabulary.yml makes this page any more (delete it)" for p in strays
    ]


def progress_is_current(root: Path) -> bool:
    path = root / PROGRESS_FILE
    entries = all_entries(root)
    return (
        path.is_file()
        and path.read_text(encoding="utf-8") == progress_markdown(root, entries)
        and not stale_files(root, entries)
    )
