"""The site check on small synthetic pages: each kind of finding is planted once and must be reported, and a clean
page must pass. No Quarto: the HTML imitates what Quarto 1.7 writes (`main#quarto-document-content`, `div.cell`,
`.cell-output-stderr`, listings with a `.list` container)."""

import json
import subprocess

import nbformat
import pytest

from mechlearn import sitebrowser
from mechlearn.sitecheck import (
    feed_findings,
    listing_items,
    render,
    render_findings,
    static_findings,
    tree_changes,
    tree_state,
)
from mechlearn.sitehtml import parse
from mechlearn.sitepages import broken_links, figures, nested_links, output_hygiene, remote_loads

SITE_URL = "https://example.github.io/log/"


def page(body: str, head: str = "") -> str:
    return f"<html><head>{head}</head><body><main id='quarto-document-content'>{body}</main></body></html>"


def cell(output: str, source: str = "x = 1") -> str:
    return (
        f"<div class='cell'><div class='sourceCode cell-code'><pre><code>{source}</code></pre></div>"
        f"<div class='cell-output cell-output-stdout'><pre><code>{output}</code></pre></div></div>"
    )


FIGURE = "<figure><img src='a.png' alt='A curve falling.'><figcaption>Loss falls.</figcaption></figure>"
CLEAN = page("<p>Prose with <math><annotation>\\frac{a}{b}</annotation></math>.</p>" + cell("0.25") + FIGURE)


def kinds(findings) -> list[str]:
    return sorted(f.what for f in findings)


def test_a_clean_page_passes_every_page_check():
    doc = parse(CLEAN)
    assert remote_loads("p.html", doc, SITE_URL) + nested_links("p.html", doc) == []
    assert output_hygiene("p.html", doc) + figures("p.html", doc) == []


@pytest.mark.parametrize(
    "head, body",
    [
        ("<script src='https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js'></script>", ""),
        ("<link rel='stylesheet' href='https://fonts.googleapis.com/css2?family=Lato'>", ""),
        ("<link rel='preconnect' href='https://fonts.gstatic.com'>", ""),
        ("<style>@import url(https://fonts.googleapis.com/css2?family=Lato);</style>", ""),
        ("", "<img src='//latex.codecogs.com/png.latex?x' alt='x'>"),
        ("", "<iframe src='https://www.youtube.com/embed/x'></iframe>"),
        ("", "<div style=\"background: url('https://example.org/bg.png')\"></div>"),
    ],
    ids=["script", "stylesheet", "preconnect", "css-import", "image", "iframe", "inline-style"],
)
def test_a_load_from_a_third_party_host_is_reported(head, body):
    found = remote_loads("p.html", parse(page(body, head)), SITE_URL)
    assert kinds(found) == ["loads from a third-party host"], found


def test_links_elsewhere_and_loads_from_the_site_itself_are_not_loads():
    body = "<a href='https://arxiv.org/abs/1706.03762'>paper</a><img src='https://example.github.io/log/a.png' alt='a'>"
    assert remote_loads("p.html", parse(page(body)), SITE_URL) == []


@pytest.mark.parametrize(
    "output, kind",
    [
        ("WARNING:root:Tried to compute head results when they were already cached", "warning text"),
        ("/usr/lib/x.py:3: UserWarning: something deprecated", "warning text"),
        ("&lt;torch._C.Generator at 0x7f623c394330&gt;", "object repr"),
        ("&lt;Figure size 640x480 with 1 Axes&gt;", "object repr"),
        ("saved to /work/main/daily_logs/day-001/x.png", "local path"),
        ("loaded /home/learner/data.json", "local path"),
    ],
)
def test_leaked_output_is_reported_with_its_cell(output, kind):
    found = output_hygiene("day.html", parse(page(cell("fine") + cell(output))))
    assert kinds(found) == [kind], found
    assert "code cell 2" in found[0].detail, "a finding must say which cell to fix"


