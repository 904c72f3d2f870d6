"""What the site check looks for in one rendered page: third-party loads, broken links and anchors, leaked output
(stderr, warnings, object reprs, local paths), raw TeX, and images without alt text or figures without captions.

Each finding names the page (its path under _site/), what is wrong and where: the code cell (counted as Quarto
numbers a page's cells, from 1) or the link, so that the fix is found without opening the page.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from mechlearn.sitehtml import Element

# (tag, attribute) pairs through which a page loads something; <link> loads only for the rel values below.
LOADS = [
    ("script", "src"),
    ("img", "src"),
    ("iframe", "src"),
    ("frame", "src"),
    ("source", "src"),
    ("audio", "src"),
    ("video", "src"),
    ("video", "poster"),
    ("embed", "src"),
    ("object", "data"),
    ("input", "src"),
    ("track", "src"),
]
LOADING_RELS = {"stylesheet", "preload", "modulepreload", "icon", "apple-touch-icon", "mask-icon", "manifest"}
CONNECTING_RELS = {"preconnect", "dns-prefetch", "prefetch", "prerender"}
CSS_REMOTE = re.compile(r"""(?:@import\s*(?:url\()?|url\()\s*['"]?((?:https?:)?//[^'")\s]+)""", re.I)

STDERR_CLASS = "cell-output-stderr"
WARNING_TEXT = re.compile(r"\b[A-Z]\w*Warning:|\bWARNING:|\bTraceback \(most recent call last\)")
OBJECT_REPR = re.compile(r"<[^<>\n]{1,200}? at 0x[0-9a-fA-F]{4,}>|<Figure size \d+x\d+ with \d+ Axes>")
LOCAL_PATH = re.compile(
    r"(?<![\w.])(?:/(?:work|root|home|tmp|Users|private/var|var/folders)/[^\s'\"<>:]+|[A-Z]:\\Users\\)"
)
RAW_TEX = re.compile(
    r"\$\$|\\\(|\\\)|\\\[|\\\]|\\(?:frac|sum|mathbb|mathcal|operatorname|left|right|Big[lr]?)(?![a-zA-Z])"
)
# Text the reader never sees as prose or output: source code of cells, scripts, MathML (whose <annotation> holds
# the TeX on purpose).
HIDDEN_TAGS = {"script", "style", "annotation", "math", "svg", "noscript", "template"}
SOURCE_CLASSES = {"cell-code"}


@dataclass(frozen=True, order=True)
class Finding:
    where: str  # the page or file under _site/ (or `render`, `git tree`)
    what: str  # the kind of problem, e.g. "broken link"
    detail: str  # where in the page and what exactly

    def __str__(self) -> str:
        return f"{self.where}: {self.what}: {self.detail}"


def is_remote(url: str, site_url: str) -> bool:
    """An absolute URL to another host (the site's own `site-url` counts as the site)."""
    url = url.strip()
    return url.lower().startswith(("http://", "https://", "//")) and not (site_url and url.startswith(site_url))


def remote_loads(page: str, doc: Element, site_url: str) -> list[Finding]:
    found = []
    for el in doc.iter():
        for tag, attr in LOADS:
            if el.tag == tag and is_remote(el.attrs.get(attr, ""), site_url):
                found.append(Finding(page, "loads from a third-party host", f"<{tag} {attr}={el.attrs[attr]}>"))
        if el.tag == "img" and any(is_remote(u.split()[0], site_url) for u in srcset(el)):
            found.append(Finding(page, "loads from a third-party host", f"<img srcset={el.attrs['srcset']}>"))
        rels = set(el.attrs.get("rel", "").lower().split())
        if (
            el.tag == "link"
            and rels & (LOADING_RELS | CONNECTING_RELS)
            and is_remote(el.attrs.get("href", ""), site_url)
        ):
            found.append(
                Finding(page, "loads from a third-party host", f"<link rel={el.attrs['rel']} href={el.attrs['href']}>")
            )
        css = el.text() if el.tag == "style" else el.attrs.get("style", "")
        found += [Finding(page, "loads from a third-party host", f"CSS url {u}") for u in remote_css(css, site_url)]
    return found


def srcset(el: Element) -> list[str]:
    return [part.strip() for part in el.attrs.get("srcset", "").split(",") if part.strip()]


def remote_css(css: str, site_url: str) -> list[str]:
    return [u for u in CSS_REMOTE.findall(css) if is_remote(u, site_url)]


def link_targets(page: str, doc: Element, site_url: str) -> list[tuple[str, str]]:
    """(description, href) of every internal reference a page makes: links and the files it loads."""
    refs = []
    for el in doc.iter():
        attr = {"a": "href", "link": "href", "script": "src", "img": "src", "iframe": "src", "source": "src"}.get(
            el.tag
        )
        url = el.attrs.get(attr, "") if attr else ""
        if el.tag == "link" and "alternate" in el.attrs.get("rel", "") and url.endswith(".xml"):
            url = url[len(site_url) :] if site_url and url.startswith(site_url) else url
        if not url or url == "#" or re.match(r"^[a-z][a-z0-9+.-]*:", url, re.I) or url.startswith("//"):
            continue
        if el.tag == "a" and el.attrs.get("data-bs-toggle"):  # Bootstrap toggles point at ids scripts handle
            continue
        refs.append((f"<{el.tag} {attr}={url}>", url))
    return refs


def resolve(page: str, href: str) -> tuple[str, str]:
    """(path under _site/, fragment) that `href` on `page` points at; '' for a same-page anchor's path."""
    parts = urlsplit(href)
    path = unquote(parts.path)
    if not path:
        return page, unquote(parts.fragment)
    target = posixpath.normpath(path[1:] if path.startswith("/") else posixpath.join(posixpath.dirname(page), path))
    if path.endswith("/"):
        target = posixpath.join(target, "index.html")
    return target, unquote(parts.fragment)


def broken_links(page: str, doc: Element, site: Path, ids: dict[str, set[str]], site_url: str) -> list[Finding]:
    """Internal links and loads whose file is not in `site`, and anchors with no such id in their page (`ids`:
    the ids of every page, by its path under the site)."""
    found = []
    for what, href in link_targets(page, doc, site_url):
        target, fragment = resolve(page, href)
        if not (site / target).is_file() and not (site / target / "index.html").is_file():
            found.append(Finding(page, "broken link", f"{what}: no file {target}"))
        elif fragment and target.endswith(".html") and fragment not in ids.get(target, set()):
            found.append(Finding(page, "broken anchor", f"{what}: no id {fragment!r} in {target}"))
    return found


def nested_links(page: str, doc: Element) -> list[Finding]:
    return [
        Finding(
            page,
            "link inside a link",
            f"<a href={a.attrs.get('href', '')}> inside <a href={outer.attrs.get('href', '')}>",
        )
        for a in doc.iter("a")
        if (outer := a.within("a")) is not None
    ]


def main_content(doc: Element) -> Element:
    return next((el for el in doc.iter("main") if el.attrs.get("id") == "quarto-document-content"), doc)


def cell_of(el: Element, cells: list[Element]) -> str:
    cell = el if "cell" in el.classes else el.within(cls="cell")
    return f"code cell {cells.index(cell) + 1}" if cell in cells else "prose"


def visible_texts(main: Element):
    """(element, its own text) for every element whose text a reader sees: prose and outputs, not cell sources."""
    for el in main.iter():
        if el.tag in HIDDEN_TAGS or el.classes & SOURCE_CLASSES:
            continue
        if any(a.tag in HIDDEN_TAGS or a.classes & SOURCE_CLASSES for a in el.ancestors()):
            continue
        own = "".join(c for c in el.children if isinstance(c, str))
        if own.strip():
            yield el, own


def shorten(text: str, width: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def output_hygiene(page: str, doc: Element) -> list[Finding]:
    main = main_content(doc)
    cells = [el for el in main.iter("div") if "cell" in el.classes]
    found = []
    for el in main.iter("div"):
        if STDERR_CLASS in el.classes:
            found.append(Finding(page, "stderr in output", f"{cell_of(el, cells)}: {shorten(el.text())!r}"))
    for el, text in visible_texts(main):
        where = cell_of(el, cells)
        in_code = el.tag in {"code", "pre"} or el.within("pre") is not None
        for kind, pattern in (("warning text", WARNING_TEXT), ("object repr", OBJECT_REPR), ("local path", LOCAL_PATH)):
            for m in pattern.finditer(text):
                found.append(Finding(page, kind, f"{where}: {shorten(text[max(0, m.start() - 30) : m.end() + 50])!r}"))
        if not in_code and el.within("code") is None and (m := RAW_TEX.search(text)):
            found.append(Finding(page, "raw TeX", f"{where}: {shorten(text[max(0, m.start() - 30) : m.end() + 50])!r}"))
    return found


def figures(page: str, doc: Element) -> list[Finding]:
    """A day's or post's images: each with alt text, each inside a figure with a caption."""
    main = main_content(doc)
    cells = [el for el in main.iter("div") if "cell" in el.classes]
    found = []
    for img in main.iter("img"):
        where = f"{cell_of(img, cells)}: {img.attrs.get('src', '?')}"
        if not img.attrs.get("alt", "").strip():
            found.append(Finding(page, "image without alt text", where))
        figure = img.within("figure")
        caption = next(figure.iter("figcaption"), None) if figure is not None else None
        if caption is None or not caption.text().strip():
            found.append(Finding(page, "figure without caption", where))
    return found
