"""Turn HTML into what an agent can use: title, head, main-text passages and numbered links."""

from __future__ import annotations

import copy
import re
from urllib.parse import urldefrag, urljoin

from pydantic import BaseModel

try:
    import trafilatura
    from lxml import etree
    from lxml import html as lxml_html
except ImportError as error:  # pragma: no cover - exercised by the lean-install test
    from tfgrpo_agents._extras import missing_extra

    raise missing_extra("web", error) from error

PASSAGE_WORDS = 80
MAIN_TEXT_SHARE = 0.25  # main text shorter than this share of the visible text: use the visible text
LARGE_PAGE_CHARS = 150_000  # markup above this is read from its main region, not through trafilatura
_SKIP_SCHEMES = ("javascript:", "mailto:", "tel:", "data:")


class Link(BaseModel):
    text: str
    url: str


class Page(BaseModel):
    url: str
    title: str
    passages: list[str]
    links: list[Link]
    metadata: dict[str, str] = {}


def split_passages(text: str, target_words: int = PASSAGE_WORDS) -> list[str]:
    """Group consecutive lines into passages of about ``target_words`` words."""
    passages: list[str] = []
    current: list[str] = []
    words = 0
    for line in (line.strip() for line in text.splitlines()):
        if not line:
            continue
        current.append(line)
        words += len(line.split())
        if words >= target_words:
            passages.append("\n".join(current))
            current, words = [], 0
    if current:
        passages.append("\n".join(current))
    return passages


def _clean_title(title: str) -> str:
    return " ".join(title.replace("¶", "").split())


def extract_links(tree: lxml_html.HtmlElement, page_url: str) -> list[Link]:
    """Links in page order, absolute, without fragments or duplicates, skipping self-links."""
    links: list[Link] = []
    seen = {urldefrag(page_url).url}
    resolved: dict[str, str] = {}  # index pages repeat one href hundreds of times with different fragments
    for anchor in tree.iter("a"):
        href = (anchor.get("href") or "").strip()
        if not href or href.startswith("#") or href.lower().startswith(_SKIP_SCHEMES):
            continue
        url = resolved.get(href)
        if url is None:
            url = resolved[href] = _absolute(page_url, href)
        if url in seen:
            continue
        text = " ".join((anchor.text_content() or anchor.get("title") or "").replace("¶", "").split())
        if not text:
            continue
        seen.add(url)
        links.append(Link(text=text[:120], url=url))
    return links


def _absolute(page_url: str, href: str) -> str:
    url = urljoin(page_url, href)
    return urldefrag(url).url if "#" in url else url


_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_BLOCKS = ("p", "div", "br", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "dt", "dd",
           "table", "section", "article", "blockquote", "title")
_HIDDEN = ("script", "style", "noscript", "template", "head")


def html_tree(markup: str) -> lxml_html.HtmlElement | None:
    """``markup`` parsed as HTML, whatever its dialect: XHTML with an ``<?xml …?>`` declaration
    (DocBook, Javadoc, XSLT toolchains) included, which lxml refuses as a text string."""
    try:
        return lxml_html.fromstring(_XML_DECLARATION.sub("", markup, count=1) or "<html></html>")
    except (etree.ParserError, ValueError):
        return None


def visible_text(tree: lxml_html.HtmlElement, *, links: bool = True) -> str:
    """Every visible text of the page, one line per block (the fallback when main-text extraction
    drops what matters, as it does on table layouts); without the links' own words if ``links`` is off."""
    tree = copy.deepcopy(tree)
    for element in list(tree.iter(*_HIDDEN, *(() if links else ("a",)))):
        element.drop_tree()
    for element in tree.iter(*_BLOCKS):
        element.tail = "\n" + (element.tail or "")
    return "\n".join(" ".join(line.split()) for line in tree.text_content().splitlines() if line.strip())


