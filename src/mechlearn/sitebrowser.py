"""The site check's browser pass: pages opened in headless Chromium with the network off, as a reader offline.

The home page, for each topic the day with the most formulas, the post with the most formulas and the alignment
topic page (a listing with no days yet) are served from _site/ on 127.0.0.1 and loaded at 1280 px and 390 px wide.
Every host but 127.0.0.1 resolves to nothing, so anything the site would fetch from elsewhere fails as it would
offline. Screenshots go to _site-check/screenshots/ (git-ignored: look at them); the DOM after scripts ran
(`--dump-dom`) must hold no raw TeX delimiters in its text. Without Chromium the pass is skipped, saying so.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from mechlearn.entries import all_entries
from mechlearn.project import TOPICS
from mechlearn.sitehtml import parse
from mechlearn.sitepages import RAW_TEX, Finding, main_content, shorten, visible_texts

WIDTHS = (1280, 390)
HEIGHT = 2400  # tall enough to show a page's first screens in one picture
BROWSERS = ("chromium", "chromium-browser", "google-chrome")
SHOTS = "_site-check/screenshots"


def chromium() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def most_math(site: Path, pages: list[str]) -> str | None:
    """The page with the most MathML formulas (the one most likely to show TeX a reader cannot read)."""
    return max(pages, key=lambda p: (site / p).read_text(encoding="utf-8").count("<math"), default=None)


def pages_to_view(root: Path) -> list[str]:
    site = root / "_site"
    entries = [e for e in all_entries(root) if not e.problems]
    chosen = ["index.html"]
    for topic, folder in TOPICS.items():
        days = [f"daily_logs/{e.path.parent.name}/index.html" for e in entries if e.topic == topic]
        if pick := most_math(site, [d for d in days if (site / d).is_file()]):
            chosen.append(pick)
        elif (site / folder / "index.html").is_file():
            chosen.append(f"{folder}/index.html")  # a topic with no days yet: its page shows that
    posts = [p.relative_to(site).as_posix() for p in sorted(site.glob("blog_posts/*/index.html"))]
    if pick := most_math(site, posts):
        chosen.append(pick)
    return chosen


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(site: Path) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run_chromium(browser: str, profile: str, width: int, *action: str) -> subprocess.CompletedProcess:
    command = [
        browser,
        "--headless",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # the network is off for every other host
        f"--window-size={width},{HEIGHT}",
        "--virtual-time-budget=5000",  # let the page's scripts run before the picture or the DOM is taken
        *action,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def browser_findings(root: Path) -> list[Finding]:
    browser = chromium()
    if browser is None:
        print("browser pass skipped: no Chromium on PATH (Debian: apt-get install chromium)")
        return []
    site, shots = root / "_site", root / SHOTS
    if not (site / "index.html").is_file():
        return [Finding("_site", "not rendered", "no _site/index.html: render with `make site` first")]
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    found = []
    server = serve(site)
    try:
        with tempfile.TemporaryDirectory() as profile:
            for page in pages_to_view(root):
                url = f"http://127.0.0.1:{server.server_address[1]}/{page}"
                name = page.removesuffix("/index.html").removesuffix(".html").replace("/", "__") or "home"
                for width in WIDTHS:
                    png = shots / f"{name}-{width}.png"
                    run_chromium(browser, profile, width, f"--screenshot={png}", url)
                    if not png.is_file():
                        found.append(Finding(page, "no screenshot", f"Chromium made no picture at {width} px"))
                dom = run_chromium(browser, profile, WIDTHS[0], "--dump-dom", url).stdout
                if "</html>" not in dom:
                    found.append(Finding(page, "no DOM", "Chromium's --dump-dom returned no page"))
                    continue
                for el, text in visible_texts(main_content(parse(dom))):
                    if el.within("code") is None and el.within("pre") is None and (m := RAW_TEX.search(text)):
                        context = shorten(text[max(0, m.start() - 30) : m.end() + 50])
                        found.append(Finding(page, "raw TeX in the browser", repr(context)))
    finally:
        server.shutdown()
    widths = " and ".join(map(str, WIDTHS))
    print(f"browser pass: {len(pages_to_view(root))} pages at {widths} px, screenshots in {SHOTS}/")
    return found