def test_stderr_is_reported_even_when_its_text_looks_harmless():
    stderr = (
        "<div class='cell'><div class='cell-output cell-output-stderr'><pre><code>100%|###|</code></pre></div></div>"
    )
    found = output_hygiene("day.html", parse(page(stderr)))
    assert kinds(found) == ["stderr in output"]
    assert "code cell 1" in found[0].detail and "100%" in found[0].detail


def test_cell_sources_may_hold_what_outputs_may_not():
    # A cell's code may mention a path or an address; only what the reader gets as output or prose is checked.
    doc = parse(page(cell("0.25", source="open('/tmp/x')  # id at 0x7f00ab")))
    assert output_hygiene("day.html", doc) == []


@pytest.mark.parametrize("tex", ["$$V^\\pi(s) = 1$$", "\\(x\\)", "\\[ y \\]", "so \\frac{1}{n} follows"])
def test_raw_tex_in_prose_is_reported(tex):
    assert kinds(output_hygiene("p.html", parse(page(f"<p>{tex}</p>")))) == ["raw TeX"]


def test_tex_in_code_and_mathml_annotations_is_not_raw_tex():
    body = "<p><code>\\frac</code></p><math><annotation encoding='application/x-tex'>\\frac{1}{n}</annotation></math>"
    assert output_hygiene("p.html", parse(page(body))) == []


def test_an_image_without_alt_text_is_reported():
    body = "<figure><img src='a.png'><figcaption>Loss falls.</figcaption></figure>"
    assert kinds(figures("day.html", parse(page(body)))) == ["image without alt text"]


def test_a_figure_without_a_caption_is_reported():
    body = cell("") + "<div class='cell'><figure><img src='index_files/cell-3.png' alt='A curve.'></figure></div>"
    found = figures("day.html", parse(page(body)))
    assert kinds(found) == ["figure without caption"]
    assert "code cell 2" in found[0].detail and "cell-3.png" in found[0].detail


def test_a_link_inside_a_link_is_reported():
    body = "<a href='../day-022/index.html'><span><a href='../day-022/index.html'>Day 22</a></span></a>"
    assert kinds(nested_links("p.html", parse(page(body)))) == ["link inside a link"]


@pytest.fixture
def site(tmp_path):
    (tmp_path / "daily_logs" / "day-001-a").mkdir(parents=True)
    (tmp_path / "daily_logs" / "day-001-a" / "index.html").write_text(page("<h2 id='verify'>Verify</h2>"))
    (tmp_path / "index.html").write_text(page(""))
    (tmp_path / "style.css").write_text("body {}")
    return tmp_path


@pytest.mark.parametrize(
    "href, kind",
    [
        ("daily_logs/day-002-b/index.html", "broken link"),
        ("daily_logs/day-001-a/index.html#explain", "broken anchor"),
        ("#nowhere", "broken anchor"),
    ],
)
def test_broken_links_and_anchors_are_reported(site, href, kind):
    doc = parse(page(f"<a href='{href}'>x</a>"))
    ids = {"daily_logs/day-001-a/index.html": {"verify"}, "index.html": set()}
    found = broken_links("index.html", doc, site, ids, SITE_URL)
    assert kinds(found) == [kind], found
    assert href.split("#")[-1] in found[0].detail


def test_links_that_resolve_pass(site):
    body = (
        "<a href='daily_logs/day-001-a/index.html#verify'>v</a><a href='daily_logs/day-001-a/'>d</a>"
        "<a href='https://quarto.org/'>q</a><a href='#'>top</a><link rel='stylesheet' href='style.css'>"
    )
    ids = {"daily_logs/day-001-a/index.html": {"verify"}, "index.html": set()}
    assert broken_links("index.html", parse(page(body)), site, ids, SITE_URL) == []


