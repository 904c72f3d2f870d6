"""The website's own check: render it, then look at what a reader would get.

    python -m mechlearn.sitecheck render [--quarto PATH]   # quarto render, timed and logged (make site)
    python -m mechlearn.sitecheck check [--no-browser]      # every check on _site/ (make check-site)
    python -m mechlearn.sitecheck screenshots               # the browser pass alone (make screenshots)

`render` keeps Quarto's output in _site-check/render.log and what it saw in _site-check/render.json: exit status,
seconds, pages, and the files rendering changed in the git tree. `check` then fails on any finding: a Quarto
warning or error, a rendering that changed a tracked file or left an untracked one, an entry or post not rendered
or not listed, an empty listing with no sentence saying so, a broken internal link or anchor, anything loaded from
a third-party host (pages, stylesheets, feeds), leaked output (stderr, warnings, object reprs, local paths), raw
TeX, images without alt text or figures without captions in days and posts; then the browser pass
(mechlearn.sitebrowser) looks at the pages in headless Chromium with the network off.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree

import yaml

from mechlearn.entries import all_entries
from mechlearn.project import TOPICS, MechlearnError, find_root, write_atomic
from mechlearn.sitehtml import parse
from mechlearn.sitepages import (
    Finding,
    broken_links,
    figures,
    link_targets,
    nested_links,
    output_hygiene,
    remote_css,
    remote_loads,
    resolve,
)

SITE = "_site"
WORK = "_site-check"  # git-ignored: the render log and record, and the screenshots
LOG = f"{WORK}/render.log"
RECORD = f"{WORK}/render.json"
QUARTO_PROBLEM = re.compile(r"^\s*(?:\[?(?:WARN|WARNING|ERROR)\b)", re.I)
RENDERING = re.compile(r"^\[\s*\d+/\d+\]\s+(\S+)")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def tree_state(root: Path) -> dict[str, str] | None:
    """Every changed or untracked (not ignored) file in the git tree, with a hash of its content ('deleted' when a
    tracked file is gone); None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain=v1", "-z", "--untracked-files=all"],
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        return None
    state = {}
    records = out.split("\0")
    i = 0
    while i < len(records) and records[i]:
        status, path = records[i][:2], records[i][3:]
        i += 2 if "R" in status or "C" in status else 1  # a rename carries its old path as the next record
        file = root / path
        state[path] = hashlib.sha256(file.read_bytes()).hexdigest() if file.is_file() else "deleted"
    return state


def tree_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


