"""Questions over the Python documentation (Sphinx): who edited a "What's New", when something was added.

* easy — who wrote or edited a "What's New" document (the field list at the top of
  ``whatsnew/X.Y.html``); in which version a module was added (the note under the module's title);
* medium — in which version a function, class or method was added (the "New in version" note in
  its entry on ``library/<module>.html``); the release date stated in a "What's New" introduction;
* hard (multi-source) — who edited the "What's New" of the version that added a function; which of
  two functions from different modules was added first.

Train and test never share a module or a "What's New" version.
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

_VERSION = re.compile(r"version (\d+\.\d+)")
_RELEASED = re.compile(r"Python (\d+\.\d+) was released on ([A-Z][a-z]+ \d{1,2}, \d{4})")
_PERSON = re.compile(r"^[^<(,]+")
API_KINDS = ("function", "method", "class", "exception")


@dataclass(frozen=True)
class Api:
    """A documented function, method, class or exception with its "New in version" note."""

    name: str
    kind: str
    version: str
    page: str

    @property
    def module(self) -> str:
        return self.page.removeprefix("library/").removesuffix(".html")

    @property
    def short(self) -> str:
        return self.name.split(".")[-1]

    def __str__(self) -> str:
        return f"`{self.name}()`" if self.kind in ("function", "method") else f"`{self.name}`"


@dataclass
class Site(LinkGraph):
    whatsnew: dict[str, dict[str, str]] = field(default_factory=dict)  # version → {"person", "released"}
    modules: dict[str, str] = field(default_factory=dict)  # module → version added
    added: dict[str, Api] = field(default_factory=dict)  # dotted name → its entry


def detect(files: SiteFiles) -> bool:
    paths = set(files.html_paths())
    return "whatsnew/index.html" in paths and any(p.startswith("library/") for p in paths)


def _classes(element) -> set[str]:
    return set((element.get("class") or "").split())


def _added_in(element) -> str | None:
    """X.Y if ``element`` is a "New in version X.Y" note."""
    if element is None or element.tag != "div" or "versionadded" not in _classes(element):
        return None
    found = _VERSION.search(text_of(element))
    return found.group(1) if found else None


def _version_note(container) -> str | None:
    """The version in the first "New in version X.Y" note that is a direct child of ``container``."""
    notes = (child for child in container if child.tag == "div" and "versionadded" in _classes(child))
    return _added_in(next(notes, None))


def _read_page(site: Site, path: str, root) -> None:
    title = root.findtext(".//title") or path
    site.add_page(path, root, title.split(" — ")[0].strip())
    if re.fullmatch(r"whatsnew/\d+\.\d+\.html", path):
        _read_whatsnew(site, path, root)
    elif path.startswith("library/"):
        _read_library_page(site, path, root)


def _read_whatsnew(site: Site, path: str, root) -> None:
    version = path.removeprefix("whatsnew/").removesuffix(".html")
    facts: dict[str, str] = {}
    for field_list in root.xpath("//dl[contains(@class, 'field-list')]")[:1]:
        for name, value in zip(field_list.findall("dt"), field_list.findall("dd")):
            if text_of(name).rstrip(":").lower() in ("author", "editor", "editors"):
                person = _PERSON.match(text_of(value))
                if person:
                    facts["person"] = person.group(0).replace(" and ", ", ").split(",")[0].strip()
    released = _RELEASED.search(text_of(root))
    if released and released.group(1) == version:
        facts["released"] = released.group(2)
    if facts:
        site.whatsnew[version] = facts


def _read_library_page(site: Site, path: str, root) -> None:
    for section in root.xpath("//div[@role='main']/section[starts-with(@id, 'module-')]")[:1]:
        # the module's own note sits right under its title; a later one is about something else
        title = section.find("h1")
        version = _added_in(title.getnext() if title is not None else None)
        if version:
            site.modules.setdefault(section.get("id").removeprefix("module-"), version)
    for entry in root.xpath("//dl[contains(concat(' ', @class, ' '), ' py ')]"):
        kind = next((k for k in API_KINDS if k in _classes(entry)), None)
        signature, body = entry.find("dt"), entry.find("dd")
        name = signature.get("id") if signature is not None else None
        if kind is None or not name or body is None or "." not in name:
            continue
        version = _version_note(body)
        if version:
            site.added.setdefault(name, Api(name, kind, version, path))


def read_site(files: SiteFiles) -> Site:
    site = Site()
    for path, root in parsed_pages(files):
        _read_page(site, path, root)
    return site


def candidates(site: Site) -> list[Candidate]:
    """Every question the site supports, in a stable order."""
    out: list[Candidate] = []
    for version, facts in sorted(site.whatsnew.items()):
        page = f"whatsnew/{version}.html"
        if "person" in facts:
            out.append(Candidate(f"Who is named as the author or editor of the \"What's New\" document for Python "
                                 f"{version}?", facts["person"], "easy", "whatsnew-editor", [page], [f"v{version}"],
                                 page))
        if "released" in facts:
            out.append(Candidate(f"On what date was Python {version} released, according to its \"What's New\" "
                                 "document?", facts["released"], "medium", "release-date", [page], [f"v{version}"],
                                 page))
    for module, version in sorted(site.modules.items()):
        page = f"library/{module}.html"
        out.append(Candidate(f"In which Python version was the `{module}` module added?", version, "easy",
                             "module-added", [page], [f"m:{module}"], page))
    apis = [site.added[name] for name in sorted(site.added)]
    for api in apis:
        out.append(Candidate(f"In which Python version was {api} added?", api.version, "medium", "api-added",
                             [api.page], [f"m:{api.module}"], api.page))
        editor = site.whatsnew.get(api.version, {}).get("person")
        if editor:
            out.append(Candidate(f"Who edited the \"What's New\" document of the Python version that added {api}?",
                                 editor, "hard", "editor-of-version", [api.page, f"whatsnew/{api.version}.html"],
                                 [f"m:{api.module}", f"v{api.version}"], f"whatsnew/{api.version}.html"))
    rng = random.Random(7)  # pairs are drawn, not enumerated (there are a million)
    for api in apis:
        other = apis[rng.randrange(len(apis))]
        if other.page == api.page or other.version == api.version or other.short == api.short:
            continue
        first = api if version_key(api.version) < version_key(other.version) else other
        out.append(Candidate(f"Which was added to Python first: {api} or {other}?", first.short, "hard",
                             "added-first", [api.page, other.page], [f"m:{api.module}", f"m:{other.module}"],
                             first.page))
    return out