def dropped_main_text(extracted: str, tree: lxml_html.HtmlElement) -> bool:
    """Whether main-text extraction kept too little of the page's own prose (links aside: a page
    that is a list of links is read through its links)."""
    prose = len(visible_text(tree, links=False).split())
    return len(extracted.split()) < MAIN_TEXT_SHARE * prose


_REFERENCE_GENERATORS = re.compile(r"docbook|gtk-doc|doxygen|javadoc", re.IGNORECASE)


def generated_reference(tree: lxml_html.HtmlElement) -> bool:
    """Whether a reference-manual generator made the page (its ``<meta name="generator">``: DocBook XSL,
    GTK-Doc, Doxygen, javadoc). Such pages are all reference and little chrome, and trafilatura, made for
    articles, drops their short lines and tables: a GTK-Doc page lost 49 of its 57 "Since: X.Y" lines."""
    return any(_REFERENCE_GENERATORS.search(str(content)) for content in tree.xpath("//meta[@name='generator']/@content"))


def main_region(tree: lxml_html.HtmlElement) -> lxml_html.HtmlElement:
    """The element the page marks as its main content (``<main>``, ``role="main"``, a lone ``<article>``)
    when it holds most of the page's text; else the whole page."""
    candidates = tree.xpath("//main|//*[@role='main']")
    if not candidates:
        articles = tree.xpath("//article")
        candidates = articles if len(articles) == 1 else []
    if candidates and 2 * len(candidates[0].text_content()) >= len(tree.text_content()):
        return candidates[0]
    return tree


def main_text(markup: str, tree: lxml_html.HtmlElement | None, *, large_page_chars: int | None = None,
              **extract_options: bool) -> str:
    """trafilatura's main text; the visible text when it keeps too little of the page or a reference-manual
    generator made it; its plain text when the page does not parse as HTML. With ``large_page_chars``, a
    page whose markup is longer is read from its main region's visible text: on long documentation pages
    that keeps what trafilatura keeps, at a twentieth of the time (BENCHMARKS.md, tool latency)."""
    if tree is not None and generated_reference(tree):
        return visible_text(tree)
    if tree is not None and large_page_chars is not None and len(markup) > large_page_chars:
        return visible_text(main_region(tree))
    text = trafilatura.extract(markup, fast=True, favor_recall=True, include_tables=True, **extract_options) or ""
    if tree is None:
        return text or trafilatura.html2txt(markup) or ""
    return visible_text(tree) if dropped_main_text(text, tree) else text


def parse_html(markup: str, url: str) -> Page:
    """Main text via trafilatura (a long page's main region), title and links via lxml; the page's visible
    text when trafilatura keeps too little of it; never the markup itself."""
    tree = html_tree(markup)
    if tree is None:
        text = re.sub(r"<[^>]+>", " ", markup)  # not HTML at all: its text without tags
        return Page(url=url, title="", passages=split_passages(text), links=[])
    markup = _XML_DECLARATION.sub("", markup, count=1)
    title = _clean_title(tree.findtext(".//title") or "")
    if not title:
        heading = tree.find(".//h1")
        title = _clean_title(heading.text_content()) if heading is not None else ""
    text = main_text(markup, tree, large_page_chars=LARGE_PAGE_CHARS, include_links=False)
    author = page_author(tree)
    text = re.sub(r"¶", "", text)
    return Page(url=url, title=title, passages=split_passages(text), links=extract_links(tree, url),
                metadata={"author": author} if author else {})


def page_author(tree: lxml_html.HtmlElement) -> str | None:
    """The author a page declares in its head (``<meta name="author">``, ``article:author``, ``dc.creator``);
    read directly, not through trafilatura's metadata pass, whose date guessing costs most of a browse."""
    for content in tree.xpath("//meta[translate(@name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
                              " = 'author' or @property = 'article:author' or "
                              "translate(@name, 'DCRETOR', 'dcretor') = 'dc.creator']/@content"):
        author = " ".join(str(content).split())
        if author:
            return author
    return None


def parse_text(text: str, url: str) -> Page:
    return Page(url=url, title=url.rsplit("/", 1)[-1], passages=split_passages(text), links=[])
