"""The website's sources, checked without Quarto: every link, listing and image points at something that exists.

These need no Quarto; the rendered site is checked by `make check-site` (src/mechlearn/sitecheck.py).
"""

import re
from pathlib import Path

import nbformat
import pytest
import yaml

from mechlearn import site
from mechlearn.entries import all_entries, entry_dirs
from mechlearn.project import TOTAL_DAYS
from mechlearn.report import PROGRESS_FILE, progress_is_current, write_progress
from mechlearn.site import SIDEBAR_FILE, stale_files

REPO = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((REPO / "_quarto.yml").read_text())
PAGES = sorted(
    p
    for pattern in (
        "*.qmd",
        "0*/*.qmd",
        "daily_logs/index.qmd",
        "blog_posts/**/*.qmd",
        "techniques/*.qmd",
        "subproblems/*.qmd",
    )
    for p in REPO.glob(pattern)
)


def front_matter(path: Path) -> dict:
    text = path.read_text()
    assert text.startswith("---\n"), f"{path}: no YAML front matter"
    return yaml.safe_load(text.split("\n---\n", 1)[0][4:])


def test_config_has_what_the_site_needs():
    website = CONFIG["website"]
    assert CONFIG["project"]["type"] == "website"
    assert website["site-url"].startswith("https://"), "the RSS feed needs site-url"
    assert website["search"] is True
    assert [item["text"] for item in website["navbar"]["left"]] == [
        "Home",
        "Daily log",
        "Blog",
        "Topics",
        "Index",
        "About",
    ]
    assert CONFIG["execute"]["freeze"] == "auto"
    assert set(CONFIG["format"]["html"]["theme"]) == {"light", "dark"}


def test_cells_are_shown_unless_a_page_folds_them():
    assert CONFIG["format"]["html"]["code-fold"] is False, "a global fold hides the implementations a day teaches"


def test_nothing_is_loaded_from_a_third_party_host_by_configuration():
    html = CONFIG["format"]["html"]
    # MathJax and KaTeX come from CDNs, and feeds turn span.math into images from a TeX service; MathML is written
    # by pandoc at build time.
    assert html["html-math-method"] == "mathml"
    for theme in html["theme"].values():
        assert theme[1:] == ["_offline.scss"], "the Bootswatch theme's Google Fonts @import must be switched off"
    assert "$web-font-path: false;" in (REPO / "_offline.scss").read_text()


def test_rendering_leaves_gitignore_alone():
    # Quarto appends `/.quarto/` to .gitignore on every render unless that exact line is there.
    assert "/.quarto/" in (REPO / ".gitignore").read_text().splitlines()


def test_every_bibliography_is_configured_and_citations_link():
    assert sorted(CONFIG["bibliography"]) == sorted(f"references/{p.name}" for p in (REPO / "references").glob("*.bib"))
    assert CONFIG["link-citations"] is True


def test_filters_are_a_list_of_files_that_exist():
    assert isinstance(CONFIG["filters"], list)
    paths = [f["path"] if isinstance(f, dict) else f for f in CONFIG["filters"]]
    assert "filters/days.lua" in paths and "filters/mathml.lua" in paths
    for f in paths:
        assert (REPO / f).is_file(), f"filter {f} is missing"


def test_the_generated_sidebars_are_read_and_current():
    assert SIDEBAR_FILE in CONFIG["metadata-files"]
    assert stale_files(REPO) == [], "regenerate with: mechlearn progress"


def test_feeds_have_distinct_titles_and_the_log_feed_carries_every_day():
    log = front_matter(REPO / "daily_logs" / "index.qmd")["listing"]["feed"]
    blog = front_matter(REPO / "blog_posts" / "index.qmd")["listing"]["feed"]
    assert log["title"] != blog["title"]
    assert log["items"] >= TOTAL_DAYS


def test_blog_posts_are_ordered_explicitly():
    assert front_matter(REPO / "blog_posts" / "index.qmd")["listing"]["sort"] == "order asc"
    orders = [front_matter(p).get("order") for p in sorted((REPO / "blog_posts").glob("*/index.qmd"))]
    assert all(isinstance(o, int) for o in orders), "every post needs an integer `order:` in its front matter"
    assert len(set(orders)) == len(orders), "two posts share an order"


def test_navbar_links_point_at_pages():
    for item in (i for entry in CONFIG["website"]["navbar"]["left"] for i in entry.get("menu", [entry])):
        assert (REPO / item["href"]).is_file(), f"navbar link {item['href']} has no page"


def test_render_list_covers_every_page_and_entry_and_nothing_else():
    targets = [t for t in CONFIG["project"]["render"] if not t.startswith("!")]
    rendered = {p for t in targets for p in REPO.glob(t)}
    assert set(PAGES) <= rendered, "a site page is missing from project.render"
    assert {d / "index.ipynb" for d in entry_dirs(REPO)} <= rendered, "an entry is missing from project.render"
    assert not any(p.is_relative_to(REPO / "tests") or p.is_relative_to(REPO / "src") for p in rendered)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_listings_match_files(page):
    listings = front_matter(page).get("listing", [])
    for listing in listings if isinstance(listings, list) else [listings]:
        contents = listing["contents"]
        for glob in contents if isinstance(contents, list) else [contents]:
            assert glob.endswith((".qmd", ".ipynb")), f"{page}: listing glob {glob} should name files"
            base = page.parent
            parts = glob.split("/")
            while parts[0] == "..":
                base, parts = base.parent, parts[1:]
            assert list(base.glob("/".join(parts))), f"{page}: listing {glob} matches nothing"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_local_links_and_images_exist(page):
    text = page.read_text()
    meta = front_matter(page)
    targets = re.findall(r"\]\(([^)\s#]+)", text)
    if "image" in meta:
        targets.append(meta["image"])
    for target in targets:
        if re.match(r"^[a-z]+:", target):
            continue
        assert (page.parent / target).resolve().is_file(), f"{page.relative_to(REPO)} links to missing {target}"


