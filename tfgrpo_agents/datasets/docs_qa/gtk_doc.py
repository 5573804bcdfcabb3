"""Questions over a GTK-Doc reference manual (DocBook XSL output: HTML 4, table layout), e.g. GLib's.

Every symbol has its own block on its section's page (``<div class="refsect2">``, titled by an
``<h3>``), which may carry a "Since: X.Y" line and a deprecation warning naming a replacement:

* easy — since which version a function or macro is available;
* medium — since which version it is deprecated; what the manual says to use instead;
* hard (multi-source) — since which version the replacement of a deprecated symbol is available
  (its own block, often on another page); which of two symbols on different pages came first.

Train and test never share a section page.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from tfgrpo_agents.datasets.docs_qa.pipeline import (
    Candidate,
    LinkGraph,
    parsed_pages,
    text_of,
    version_key,
)
from tfgrpo_agents.tools.site_files import SiteFiles

_SINCE = re.compile(r"Since: (\d+\.\d+)")
_DEPRECATED = re.compile(r"deprecated since version (\d+\.\d+)")
_REPLACEMENT = re.compile(r"[Uu]se (\w+)\(\) instead")
_SYMBOL = re.compile(r"(\w+)\s*(\(\))?")


@dataclass(frozen=True)
class Symbol:
    name: str
    is_function: bool
    page: str
    since: str | None
    deprecated: str | None
    replacement: str | None

    def __str__(self) -> str:
        return f"`{self.name}()`" if self.is_function else f"`{self.name}`"


@dataclass
class Site(LinkGraph):
    product: str = "the library"
    symbols: dict[str, Symbol] = field(default_factory=dict)


def detect(files: SiteFiles) -> bool:
    return b"GTK-Doc" in (files.read("index.html") or b"")[:4000]


def _product(root) -> str:
    """"GLib" from the manual's home title "GLib Reference Manual"."""
    home = root.xpath("//link[@rel='home']/@title")
    return re.sub(r"\s+(API\s+)?Reference Manual$", "", home[0]).strip() if home else "the library"


def _read_symbols(site: Site, path: str, root) -> None:
    for block in root.xpath("//div[@class='refsect2']"):
        heading = block.find("h3")
        named = _SYMBOL.fullmatch(text_of(heading).replace("\xa0", " ")) if heading is not None else None
        if not named:
            continue
        since = next((m.group(1) for p in block.xpath(".//p[@class='since']") if (m := _SINCE.search(text_of(p)))),
                     None)
        deprecated = replacement = None
        for warning in block.xpath(".//div[@class='warning']"):
            text = text_of(warning)
            if found := _DEPRECATED.search(text):
                deprecated = found.group(1)
                named_replacements = set(_REPLACEMENT.findall(text))
                replacement = named_replacements.pop() if len(named_replacements) == 1 else None
        if since or deprecated:
            site.symbols.setdefault(named.group(1), Symbol(named.group(1), bool(named.group(2)), path, since,
                                                           deprecated, replacement))


def read_site(files: SiteFiles) -> Site:
    site = Site()
    for path, root in parsed_pages(files):
        if path == "index.html":
            site.product = _product(root)
        title = root.findtext(".//title") or path
        site.add_page(path, root, title.rsplit(": ", 1)[0].strip())
        _read_symbols(site, path, root)
    return site


def candidates(site: Site) -> list[Candidate]:
    """Every question the manual supports, in a stable order."""
    out: list[Candidate] = []
    product = site.product
    symbols = [site.symbols[name] for name in sorted(site.symbols)]
    for symbol in symbols:
        key = [f"p:{symbol.page}"]
        if symbol.since:
            out.append(Candidate(f"Since which version of {product} is {symbol} available?", symbol.since, "easy",
                                 "since", [symbol.page], key, symbol.page))
        if symbol.deprecated:
            out.append(Candidate(f"Since which version of {product} is {symbol} deprecated?", symbol.deprecated,
                                 "medium", "deprecated-since", [symbol.page], key, symbol.page))
        replacement = site.symbols.get(symbol.replacement or "")
        if symbol.deprecated and symbol.replacement:
            out.append(Candidate(f"Which function does the {product} manual say to use instead of the deprecated "
                                 f"{symbol}?", symbol.replacement, "medium", "replacement", [symbol.page], key,
                                 symbol.page))
        if symbol.deprecated and replacement and replacement.since and replacement.page != symbol.page:
            out.append(Candidate(f"Since which version of {product} is the function that replaces the deprecated "
                                 f"{symbol} available?", replacement.since, "hard", "replacement-since",
                                 [symbol.page, replacement.page], [*key, f"p:{replacement.page}"], replacement.page))
    dated = [s for s in symbols if s.since]
    rng = random.Random(7)  # pairs are drawn, not enumerated
    for symbol in dated:
        other = dated[rng.randrange(len(dated))]
        if other.page == symbol.page or other.since == symbol.since:
            continue
        first = symbol if version_key(symbol.since) < version_key(other.since) else other
        out.append(Candidate(f"Which became available first in {product}: {symbol} or {other}?", first.name, "hard",
                             "available-first", [symbol.page, other.page], [f"p:{symbol.page}", f"p:{other.page}"],
                             first.page))
    return out
