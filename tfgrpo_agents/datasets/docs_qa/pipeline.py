"""What every documentation QA set shares: questions, the link graph, which questions stand, the split.

A profile (one per documentation generator) reads a site's facts and turns them into
:class:`Candidate` questions with these pieces; :mod:`.task_set` then writes the set the same way
for every site, so a task set over Django or a GTK-Doc manual is built exactly like the one over
the Python docs.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import lxml.html

from tfgrpo_agents.tools.site_files import SiteFiles

ROOT_PAGE = "index.html"


@dataclass
class Candidate:
    question: str
    answer: str
    difficulty: str
    kind: str
    pages: list[str]
    keys: list[str]  # what must not cross the split (modules, releases, reference pages)
    evidence: str | None = None  # the page that states the answer word for word; None when it is computed

    @property
    def type(self) -> str:
        return "multi_source" if len(self.pages) > 1 else "single_source"


@dataclass
class LinkGraph:
    """Titles and in-site links of every HTML page: what golden paths are drawn from."""

    titles: dict[str, str] = field(default_factory=dict)
    links: dict[str, list[str]] = field(default_factory=dict)

    def add_page(self, path: str, root, title: str) -> None:
        self.titles[path] = title
        links = []
        for href in root.xpath("//a/@href"):
            if "://" in href or href.startswith(("mailto:", "#")):
                continue
            target = posixpath.normpath(posixpath.join(posixpath.dirname(path), href.split("#")[0]))
            if target.endswith(".html") and not target.startswith(".."):
                links.append(target)
        self.links[path] = list(dict.fromkeys(links))

    def golden_path(self, target: str) -> str:
        """``root -> Title -> Title``: the shortest click path from the root page to ``target``."""
        parent: dict[str, str | None] = {ROOT_PAGE: None}
        queue = deque([ROOT_PAGE])
        while queue:
            page = queue.popleft()
            if page == target:
                break
            for link in self.links.get(page, []):
                if link not in parent:
                    parent[link] = page
                    queue.append(link)
        if target not in parent:
            raise ValueError(f"{target} cannot be reached from {ROOT_PAGE}")
        chain: list[str] = []
        node: str | None = target
        while node is not None and node != ROOT_PAGE:
            chain.append(self.titles.get(node, node))
            node = parent[node]
        return " -> ".join(["root", *reversed(chain)])


def parse_page(raw: bytes):
    """An lxml tree of a page; documentation generators write UTF-8 (an XML declaration is dropped first)."""
    text = raw.decode("utf-8", "replace")
    if text.lstrip().startswith("<?xml"):
        text = text.split("?>", 1)[1]
    return lxml.html.fromstring(text)


def parsed_pages(files: SiteFiles) -> Iterator[tuple[str, Any]]:
    """``(path, tree)`` of every non-empty HTML page of the site, in path order."""
    for path in files.html_paths():
        raw = files.read(path)
        if raw:
            yield path, parse_page(raw)


def version_key(version: str) -> tuple[int, ...]:
    """"3.10" after "3.9": dotted versions compared as numbers."""
    return tuple(int(x) for x in version.split("."))


def text_of(element) -> str:
    return " ".join(element.text_content().replace("¶", "").split())


def reachable(graph: LinkGraph, items: list[Candidate]) -> list[Candidate]:
    """Questions whose every page can be reached by clicking from the root page."""
    seen, queue = {ROOT_PAGE}, deque([ROOT_PAGE])
    while queue:
        for link in graph.links.get(queue.popleft(), []):
            if link not in seen:
                seen.add(link)
                queue.append(link)
    return [c for c in items if all(page in seen for page in c.pages)]


def stated(files: SiteFiles, items: list[Candidate]) -> list[Candidate]:
    """Questions whose answer appears, word for word, on the page that is said to state it."""
    texts: dict[str, str] = {}

    def page_text(page: str) -> str:
        if page not in texts:
            raw = files.read(page)
            texts[page] = text_of(parse_page(raw)).casefold() if raw else ""
        return texts[page]

    return [c for c in items if c.evidence is None or c.answer.casefold() in page_text(c.evidence)]


def _test_side(key: str, seed: int, test_share: float) -> bool:
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return digest[0] / 256 < test_share


def split(items: Iterable[Candidate], seed: int, test_share: float = 0.5) -> tuple[list[Candidate], list[Candidate]]:
    """Train and test never share a key (a module, a release, a page); straddling questions are dropped."""
    train, test = [], []
    for item in items:
        sides = {_test_side(key, seed, test_share) for key in item.keys}
        if sides == {True}:
            test.append(item)
        elif sides == {False}:
            train.append(item)
    return train, test