def test_home_page_includes_the_generated_progress_grid():
    assert f"{{{{< include {PROGRESS_FILE} >}}}}" in (REPO / "index.qmd").read_text()
    assert (REPO / PROGRESS_FILE).is_file()


def test_topic_pages_list_their_topic():
    topics = {"01_backprop": "backprop", "02_transformers": "transformers", "03_reinforcement_learning": "rl",
              "04_interpretability": "interp", "05_alignment_notes": "alignment"}  # fmt: skip
    for folder, topic in topics.items():
        listings = front_matter(REPO / folder / "index.qmd")["listing"]
        listings = listings if isinstance(listings, list) else [listings]
        (listing,) = [one for one in listings if one["id"] == "topic-days"]
        assert listing["include"]["categories"] == topic
        assert listing["contents"] == "../daily_logs/*/index.ipynb"


def test_the_alignment_notes_are_listed_on_their_topic_page():
    listings = front_matter(REPO / "05_alignment_notes" / "index.qmd")["listing"]
    (notes,) = [one for one in listings if one["id"] == "topic-notes"]
    assert len(site.topic_notes(REPO / "05_alignment_notes")) >= 4
    assert notes["contents"] == "*.qmd" and notes["sort"] == "order asc"


def write_entry(root: Path, day: int, topic: str, title: str = "T"):
    folder = root / "daily_logs" / f"day-{day:03d}-t{day}"
    folder.mkdir(parents=True)
    front = f"---\ntitle: {title}\ndate: 2026-01-01\nday: {day}\ncategories: [{topic}]\ndescription: D\n---"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_raw_cell(front)]), folder / "index.ipynb")


@pytest.fixture
def project(tmp_path, monkeypatch):
    # Only this module's own generator: the others (vocabulary pages, quoted numbers) need a fuller project.
    monkeypatch.setattr(site, "GENERATORS", [site.sidebar])
    (tmp_path / "_quarto.yml").write_text("project: {type: website}\n")
    (tmp_path / "01_backprop").mkdir()
    (tmp_path / "01_backprop" / "index.qmd").write_text('---\ntitle: "01 · Backpropagation"\n---\n')
    write_entry(tmp_path, 3, "backprop", "Third")
    write_entry(tmp_path, 1, "backprop", "First")
    write_entry(tmp_path, 2, "rl", "Bandits")
    return tmp_path


def test_sidebars_hold_each_topic_overview_then_its_days_in_order(project):
    (sidebar_text,) = site.sidebar(project, all_entries(project)).values()
    sidebars = yaml.safe_load(sidebar_text)["website"]["sidebar"]
    assert [s["id"] for s in sidebars] == ["backprop", "rl"], "a topic with no overview and no days has no sidebar"
    backprop, rl = sidebars
    assert backprop["title"] == "01 · Backpropagation"
    assert backprop["contents"][0] == "01_backprop/index.qmd"
    assert [c["href"] for c in backprop["contents"][1:]] == [
        "daily_logs/day-001-t1/index.ipynb",
        "daily_logs/day-003-t3/index.ipynb",
    ], "previous/next follow this order: by day"
    assert backprop["contents"][1]["text"] == "Day\u00a01 · First"
    assert rl["title"] == "rl" and [c["text"] for c in rl["contents"]] == ["Day\u00a02 · Bandits"]


def test_a_topic_s_notes_follow_its_overview_in_their_order_before_its_days(project):
    notes = project / "01_backprop"
    (notes / "zeta.qmd").write_text('---\ntitle: "Z"\norder: 1\n---\n')
    (notes / "alpha.qmd").write_text('---\ntitle: "A"\norder: 2\n---\n')
    (notes / "unordered.qmd").write_text("no front matter\n")
    (sidebar_text,) = site.sidebar(project, all_entries(project)).values()
    contents = yaml.safe_load(sidebar_text)["website"]["sidebar"][0]["contents"]
    assert contents[:4] == ["01_backprop/index.qmd", "01_backprop/zeta.qmd", "01_backprop/alpha.qmd",
                            "01_backprop/unordered.qmd"], "by `order`, pages without one last"  # fmt: skip
    assert contents[4]["href"] == "daily_logs/day-001-t1/index.ipynb"


def test_generated_files_are_written_once_and_then_current(project):
    assert site.stale_files(project) == [SIDEBAR_FILE]
    assert site.write_generated(project) == [SIDEBAR_FILE]
    assert site.stale_files(project) == [] and site.write_generated(project) == []
    write_entry(project, 4, "backprop")
    assert site.stale_files(project) == [SIDEBAR_FILE], "a new day must make the sidebar stale"


def test_a_registered_generator_is_written_and_checked(project):
    site.generator(lambda root, entries: {"_days.txt": f"{len(entries)} days\n"})
    site.write_generated(project)
    assert (project / "_days.txt").read_text() == "3 days\n"
    (project / "_days.txt").write_text("edited by hand\n")
    assert site.stale_files(project) == ["_days.txt"]


def test_mechlearn_progress_writes_and_check_requires_the_site_files(project):
    write_progress(project)
    assert (project / SIDEBAR_FILE).is_file() and progress_is_current(project)
    (project / SIDEBAR_FILE).unlink()
    assert not progress_is_current(project), "mechlearn check must fail when a generated site file is missing"
