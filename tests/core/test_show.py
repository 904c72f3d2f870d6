"""`show_source`: the code shown is the code at the lines linked, and only this repository's files are linked."""

import json
import re
from pathlib import Path

from mechlearn.transformers.attention import Attention

from mechlearn.show import REPO_URL, show_source

ROOT = Path(__file__).resolve().parents[2]


def test_linked_lines_hold_exactly_the_code_shown():
    markdown = show_source(Attention.forward)._repr_markdown_()
    link = re.search(rf"\({re.escape(REPO_URL)}/blob/main/(?P<file>[^#]+)#L(?P<a>\d+)-L(?P<b>\d+)\)", markdown)
    assert link, f"no link to the repository in: {markdown[:200]}"
    lines = (ROOT / link["file"]).read_text().splitlines()[int(link["a"]) - 1 : int(link["b"])]
    shown = markdown.split("```python\n", 1)[1].rsplit("\n```", 1)[0]
    dedented = [line[4:] if line.startswith("    ") else line for line in lines]
    assert shown.splitlines() == dedented, "an off-by-one in the line numbers links the reader to other code"
    assert shown.startswith("def forward(")


def test_code_outside_the_repository_is_named_not_linked():
    markdown = show_source(json.dumps)._repr_markdown_()
    assert REPO_URL not in markdown, "a library function would get a link to a file this repository lacks"
    assert markdown.startswith("`json` lines ")


def test_several_objects_each_get_a_block():
    markdown = show_source(Attention.forward, json.dumps)._repr_markdown_()
    assert markdown.count("```python") == 2