def listing(items: str, sentence: str = "Nothing listed here yet.") -> str:
    return (
        f"<div id='listing-topic-days' class='quarto-listing'><table><tbody class='list'>{items}</tbody></table>"
        f"<div class='listing-no-matching d-none'>{sentence}</div></div>"
    )


def test_listing_items_are_counted():
    doc = parse(page(listing("<tr><td>1</td></tr><tr><td>2</td></tr>") + listing("")))
    assert listing_items(doc) == [
        ("listing-topic-days", 2, "Nothing listed here yet."),
        ("listing-topic-days", 0, "Nothing listed here yet."),
    ]


def feed(title: str, items: int, extra: str = "") -> str:
    entries = "".join(
        f"<item><title>Day {i}</title><description><![CDATA[<p>text</p>{extra}]]></description></item>"
        for i in range(items)
    )
    return f"<?xml version='1.0'?><rss><channel><title>{title}</title>{entries}</channel></rss>"


def test_feeds_must_carry_every_day_have_distinct_titles_and_load_nothing_remote(tmp_path):
    (tmp_path / "daily_logs").mkdir()
    (tmp_path / "blog_posts").mkdir()
    math_image = "<img src='https://latex.codecogs.com/png.latex?x'>"
    (tmp_path / "daily_logs" / "index.xml").write_text(feed("Log", 20, math_image))
    (tmp_path / "blog_posts" / "index.xml").write_text(feed("Log", 1))
    found = feed_findings(tmp_path, SITE_URL, days=25)
    assert kinds(found).count("feed misses days") == 1
    assert kinds(found).count("feeds share a title") == 1
    assert kinds(found).count("loads from a third-party host") == 20


def test_render_problems_are_reported(tmp_path):
    (tmp_path / "_site-check").mkdir()
    (tmp_path / "_site-check" / "render.json").write_text(
        json.dumps({"exit": 1, "seconds": 1, "pages": 0, "tree_changes": []})
    )
    (tmp_path / "_site-check" / "render.log").write_text(
        "[ 1/2] index.qmd\nWARN: Unable to resolve link target: x.qmd\n[WARNING] Could not convert TeX math \\Bigl\n"
    )
    found = render_findings(tmp_path)
    assert kinds(found) == ["quarto failed", "quarto warning or error", "quarto warning or error"]
    assert {f.where for f in found} == {"render", "index.qmd"}, "a warning names the page being rendered"


def git(root, *args):
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def test_tree_changes_name_files_rendering_touched(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / ".gitignore").write_text(".quarto/\n")
    (tmp_path / "kept.md").write_text("a")
    git(tmp_path, "add", ".")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x")
    before = tree_state(tmp_path)
    (tmp_path / ".gitignore").write_text(".quarto/\n/.quarto/\n")  # what Quarto does to a .gitignore without it
    (tmp_path / "index_files").mkdir()
    (tmp_path / "index_files" / "x.png").write_text("p")
    (tmp_path / ".quarto").mkdir()
    (tmp_path / ".quarto" / "cache").write_text("c")  # ignored: not a change
    assert tree_changes(before, tree_state(tmp_path)) == [".gitignore", "index_files/x.png"]


def write_entry(root, day: int, slug: str, topic: str):
    folder = root / "daily_logs" / f"day-{day:03d}-{slug}"
    folder.mkdir(parents=True)
    front = f"---\ntitle: T{day}\ndate: 2026-01-0{day}\nday: {day}\ncategories: [{topic}]\ndescription: D\n---"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_raw_cell(front)])
    nbformat.write(nb, folder / "index.ipynb")


