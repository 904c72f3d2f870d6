"""The website's sources, checked without Quarto: every link, listing and image points at something that exists.

Quarto itself cannot run here (see README); these catch what would otherwise only show as a broken page.
"""

import re
from pathlib import Path

import pytest
import yaml

from mechlearn.entries import entry_dirs
from mechlearn.report import PROGRESS_FILE

REPO = Path(__file__).resolve().parents[2]
CONFIG = yaml.safe_load((REPO / "_quarto.yml").read_text())
PAGES = sorted(
    p
    for pattern in ("*.qmd", "0*/index.qmd", "daily_logs/index.qmd", "blog_posts/**/*.qmd")
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
    assert [item["text"] for item in website["navbar"]["left"]] == ["Home", "Daily log", "Blog", "Topics", "About"]
    assert CONFIG["execute"]["freeze"] == "auto"
    assert CONFIG["format"]["html"]["code-fold"] is True
    assert set(CONFIG["format"]["html"]["theme"]) == {"light", "dark"}


def test_navbar_links_point_at_pages():
    for item in CONFIG["website"]["navbar"]["left"]:
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
        listing = front_matter(REPO / folder / "index.qmd")["listing"]
        assert listing["include"]["categories"] == topic
        assert listing["contents"] == "../daily_logs/*/index.ipynb"
