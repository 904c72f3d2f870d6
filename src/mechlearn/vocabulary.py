"""The log's controlled vocabulary (vocabulary.yml) and the front-matter fields that must use it.

A day says which ARENA section it follows (`arena: "1.1"`) and which technique it applied to which sub-problem:

    uses:
      - {technique: einsum, solves: matrix-multiply}
    categories: [transformers, einsum, matrix-multiply]

`categories` is derived, never free: the topic, then the distinct techniques in `uses` order, then the distinct
sub-problems in `uses` order. So every category on the site is a topic or a vocabulary term with its own page,
and no one-off tag can creep in.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from mechlearn.project import TOPICS, MechlearnError

VOCABULARY_FILE = "vocabulary.yml"
SECTIONS = ("techniques", "subproblems", "arena")
# A term names a page (techniques/<term>.qmd) and a category: lower-case words joined by hyphens.
TERM = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
ARENA_KEY = re.compile(r"^\d+(?:\.\d+)+$")


@dataclass(frozen=True)
class Term:
    title: str
    description: str


@dataclass(frozen=True)
class Section:
    """An ARENA section: its number ("1.1"), title and the URL of its exercises."""

    number: str
    title: str
    url: str


@dataclass(frozen=True)
class Vocabulary:
    techniques: dict[str, Term]
    subproblems: dict[str, Term]
    arena: dict[str, Section]


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's last-one-wins on a repeated key would silently drop a term someone appended twice."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise MechlearnError(f"{VOCABULARY_FILE}: line {key_node.start_mark.line + 1}: {key!r} is listed twice")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_vocabulary(root: Path) -> Vocabulary:
    """Read and validate `vocabulary.yml`; a malformed file is a one-line `MechlearnError` naming what is wrong."""
    path = Path(root) / VOCABULARY_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MechlearnError(f"{VOCABULARY_FILE} is missing at the project root ({root})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise MechlearnError(f"{VOCABULARY_FILE}: cannot be read ({e})") from None
    return parse_vocabulary(text)


def parse_vocabulary(text: str) -> Vocabulary:
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise MechlearnError(f"{VOCABULARY_FILE}: {where}not valid YAML ({getattr(e, 'problem', e)})") from None
    if not isinstance(data, dict):
        raise MechlearnError(f"{VOCABULARY_FILE}: must be a mapping with sections {', '.join(SECTIONS)}")
    for name in data:
        if name not in SECTIONS:
            raise MechlearnError(f"{VOCABULARY_FILE}: unknown section {name!r}{_hint(str(name), SECTIONS)}")
    techniques = _terms(data, "techniques")
    subproblems = _terms(data, "subproblems")
    both = sorted(set(techniques) & set(subproblems))
    if both:
        raise MechlearnError(f"{VOCABULARY_FILE}: {both[0]!r} is both a technique and a sub-problem; rename one")
    for term in (*techniques, *subproblems):
        if term in TOPICS:
            raise MechlearnError(f"{VOCABULARY_FILE}: {term!r} is a topic name; a term must differ from the topics")
    return Vocabulary(techniques, subproblems, _arena(data))


def _terms(data: dict, section: str) -> dict[str, Term]:
    entries = data.get(section)
    if not isinstance(entries, dict) or not entries:
        raise MechlearnError(f"{VOCABULARY_FILE}: section {section!r} must map terms to {{title, description}}")
    terms = {}
    for name, value in entries.items():
        if not (isinstance(name, str) and TERM.match(name)):
            raise MechlearnError(
                f"{VOCABULARY_FILE}: {section}: {name!r} is not a term name (lower-case words joined by hyphens)"
            )
        fields = _fields(value, f"{section}: {name}", ("title", "description"))
        terms[name] = Term(fields["title"], fields["description"])
    return terms


def _arena(data: dict) -> dict[str, Section]:
    entries = data.get("arena")
    if not isinstance(entries, dict) or not entries:
        raise MechlearnError(f"{VOCABULARY_FILE}: section 'arena' must map section numbers to {{title, url}}")
    sections = {}
    for number, value in entries.items():
        if not (isinstance(number, str) and ARENA_KEY.match(number)):
            raise MechlearnError(
                f'{VOCABULARY_FILE}: arena: {number!r} must be a quoted section number such as "1.1" '
                "(unquoted, YAML reads 1.1 as a float)"
            )
        fields = _fields(value, f"arena: {number}", ("title", "url"))
        if not fields["url"].startswith("https://"):
            raise MechlearnError(f"{VOCABULARY_FILE}: arena: {number}: url must start with https://")
        sections[number] = Section(number, fields["title"], fields["url"])
    return sections


def _fields(value, where: str, keys: tuple[str, ...]) -> dict[str, str]:
    if not isinstance(value, dict) or set(value) != set(keys):
        raise MechlearnError(f"{VOCABULARY_FILE}: {where}: must be {{{', '.join(keys)}}}, got {value!r}")
    for key in keys:
        if not (isinstance(value[key], str) and value[key].strip()):
            raise MechlearnError(f"{VOCABULARY_FILE}: {where}: {key} must be a non-empty string")
    return {k: value[k].strip() for k in keys}


def _hint(word: str, known) -> str:
    close = difflib.get_close_matches(word, list(known), n=3, cutoff=0.6)
    return f" (did you mean: {', '.join(close)}?)" if close else ""


def parse_uses(text: str, vocab: Vocabulary) -> list[dict[str, str]]:
    """`einsum:matrix-multiply,hooks:causal-evidence` (as `mechlearn new --uses` takes it) -> the `uses` list."""
    uses = []
    for item in text.split(","):
        technique, sep, solves = (part.strip() for part in item.partition(":"))
        if not sep or not technique or not solves:
            raise MechlearnError(f"--uses: {item.strip()!r} is not technique:subproblem (e.g. einsum:matrix-multiply)")
        uses.append({"technique": technique, "solves": solves})
    problems = uses_problems(uses, vocab)
    if problems:
        raise MechlearnError(f"--uses: {problems[0].removeprefix('front matter: ')}")
    return uses


def expected_categories(topic: str, uses: list[dict[str, str]]) -> list[str]:
    """The topic, then the distinct techniques in `uses` order, then the distinct sub-problems in `uses` order."""
    techniques = dict.fromkeys(u["technique"] for u in uses)
    subproblems = dict.fromkeys(u["solves"] for u in uses)
    return [topic, *techniques, *subproblems]


def front_matter_problems(front: dict, vocab: Vocabulary) -> list[str]:
    """One line per problem with the day's `arena`, `uses` and `categories` (empty when they are right)."""
    problems = (
        arena_problems(front.get("arena"), vocab)
        if "arena" in front
        else [
            f"front matter: missing 'arena' (the ARENA section the day follows: {', '.join(vocab.arena)}; "
            f'"{NO_SECTION}" if it follows none)'
        ]
    )
    if "uses" not in front:
        problems.append("front matter: missing 'uses' (a list of {technique: ..., solves: ...} from vocabulary.yml)")
        return problems
    uses_found = uses_problems(front["uses"], vocab)
    problems += uses_found
    cats = front.get("categories")
    if not uses_found and isinstance(cats, list) and cats and cats[0] in TOPICS:
        expected = expected_categories(cats[0], front["uses"])
        if cats != expected:
            problems.append(
                f"front matter: 'categories' must be [{', '.join(expected)}] (the topic, then the techniques and "
                f"sub-problems of 'uses', in order), got [{', '.join(map(str, cats))}]"
            )
    return problems