def test_an_entry_not_rendered_or_not_listed_is_reported(tmp_path):
    (tmp_path / "_quarto.yml").write_text(f"website:\n  site-url: {SITE_URL}\n")
    write_entry(tmp_path, 1, "a", "backprop")
    write_entry(tmp_path, 2, "b", "backprop")
    (tmp_path / "blog_posts" / "p").mkdir(parents=True)
    (tmp_path / "blog_posts" / "p" / "index.qmd").write_text("---\ntitle: P\n---\n")
    site = tmp_path / "_site"
    for rel in ["daily_logs/day-001-a", "daily_logs/day-002-b", "daily_logs", "blog_posts"]:
        (site / rel).mkdir(parents=True, exist_ok=True)
    (site / "index.html").write_text(page(""))
    (site / "daily_logs" / "day-001-a" / "index.html").write_text(page(""))
    (site / "daily_logs" / "index.html").write_text(
        page(listing("<tr><td><a href='day-001-a/index.html'>1</a></td></tr>"))
    )
    (site / "blog_posts" / "index.html").write_text(page(listing("", sentence="No matching items")))
    found = static_findings(tmp_path)
    assert sorted(str(f) for f in found) == [
        "blog_posts/index.html: empty listing with no sentence saying so: #listing-topic-days",
        "blog_posts/index.html: not listed: blog_posts/p/index.html",
        "blog_posts/p/index.html: not rendered: no such page in _site/",
        "daily_logs/day-002-b/index.html: not rendered: no such page in _site/",
        "daily_logs/index.html: not listed: daily_logs/day-002-b/index.html",
    ]


def test_render_records_exit_pages_and_what_rendering_changed(tmp_path, capsys):
    # A stand-in for quarto: writes one page, warns, and (as Quarto does without the exact line) edits .gitignore.
    fake = tmp_path / "fake-quarto"
    fake.write_text(
        "#!/bin/sh\nmkdir -p _site && echo '<html></html>' > _site/index.html\n"
        "echo '[1/1] index.qmd'; echo 'WARN: something'\nprintf '/.quarto/\\n' >> .gitignore\n"
    )
    fake.chmod(0o755)
    git(tmp_path, "init", "-q")
    (tmp_path / ".gitignore").write_text("_site/\n_site-check/\nfake-quarto\n")
    git(tmp_path, "add", ".gitignore")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x")
    assert render(tmp_path, str(fake)) == 0
    record = json.loads((tmp_path / "_site-check" / "render.json").read_text())
    assert record["exit"] == 0 and record["pages"] == 1 and record["tree_changes"] == [".gitignore"]
    assert "WARN: something" in (tmp_path / "_site-check" / "render.log").read_text()
    assert "rendered 1 pages" in capsys.readouterr().out
    found = render_findings(tmp_path)
    assert sorted(str(f) for f in found) == [
        "git tree: rendering changed a tracked file: .gitignore",
        "index.qmd: quarto warning or error: WARN: something",
    ]


def test_the_browser_pass_says_it_is_skipped_without_chromium(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sitebrowser.shutil, "which", lambda name: None)
    assert sitebrowser.browser_findings(tmp_path) == []
    assert "browser pass skipped: no Chromium" in capsys.readouterr().out


def test_the_browser_views_home_the_most_mathematical_day_of_each_topic_a_post_and_empty_topics(tmp_path):
    (tmp_path / "_quarto.yml").write_text(f"website:\n  site-url: {SITE_URL}\n")
    write_entry(tmp_path, 1, "a", "backprop")
    write_entry(tmp_path, 2, "b", "backprop")
    write_entry(tmp_path, 3, "c", "rl")
    site = tmp_path / "_site"
    pages = {
        "index.html": "",
        "daily_logs/day-001-a/index.html": "<math></math>",
        "daily_logs/day-002-b/index.html": "<math></math><math></math>",
        "daily_logs/day-003-c/index.html": "",
        "05_alignment_notes/index.html": "",
        "blog_posts/p/index.html": "<math></math>",
    }
    for rel, body in pages.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(page(body))
    assert sitebrowser.pages_to_view(tmp_path) == [
        "index.html",
        "daily_logs/day-002-b/index.html",
        "daily_logs/day-003-c/index.html",
        "05_alignment_notes/index.html",
        "blog_posts/p/index.html",
    ]
