"""The controlled vocabulary: vocabulary.yml itself, the front-matter fields that must use it, and the index pages."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_raw_cell

from mechlearn.entries import all_entries
from mechlearn.index_pages import collect_uses, index_pages, md_escape, stray_pages
from mechlearn.project import MechlearnError
from mechlearn.vocabulary import (
    expected_categories,
    front_matter_problems,
    load_vocabulary,
    parse_uses,
    parse_vocabulary,
)

REPO = Path(__file__).resolve().parents[2]

SMALL = """
techniques:
  einsum: {title: "einsum", description: "Contractions over named axes."}
  einops: {title: "einops rearrange", description: "Reshaping by axis name."}
  hooks: {title: "Hooks", description: "Reading activations."}
subproblems:
  matrix-multiply: {title: "Matrix multiply", description: "Products of matrices."}
  attention: {title: "Attention", description: "Moving information between positions."}
  causal-evidence: {title: "Causal evidence", description: "Interventions."}
arena:
  "1.1": {title: "Transformer from Scratch", url: "https://example.org/1.1"}
  "1.2": {title: "Intro to Mech Interp", url: "https://example.org/1.2"}
"""
VOCAB = parse_vocabulary(SMALL)
GOOD = {
    "arena": "1.1",
    "uses": [
        {"technique": "einsum", "solves": "matrix-multiply"},
        {"technique": "einops", "solves": "attention"},
        {"technique": "einsum", "solves": "attention"},
    ],
    "categories": ["transformers", "einsum", "einops", "matrix-multiply", "attention"],
}


def test_the_committed_vocabulary_is_well_formed():
    vocab = load_vocabulary(REPO)
    assert "einsum" in vocab.techniques and "matrix-multiply" in vocab.subproblems and "1.1" in vocab.arena


@pytest.mark.parametrize(
    "text, message",
    [
        (SMALL.replace("  hooks:", "  einsum:"), "'einsum' is listed twice"),
        (SMALL.replace("subproblems:", "subproblem:"), "unknown section 'subproblem' (did you mean: subproblems?)"),
        (SMALL.replace("  hooks:", "  Hooks_2:"), "'Hooks_2' is not a term name"),
        (SMALL.replace(', description: "Interventions."', ""), "causal-evidence: must be {title, description}"),
        (SMALL.replace('"1.2":', "1.2:"), "1.2 must be a quoted section number"),
        (SMALL.replace("  hooks:", "  attention:"), "'attention' is both a technique and a sub-problem"),
        (SMALL.replace("  hooks:", "  rl:"), "'rl' is a topic name"),
        (SMALL.replace('title: "Hooks"', 'title: ""'), "hooks: title must be a non-empty string"),
        (SMALL + "  bad: [", "not valid YAML"),
    ],
)
def test_a_malformed_vocabulary_is_one_clear_error(text, message):
    with pytest.raises(MechlearnError) as e:
        parse_vocabulary(text)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_well_formed_front_matter_passes():
    assert front_matter_problems(GOOD, VOCAB) == []


@pytest.mark.parametrize(
    "change, message",
    [
        ({"arena": "1.3"}, "arena '1.3' is not a section in vocabulary.yml (did you mean: 1.2, 1.1?)"),
        ({"arena": 1.1}, "'arena' must be a quoted section number"),
        ({"uses": []}, "'uses' must be a non-empty list"),
        (
            {
                "uses": [{"technique": "einsums", "solves": "attention"}],
                "categories": ["transformers", "einsums", "attention"],
            },
            "uses item 1: unknown technique 'einsums' (did you mean: einsum, einops?)",
        ),
        ({"uses": [{"technique": "attention", "solves": "attention"}]}, "uses item 1: 'attention' is a sub-problem"),
        ({"uses": [{"technique": "einsum", "solves": "einsum"}]}, "uses item 1: 'einsum' is a technique, not a sub"),
        ({"uses": [{"technique": "einsum"}]}, "uses item 1 must be {technique: ..., solves: ...}"),
        ({"uses": [*GOOD["uses"], GOOD["uses"][0]]}, "uses item 4: einsum -> matrix-multiply is listed twice"),
        (
            {"categories": ["transformers", "einsum", "einops", "attention", "matrix-multiply"]},
            "'categories' must be [transformers, einsum, einops, matrix-multiply, attention]",
        ),
        ({"categories": [*GOOD["categories"], "my-one-off-tag"]}, "'categories' must be"),
    ],
)
def test_each_front_matter_mistake_is_named(change, message):
    problems = front_matter_problems({**GOOD, **change}, VOCAB)
    assert len(problems) == 1 and message in problems[0], problems


def test_a_day_may_say_it_follows_no_arena_section():
    assert front_matter_problems({**GOOD, "arena": "none"}, VOCAB) == []


def test_missing_fields_are_named_with_what_to_write():
    problems = front_matter_problems({"categories": ["transformers"]}, VOCAB)
    assert problems == [
        "front matter: missing 'arena' (the ARENA section the day follows: 1.1, 1.2; \"none\" if it follows none)",
        "front matter: missing 'uses' (a list of {technique: ..., solves: ...} from vocabulary.yml)",
    ]


def test_categories_are_topic_then_distinct_techniques_then_distinct_subproblems():
    assert expected_categories("transformers", GOOD["uses"]) == GOOD["categories"]


def test_parse_uses_reads_the_command_line_form_and_rejects_unknown_terms():
    assert parse_uses("einsum:matrix-multiply, hooks:causal-evidence", VOCAB) == [
        {"technique": "einsum", "solves": "matrix-multiply"},
        {"technique": "hooks", "solves": "causal-evidence"},
    ]
    with pytest.raises(MechlearnError, match=r"^--uses: 'einsum' is not technique:subproblem"):
        parse_uses("einsum", VOCAB)
    with pytest.raises(MechlearnError, match=r"unknown technique 'hook' \(did you mean: hooks\?\)"):
        parse_uses("hook:causal-evidence", VOCAB)


# --- the index pages -------------------------------------------------------------------------------------------


def _day(root: Path, day: int, title: str, uses: list[tuple[str, str]], topic="transformers") -> None:
    pairs = "".join(f"\n  - {{technique: {t}, solves: {s}}}" for t, s in uses)
    cats = expected_categories(topic, [{"technique": t, "solves": s} for t, s in uses])
    front = (
        f'---\ntitle: "{title}"\ndate: 2026-01-02\nday: {day}\ndescription: D\narena: "1.1"\nuses:{pairs}\n'
        f"categories: [{', '.join(cats)}]\n---"
    )
    folder = root / "daily_logs" / f"day-{day:03d}-d"
    folder.mkdir(parents=True)
    nbformat.write(new_notebook(cells=[new_raw_cell(front), new_code_cell("1 + 1")]), folder / "index.ipynb")


@pytest.fixture
def log(tmp_path) -> Path:
    (tmp_path / "vocabulary.yml").write_text(SMALL)
    _day(
        tmp_path,
        14,
        "Heads as *einsum*",
        [("einsum", "matrix-multiply"), ("einops", "attention"), ("einsum", "attention")],
    )
    _day(tmp_path, 33, "Hooks", [("hooks", "causal-evidence"), ("einsum", "attention")], topic="interp")
    return tmp_path


def test_every_term_gets_a_page_and_each_folder_an_index(log):
    pages = index_pages(log)
    expected = {f"techniques/{t}.qmd" for t in VOCAB.techniques} | {f"subproblems/{s}.qmd" for s in VOCAB.subproblems}
    assert set(pages) == expected | {"techniques/index.qmd", "subproblems/index.qmd"}


def test_a_technique_page_lists_each_day_with_the_subproblem_it_solved(log):
    page = index_pages(log)["techniques/einsum.qmd"]
    days = [line for line in page.splitlines() if line.startswith("- ")]
    assert days == [
        r"- [Day 14 · Heads as \*einsum\*](../daily_logs/day-014-d/index.ipynb), "
        "solving [Matrix multiply](../subproblems/matrix-multiply.qmd), [Attention](../subproblems/attention.qmd)",
        "- [Day 33 · Hooks](../daily_logs/day-033-d/index.ipynb), solving [Attention](../subproblems/attention.qmd)",
    ]
    assert "Used on 2 days:" in page


def test_a_subproblem_page_lists_each_day_with_the_techniques_it_used(log):
    page = index_pages(log)["subproblems/attention.qmd"]
    days = [line for line in page.splitlines() if line.startswith("- ")]
    assert days == [
        r"- [Day 14 · Heads as \*einsum\*](../daily_logs/day-014-d/index.ipynb), "
        "with [einops rearrange](../techniques/einops.qmd), [einsum](../techniques/einsum.qmd)",
        "- [Day 33 · Hooks](../daily_logs/day-033-d/index.ipynb), with [einsum](../techniques/einsum.qmd)",
    ]


def test_a_term_no_day_uses_still_has_a_page_that_says_so(tmp_path):
    (tmp_path / "vocabulary.yml").write_text(SMALL)
    pages = index_pages(tmp_path)
    assert "No day uses this technique yet." in pages["techniques/hooks.qmd"]
    assert "- [Hooks](hooks.qmd) (no day yet): Reading activations." in pages["techniques/index.qmd"]


def test_index_pages_count_days_per_term(log):
    index = index_pages(log)["techniques/index.qmd"]
    assert "- [einsum](einsum.qmd) (2 days): Contractions over named axes." in index
    assert "- [Hooks](hooks.qmd) (1 day): Reading activations." in index


def test_every_link_on_the_generated_pages_resolves(log):
    pages = index_pages(log)
    for rel, text in pages.items():
        for target in re.findall(r"\]\(([^)]+)\)", text):
            resolved = Path(os.path.normpath((log / rel).parent / target))
            in_pages = str(resolved.relative_to(log)) in pages
            assert resolved.is_file() or in_pages, f"{rel} links to missing {target}"


def test_days_with_unknown_terms_or_broken_front_matter_are_left_out(log):
    _day(log, 40, "Typo", [("einsumm", "attention")])
    _day(log, 41, "No title", [("einsum", "attention")])
    no_title = log / "daily_logs/day-041-d/index.ipynb"
    no_title.write_text(no_title.read_text().replace('title: \\"No title\\"\\n', ""))
    uses = collect_uses(all_entries(log), VOCAB)
    assert {u.day for u in uses} == {14, 33}


def test_pages_of_removed_terms_are_found_as_strays(log):
    (log / "techniques").mkdir()
    (log / "techniques" / "old-term.qmd").write_text("---\ntitle: x\n---\n")
    (log / "techniques" / "einsum.qmd").write_text("")
    assert stray_pages(log, index_pages(log)) == ["techniques/old-term.qmd"]


@pytest.mark.parametrize("title", ["a*b*c", "x_1 and y_2", "[draft]", "$5 of `code`", "@cite <b>"])
def test_titles_are_escaped_so_markdown_shows_them_as_written(title):
    escaped = md_escape(title)
    assert re.sub(r"\\(.)", r"\1", escaped) == title
    assert not re.search(r"(?<!\\)[*_\[\]$`@<>]", escaped)


# --- through `mechlearn check` ------------------------------------------------------------------------------------


def test_check_names_an_unknown_term_and_a_stray_index_page(project, capsys, write_day):
    from mechlearn.cli import main
    from mechlearn.execute import run_entry

    path = write_day(project, 1)
    run_entry(path, progress=False)
    assert main(["progress"]) == 0
    assert main(["check"]) == 0, capsys.readouterr().out
    path.write_text(path.read_text().replace("technique: autograd", "technique: autogard"))
    (project / "techniques" / "old-term.qmd").write_text("---\ntitle: old\n---\n")
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert (
        "day-001-t/index.ipynb: front matter: uses item 1: unknown technique 'autogard' (did you mean: autograd?)"
        in out
    )
    assert "techniques/old-term.qmd: no term in vocabulary.yml makes this page any more (delete it)" in out
    assert "techniques/autograd.qmd: out of date with the entries (regenerate: mechlearn progress)" in out


# --- the per-day block (filters/uses.lua), run by Quarto's pandoc like the site's other filters -------------------

QUARTO = shutil.which("quarto")
needs_quarto = pytest.mark.skipif(
    not (os.environ.get("MECHLEARN_QUARTO_TESTS") and QUARTO), reason="needs Quarto and MECHLEARN_QUARTO_TESTS=1"
)


def _filtered(root: Path, page: str, front: str) -> tuple[str, str]:
    (root / page).parent.mkdir(parents=True, exist_ok=True)
    (root / page).write_text(f"---\ntitle: T\n{front}---\n\nFirst paragraph.\n")
    proc = subprocess.run(
        [QUARTO, "pandoc", page, "-t", "html", "--wrap=none", "-L", str(REPO / "filters" / "uses.lua")],
        cwd=root, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return proc.stdout, proc.stderr


@needs_quarto
def test_a_day_shows_its_arena_section_and_linked_pairs_before_its_text(tmp_path):
    (tmp_path / "vocabulary.yml").write_text(SMALL)
    front = 'arena: "1.1"\nuses:\n  - {technique: einsum, solves: matrix-multiply}\n'
    front += "  - {technique: hooks, solves: attention}\n"
    html, err = _filtered(tmp_path, "daily_logs/day-014-x/index.md", front)
    assert err == ""
    assert html.index('<div class="ml-uses">') < html.index("First paragraph.")
    assert 'Follows <a href="https://example.org/1.1">ARENA 1.1: Transformer from Scratch</a>' in html
    assert (
        '<li><a href="../../techniques/einsum.qmd">einsum</a> → '
        '<a href="../../subproblems/matrix-multiply.qmd">Matrix multiply</a></li>'
    ) in html
    assert '<a href="../../techniques/hooks.qmd">Hooks</a> → <a href="../../subproblems/attention.qmd">' in html


@needs_quarto
def test_pages_without_uses_are_untouched_and_unknown_terms_warn(tmp_path):
    (tmp_path / "vocabulary.yml").write_text(SMALL)
    html, err = _filtered(tmp_path, "blog_posts/p/index.md", "")
    assert "ml-uses" not in html and err == ""
    html, err = _filtered(tmp_path, "daily_logs/day-001-x/index.md", "uses: [{technique: nosuch, solves: attention}]\n")
    assert "<code>nosuch</code> →" in html and "'nosuch' is not in vocabulary.yml's techniques" in err


def test_mechlearn_new_writes_front_matter_that_passes_the_vocabulary_check(project):
    from mechlearn.entries import load_entry
    from mechlearn.new import new_day

    path = new_day(project, "Heads", "interp", "hooks:causal-evidence, einsum:attention, hooks:attention", arena="1.2")
    front = load_entry(path).front
    assert front["categories"] == ["interp", "hooks", "einsum", "causal-evidence", "attention"]
    assert front_matter_problems(front, load_vocabulary(project)) == []
    bare = load_entry(new_day(project, "No terms yet", "rl")).front
    assert [p.split(" (")[0] for p in front_matter_problems(bare, load_vocabulary(project))] == [
        "front matter: missing 'arena'",
        "front matter: missing 'uses'",
    ], "a day made without --uses/--arena is told what to add"


def test_a_malformed_vocabulary_stops_check_and_progress_in_one_line_writing_nothing(project, write_day, folder_bytes):
    write_day(project, 1)
    vocabulary = project / "vocabulary.yml"
    vocabulary.write_text(vocabulary.read_text().replace("  einops:", "  einsum:"))
    before = folder_bytes(project)
    for command in ("check", "progress"):
        proc = subprocess.run([sys.executable, "-m", "mechlearn", command], cwd=project, capture_output=True, text=True)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr
        assert re.fullmatch(r"mechlearn: error: vocabulary.yml: line \d+: 'einsum' is listed twice\n", proc.stderr)
    assert folder_bytes(project) == before
