"""The bibliography: every .bib file in references/ parses, keys are unique across files, every entry says where to
find the work (url or doi), and every citation a page makes (`[@key]`, `@key`) names an entry that exists."""

import re
from pathlib import Path

import nbformat
import pytest

from mechlearn.variables import page_files

REPO = Path(__file__).resolve().parents[2]
BIBS = sorted((REPO / "references").glob("*.bib"))

ENTRY_START = re.compile(r"@(\w+)\s*\{\s*([^,\s]+)\s*,", re.ASCII)
FIELD = re.compile(r"\s*([A-Za-z][\w-]*)\s*=\s*", re.ASCII)
# Quarto cross-reference prefixes: `@fig-attention` is a figure, not a work.
CROSSREF = re.compile(r"^(fig|tbl|sec|eq|lst|thm|lem|cor|prp|cnj|def|exm|exr|sol|rem|alg)-")
# A citation: `@key` not glued to a word (emails, `a@b`), a backslash (`\@`) or another `@`; keys as pandoc reads
# them, with inner punctuation allowed but not at the end (`@vaswani2017attention.` cites vaswani2017attention).
CITATION = re.compile(r"(?<![\w@\\])@([A-Za-z0-9_](?:[\w:.#$%&+?<>~/-]*\w)?)")
CODE = re.compile(r"```.*?```|~~~.*?~~~|`[^`\n]*`", re.DOTALL)
URL = re.compile(r"<[^>\s]+>|\]\([^)]*\)|https?://\S+")


def _braced(text: str, start: int) -> tuple[str, int]:
    """The text inside the brace that opens at `start` (nested braces kept), and the index just after it."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start + 1 : i], i + 1
    raise ValueError(f"unclosed brace opened at character {start}")


def parse_bib(text: str) -> dict[str, dict[str, str]]:
    """{key: {field: value}} of a BibTeX file; `%` lines are comments. Raises ValueError on anything malformed."""
    text = "\n".join("" if line.lstrip().startswith("%") else line for line in text.splitlines())
    entries: dict[str, dict[str, str]] = {}
    pos = 0
    while (at := text.find("@", pos)) != -1:
        if text[pos:at].strip():
            raise ValueError(f"stray text before an entry: {text[pos:at].strip()[:40]!r}")
        m = ENTRY_START.match(text, at)
        if not m:
            raise ValueError(f"not an entry start: {text[at : at + 40]!r}")
        body, pos = _braced(text, text.index("{", at))
        key = m[2]
        if key in entries:
            raise ValueError(f"key {key!r} appears twice")
        entries[key] = _fields(body[body.index(",") + 1 :], key)
    if text[pos:].strip():
        raise ValueError(f"stray text after the last entry: {text[pos:].strip()[:40]!r}")
    return entries


def _fields(body: str, key: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    pos = 0
    while body[pos:].strip():
        m = FIELD.match(body, pos)
        if not m:
            raise ValueError(f"{key}: cannot read a field at {body[pos : pos + 40]!r}")
        name, pos = m[1].lower(), m.end()
        if body[pos] == "{":
            value, pos = _braced(body, pos)
        elif body[pos] == '"':
            end = body.index('"', pos + 1)
            value, pos = body[pos + 1 : end], end + 1
        else:
            value = re.match(r"\w+", body[pos:])[0]
            pos += len(value)
        if name in fields:
            raise ValueError(f"{key}: field {name!r} given twice")
        fields[name] = value.strip()
        rest = body[pos:].lstrip()
        if rest and not rest.startswith(","):
            raise ValueError(f"{key}: missing ',' after field {name!r}")
        pos = len(body) - len(rest) + (1 if rest else 0)
    return fields


def all_entries() -> dict[str, tuple[str, dict[str, str]]]:
    """{key: (file name, fields)} over every .bib file."""
    found: dict[str, tuple[str, dict[str, str]]] = {}
    for bib in BIBS:
        for key, fields in parse_bib(bib.read_text(encoding="utf-8")).items():
            assert key not in found, f"key {key!r} is in both {found[key][0]} and {bib.name}: keys must be unique"
            found[key] = (bib.name, fields)
    return found


def citations(markdown: str) -> set[str]:
    """The keys a Markdown text cites (code, links and URLs excluded; cross-references are not citations)."""
    text = URL.sub(" ", CODE.sub(" ", markdown))
    return {k for k in CITATION.findall(text) if not CROSSREF.match(k)}


def page_markdown(path: Path) -> str:
    if path.suffix == ".ipynb":
        return "\n".join(c.source for c in nbformat.read(path, 4).cells if c.cell_type == "markdown")
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("bib", BIBS, ids=lambda p: p.name)
def test_each_bib_file_parses(bib):
    assert parse_bib(bib.read_text(encoding="utf-8")), f"{bib.name} holds no entries"


def test_keys_are_unique_across_files_and_each_entry_says_where_to_find_the_work():
    for key, (name, fields) in all_entries().items():
        assert "title" in fields, f"{name}: {key} has no title"
        assert "url" in fields or "doi" in fields, f"{name}: {key} needs a url or a doi"


def test_every_citation_on_a_page_names_an_entry():
    known = set(all_entries())
    missing = [
        f"{path.relative_to(REPO)} cites @{key}"
        for path in page_files(REPO)
        for key in sorted(citations(page_markdown(path)))
        if key not in known
    ]
    assert not missing, "citations with no entry in references/*.bib:\n" + "\n".join(missing)


# --- the checks themselves catch what they are for -------------------------------------------------------------


def test_the_parser_reads_nested_braces_quotes_and_numbers():
    bib = '% comment @ignored\n@article{a1, title = {The {GPT} model}, year = 2019, url = "https://x.org/a"}\n'
    assert parse_bib(bib) == {"a1": {"title": "The {GPT} model", "year": "2019", "url": "https://x.org/a"}}


@pytest.mark.parametrize(
    "bib, message",
    [
        ("@misc{a, title = {x}, url = {y}}\n@misc{a, title = {z}, url = {w}}", "key 'a' appears twice"),
        ("@misc{a, title = {x}, url = {y}", "unclosed brace"),
        ("@misc{a, title = {x} url = {y}}", "missing ','"),
        ("@misc{a, title = {x}, title = {y}}", "field 'title' given twice"),
        ("title = {x}\n@misc{a, title = {x}}", "stray text"),
    ],
)
def test_the_parser_rejects_malformed_files(bib, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_bib(bib)


def test_citations_are_found_and_lookalikes_are_not():
    text = (
        "Attention [@vaswani2017attention; @elhage2021mathematical, p. 3], as @olsson2022context showed "
        "[-@nanda2023progress]. See @fig-heads and @tbl-scores; mail me@example.org; `@torch.no_grad()`;\n"
        "```python\n@dataclass\nclass C: ...\n```\n<https://x.org/@user> [link](https://y.org/@z) \\@escaped "
        "and the last word @goodfellow2016deep."
    )
    assert citations(text) == {
        "vaswani2017attention",
        "elhage2021mathematical",
        "olsson2022context",
        "nanda2023progress",
        "goodfellow2016deep",
    }