NO_SECTION = "none"  # `arena: "none"`: a day that follows no ARENA section (the closing retrospective)


def arena_problems(arena, vocab: Vocabulary) -> list[str]:
    if not isinstance(arena, str):
        return [f"front matter: 'arena' must be a quoted section number such as \"1.1\", got {arena!r}"]
    if arena == NO_SECTION:
        return []
    if arena not in vocab.arena:
        return [f"front matter: arena {arena!r} is not a section in {VOCABULARY_FILE}{_hint(arena, vocab.arena)}"]
    return []


def uses_problems(uses, vocab: Vocabulary) -> list[str]:
    if not (isinstance(uses, list) and uses):
        return ["front matter: 'uses' must be a non-empty list of {technique: ..., solves: ...}"]
    problems = []
    seen = set()
    for i, use in enumerate(uses, start=1):
        where = f"front matter: uses item {i}"
        if not (isinstance(use, dict) and set(use) == {"technique", "solves"}):
            problems.append(f"{where} must be {{technique: ..., solves: ...}}, got {use!r}")
            continue
        for key, kind, known, other in (
            ("technique", "technique", vocab.techniques, vocab.subproblems),
            ("solves", "sub-problem", vocab.subproblems, vocab.techniques),
        ):
            term = use[key]
            if not isinstance(term, str):
                problems.append(f"{where}: {key} must be a term, got {term!r}")
            elif term not in known:
                if term in other:
                    why = f"{term!r} is a {'sub-problem' if kind == 'technique' else 'technique'}, not a {kind}"
                else:
                    why = f"unknown {kind} {term!r}{_hint(term, known)}"
                problems.append(f"{where}: {why}; {kind}s are listed in {VOCABULARY_FILE}")
        pair = (use["technique"], use["solves"])
        if all(isinstance(t, str) for t in pair) and pair in seen:
            problems.append(f"{where}: {pair[0]} -> {pair[1]} is listed twice")
        elif all(isinstance(t, str) for t in pair):
            seen.add(pair)
    return problems
