"""`mechlearn new`: append the next day from the Derive → Implement → Verify → Experiment → Explain template."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import tempfile
import unicodedata
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

from mechlearn.entries import TODO, entry_dirs
from mechlearn.project import TOPICS, TOTAL_DAYS, MechlearnError, umask, write_atomic
from mechlearn.vocabulary import Vocabulary, arena_problems, expected_categories, load_vocabulary, parse_uses

# topic -> the subpackage a day of that topic imports (notes-only topics import nothing of ours)
TOPIC_MODULES = {
    "backprop": "mechlearn.backprop",
    "transformers": "mechlearn.transformers",
    "rl": "mechlearn.rl",
    "interp": "mechlearn.interp",
    "alignment": None,
}


# Latin letters that NFKD does not split into a base letter and an accent.
_LATIN_EXTRA = str.maketrans({"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ð": "d", "ł": "l", "þ": "th"})


def _cut(slug: str, max_len: int) -> str:
    if len(slug) > max_len:  # cut at a word boundary where there is one
        cut = slug[: max_len + 1]
        slug = cut[: cut.rfind("-")] if "-" in cut else slug[:max_len]
    return slug


def slugify(title: str, max_len: int = 48) -> str:
    """The folder-name slug of a title: lower-case words joined by hyphens, at most `max_len` characters.

    Latin letters are transliterated to ASCII, as static-site generators' ASCII slugs do (Django's `slugify`,
    Jekyll's `latin` mode): NFKD splits `ü` into `u` + a combining diaeresis and the accent is dropped, so
    `Über Adam` -> `uber-adam`; `ß`, `æ`, `ø`, … are spelled out. A title with no Latin letter at all (Chinese,
    Japanese, Russian, Greek, …) would leave nothing but digits, so it keeps its own letters instead, as Hugo and
    Jekyll's default mode do: NFKC-normalised (full-width forms become ordinary ones, one spelling per letter)
    and case-folded, e.g. `注意力机制` -> `注意力机制`, `Обратное распространение` -> `обратное-распространение`.
    Browsers show such a path as written and percent-encode it on the wire, so links keep working.
    """
    ascii_text = unicodedata.normalize("NFKD", title.lower().translate(_LATIN_EXTRA))
    ascii_text = ascii_text.encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")
    if not re.search(r"[a-z]", slug):
        words = re.findall(r"[^\W_]+", unicodedata.normalize("NFKC", title).casefold())
        slug = "-".join(words) if any(not w.isdigit() for w in words) else slug
    slug = _cut(slug, max_len)
    if not slug:
        raise MechlearnError(f"title {title!r} has no letters or digits to name the day's folder")
    return slug


def parse_date(text: str | None) -> dt.date:
    if text is None:
        return dt.date.today()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise MechlearnError(f"--date {text!r} is not a date written YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(text)
    except ValueError as e:
        raise MechlearnError(f"--date {text!r} is not a real date ({e})") from None


def parse_arena(text: str | None, vocab: Vocabulary) -> str | None:
    if text is None:
        return None
    problems = arena_problems(text.strip(), vocab)
    if problems:
        raise MechlearnError(f"--arena: {problems[0].removeprefix('front matter: ')}")
    return text.strip()


def _yaml_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def day_notebook(
    title: str, day: int, topic: str, uses: list[dict[str, str]], date: dt.date, arena: str | None = None
) -> nbformat.NotebookNode:
    """The template; `uses`/`arena` left empty are left out of the front matter (`mechlearn check` asks for them)."""
    categories = ", ".join(expected_categories(topic, uses))
    pairs = [f"  - {{technique: {u['technique']}, solves: {u['solves']}}}" for u in uses]
    front = "\n".join(
        [
            "---",
            f"title: {_yaml_str(title)}",
            f"date: {date.isoformat()}",
            f"day: {day}",
            f'description: "{TODO}: one sentence on what this day shows."',
            *([f"arena: {_yaml_str(arena)}"] if arena else []),
            *(["uses:", *pairs] if uses else []),
            f"categories: [{categories}]",
            "---",
        ]
    )
    module = TOPIC_MODULES[topic]
    if module:
        implement = (
            f"# The implementation lives in {module} ({TOPICS[topic]}/): import it, never copy it here.\n"
            f"import {module} as impl"
        )
    else:
        implement = f"# {TOPICS[topic]}/ holds notes only; nothing to import yet.\nimpl = None"
    cells = [
        new_raw_cell(front),
        new_markdown_cell(f"*Day {day} of 100 · {TOPICS[topic]}*\n\n{TODO}: what question this day answers."),
        new_markdown_cell(
            f"## Derive\n\n{TODO}: the derivation, by hand, in LaTeX, e.g. $\\frac{{\\partial L}}{{\\partial x}}$."
        ),
        new_code_cell("import matplotlib.pyplot as plt\nimport numpy as np\n\nrng = np.random.default_rng(0)"),
        new_markdown_cell(f"## Implement\n\n{TODO}: which function implements the derivation, and how."),
        new_code_cell(implement),
        new_markdown_cell(
            "## Verify\n\n"
            f"{TODO}: compare against an independent reference (finite differences in float64, torch.autograd, "
            "torch.optim, TransformerLens, an analytic answer) with the tolerance written down. "
            "The same check belongs in `tests/`."
        ),
        new_code_cell(f"# {TODO}: replace with a real comparison and its tolerance.\nx = rng.normal(size=3)\nx"),
        new_markdown_cell(f"## Experiment\n\n{TODO}: a small seeded experiment, and what to look for in it."),
        new_code_cell(
            f"# {TODO}: the experiment. Save figures beside this notebook so blog posts can reuse them.\n"
            "fig, ax = plt.subplots(figsize=(5, 3))\n"
            "ax.plot(np.cumsum(rng.normal(size=100)))\n"
            f"ax.set_title({title!r})\n"
            'fig.savefig("figure.png", dpi=120, bbox_inches="tight")'
        ),
        new_markdown_cell(f"## Explain\n\n{TODO}: what the result means, what surprised you, what is still open."),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def new_day(
    root: Path,
    title: str,
    topic: str,
    uses: str | None = None,
    date: str | None = None,
    day: int | None = None,
    arena: str | None = None,
) -> Path:
    """Create `daily_logs/day-NNN-<slug>/index.ipynb` and return its path; never overwrites anything."""
    if not title.strip():
        raise MechlearnError("the title is empty")
    if topic not in TOPICS:
        raise MechlearnError(f"unknown topic {topic!r}; choose one of: {', '.join(TOPICS)}")
    when = parse_date(date)
    if uses or arena is not None:  # terms from vocabulary.yml, checked before anything is written
        vocab = load_vocabulary(root)
        pairs, arena = (parse_uses(uses, vocab) if uses else []), parse_arena(arena, vocab)
    else:
        pairs = []
    existing = {int(p.name[4:7]): p for p in entry_dirs(root)}
    if day is None:
        day = max(existing, default=0) + 1
    if not 1 <= day <= TOTAL_DAYS:
        raise MechlearnError(f"day {day} is outside the log's {TOTAL_DAYS} days")
    if day in existing:
        raise MechlearnError(f"day {day} already exists: {existing[day].relative_to(root)}; nothing was written")
    logs = root / "daily_logs"
    folder = logs / f"day-{day:03d}-{slugify(title)}"
    if folder.exists():
        raise MechlearnError(f"{folder.relative_to(root)} already exists; nothing was written")
    nb = day_notebook(title.strip(), day, topic, pairs, when, arena)
    # Build the day in a hidden folder beside its final place and rename it there in one step, so an error or an
    # interruption leaves either the whole day or nothing (Quarto and `entry_dirs` skip the hidden folder).
    try:
        staging = Path(tempfile.mkdtemp(dir=logs, prefix=f".{folder.name}."))
    except OSError as e:
        raise MechlearnError(f"cannot write in {logs.relative_to(root)}/ ({e.strerror}); nothing was written") from None
    try:
        os.chmod(staging, 0o777 & ~umask())
        write_atomic(staging / "index.ipynb", nbformat.writes(nb) + "\n")
        if folder.exists():  # made meanwhile by someone else: rename would replace an empty folder
            raise MechlearnError(f"{folder.relative_to(root)} already exists; nothing was written")
        os.rename(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder / "index.ipynb"