def render(root: Path, quarto: str) -> int:
    """`quarto render`, its output shown and logged; returns Quarto's exit status."""
    (root / WORK).mkdir(exist_ok=True)
    before = tree_state(root)
    start = time.perf_counter()
    with open(root / LOG, "w", encoding="utf-8") as log:
        try:
            proc = subprocess.Popen([quarto, "render"], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        except OSError as e:
            raise MechlearnError(f"cannot run {quarto} ({e.strerror}); install Quarto (see README)") from None
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace")
            sys.stdout.write(line)
            log.write(ANSI.sub("", line))
        code = proc.wait()
    seconds = time.perf_counter() - start
    after = tree_state(root)
    pages = sum(1 for p in (root / SITE).rglob("*.html") if "site_libs" not in p.parts) if code == 0 else 0
    record = {
        "exit": code,
        "seconds": round(seconds, 1),
        "pages": pages,
        "tree_changes": None if before is None or after is None else tree_changes(before, after),
    }
    write_atomic(root / RECORD, json.dumps(record, indent=1) + "\n")
    print(f"rendered {pages} pages in {seconds:.0f}s (quarto exit {code})")
    return code


def render_findings(root: Path) -> list[Finding]:
    if not (root / RECORD).is_file():
        return [Finding("render", "no record", f"{RECORD} is missing: render with `make site` first")]
    record = json.loads((root / RECORD).read_text(encoding="utf-8"))
    found = []
    if record["exit"] != 0:
        found.append(Finding("render", "quarto failed", f"exit status {record['exit']} (see {LOG})"))
    log = (root / LOG).read_text(encoding="utf-8") if (root / LOG).is_file() else ""
    page = "render"  # Quarto prints `[ 3/57] path` before the messages about that page
    for line in log.splitlines():
        if m := RENDERING.match(line):
            page = m[1]
        elif QUARTO_PROBLEM.match(line):
            found.append(Finding(page, "quarto warning or error", line.strip()))
    if record["tree_changes"] is None:
        print("git tree check skipped: not a git checkout")
    for path in record["tree_changes"] or []:
        tracked = (
            subprocess.run(["git", "ls-files", "--error-unmatch", path], cwd=root, capture_output=True).returncode == 0
        )
        what = "rendering changed a tracked file" if tracked else "rendering left a file git does not ignore"
        found.append(Finding("git tree", what, path))
    return found


def listing_items(doc) -> list[tuple[str, int, str]]:
    """(listing id, number of items, the no-items sentence) for each listing on a page."""
    out = []
    for el in doc.iter("div"):
        if "quarto-listing" in el.classes and el.attrs.get("id", "").startswith("listing-"):
            items = next((c for c in el.iter() if "list" in c.classes), None)
            count = sum(1 for c in items.children if not isinstance(c, str)) if items is not None else 0
            empty = next((c for c in el.iter() if "listing-no-matching" in c.classes), None)
            out.append((el.attrs["id"], count, empty.text().strip() if empty is not None else ""))
    return out


def site_url(root: Path) -> str:
    config = yaml.safe_load((root / "_quarto.yml").read_text(encoding="utf-8"))
    return (config.get("website") or {}).get("site-url", "").rstrip("/") + "/"


def feed_findings(site: Path, url: str, days: int) -> list[Finding]:
    found, titles = [], {}
    for feed in sorted(site.rglob("*.xml")):
        rel = feed.relative_to(site).as_posix()
        try:
            channel = ElementTree.parse(feed).getroot().find("channel")
        except ElementTree.ParseError as e:
            found.append(Finding(rel, "feed is not valid XML", str(e)))
            continue
        if channel is None:
            continue  # not a feed (e.g. sitemap.xml)
        titles.setdefault(channel.findtext("title", ""), []).append(rel)
        items = channel.findall("item")
        if rel == "daily_logs/index.xml" and len(items) < days:
            found.append(Finding(rel, "feed misses days", f"{len(items)} items for {days} days"))
        for item in items:
            doc = parse(item.findtext("description", ""))
            found += [
                Finding(rel, f.what, f"item {item.findtext('title')!r}: {f.detail}")
                for f in remote_loads(rel, doc, url)
            ]
    found += [
        Finding(", ".join(feeds), "feeds share a title", repr(t)) for t, feeds in titles.items() if len(feeds) > 1
    ]
    return found


def static_findings(root: Path) -> list[Finding]:
    """Everything checked on the files of _site/ (no browser)."""
    site = root / SITE
    if not (site / "index.html").is_file():
        return [Finding(SITE, "not rendered", "no _site/index.html: render with `make site` first")]
    url = site_url(root)
    entries = [e for e in all_entries(root) if not e.problems]
    days = {f"daily_logs/{e.path.parent.name}/index.html": e for e in entries}
    posts = {f"blog_posts/{p.parent.name}/index.html" for p in (root / "blog_posts").glob("*/index.qmd")}
    pages = {p.relative_to(site).as_posix(): p for p in site.rglob("*.html") if "site_libs" not in p.parts}
    docs = {rel: parse(path.read_text(encoding="utf-8")) for rel, path in pages.items()}
    ids = {rel: {el.attrs["id"] for el in doc.iter() if "id" in el.attrs} for rel, doc in docs.items()}
    found = [
        Finding(p, "not rendered", "no such page in _site/") for p in sorted(days.keys() | posts) if p not in pages
    ]
    listed_on = {"daily_logs/index.html": set(days), "blog_posts/index.html": posts}
    for topic, folder in TOPICS.items():
        listed_on[f"{folder}/index.html"] = {p for p, e in days.items() if e.topic == topic}
    for listing_page, must in listed_on.items():
        if listing_page in docs:
            linked = {resolve(listing_page, href)[0] for _, href in link_targets(listing_page, docs[listing_page], url)}
            found += [Finding(listing_page, "not listed", p) for p in sorted(must - linked)]
    for rel, doc in sorted(docs.items()):
        found += remote_loads(rel, doc, url) + nested_links(rel, doc) + output_hygiene(rel, doc)
        if rel in days or rel in posts:
            found += figures(rel, doc)
        for listing, count, sentence in listing_items(doc):
            if count == 0 and "yet" not in sentence.lower():
                found.append(Finding(rel, "empty listing with no sentence saying so", f"#{listing}"))
        found += broken_links(rel, doc, site, ids, url)
    for css in sorted(site.rglob("*.css")):
        rel = css.relative_to(site).as_posix()
        found += [
            Finding(rel, "loads from a third-party host", f"CSS url {u}")
            for u in remote_css(css.read_text("utf-8"), url)
        ]
    return found + feed_findings(site, url, len(days))


def report(found: list[Finding]) -> int:
    for f in sorted(set(found)):
        print(f)
    if found:
        print(f"site check failed: {len(set(found))} finding(s)", file=sys.stderr)
        return 1
    print("site check passed")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mechlearn.sitecheck", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("render", help="quarto render, timed and logged, noting what it changed in the git tree")
    p.add_argument("--quarto", default="quarto", help="the quarto executable (default: quarto on PATH)")
    p = sub.add_parser("check", help="check the rendered _site/ (fails on any finding)")
    p.add_argument("--no-browser", action="store_true", help="skip the headless-Chromium pass")
    sub.add_parser("screenshots", help="the headless-Chromium pass alone: screenshots and the raw-TeX check")
    args = parser.parse_args(argv)
    try:
        root = find_root()
        if args.command == "render":
            return render(root, args.quarto)
        from mechlearn.sitebrowser import browser_findings

        if args.command == "screenshots":
            return report(browser_findings(root))
        found = render_findings(root) + static_findings(root)
        return report(found + ([] if args.no_browser else browser_findings(root)))
    except MechlearnError as e:
        print(f"sitecheck: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
