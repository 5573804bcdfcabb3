"""Turn HTML into what an agent can use: title, head, main-text passages and numbered links."""

from __future__ import annotations

import re
from urllib.parse import urldefrag, urljoin

import trafilatura
from lxml import etree
from lxml import html as lxml_html
from pydantic import BaseModel

PASSAGE_WORDS = 80
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
    for anchor in tree.iter("a"):
        href = (anchor.get("href") or "").strip()
        if not href or href.startswith("#") or href.lower().startswith(_SKIP_SCHEMES):
            continue
        url = urldefrag(urljoin(page_url, href)).url
        if url in seen:
            continue
        text = " ".join((anchor.text_content() or anchor.get("title") or "").replace("¶", "").split())
        if not text:
            continue
        seen.add(url)
        links.append(Link(text=text[:120], url=url))
    return links


def parse_html(markup: str, url: str) -> Page:
    """Main text via trafilatura (falling back to all visible text), title and links via lxml."""
    try:
        tree = lxml_html.fromstring(markup)
    except (etree.ParserError, ValueError):
        return Page(url=url, title="", passages=split_passages(markup), links=[])
    title = _clean_title(tree.findtext(".//title") or "")
    if not title:
        heading = tree.find(".//h1")
        title = _clean_title(heading.text_content()) if heading is not None else ""
    text = trafilatura.extract(markup, fast=True, favor_recall=True, include_tables=True, include_links=False)
    if not text:
        text = trafilatura.html2txt(markup) or ""
    metadata = trafilatura.extract_metadata(markup)
    meta = {}
    if metadata is not None:
        meta = {"author": str(metadata.author)} if metadata.author else {}  # dates are guesses: left out
    text = re.sub(r"¶", "", text)
    return Page(url=url, title=title, passages=split_passages(text), links=extract_links(tree, url), metadata=meta)


def parse_text(text: str, url: str) -> Page:
    return Page(url=url, title=url.rsplit("/", 1)[-1], passages=split_passages(text), links=[])
