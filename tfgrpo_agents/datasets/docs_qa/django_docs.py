"""Questions over the Django documentation (Sphinx with Django's own theme): releases and what they added.

* easy — the date of a bugfix or security release (``releases/X.Y.Z.html`` states it under its
  title): finding the page means searching a dotted version among hundreds of near neighbours;
* medium — the date of a feature release (``releases/X.Y.html``, whose version is a prefix of
  its bugfix releases'); in which version an attribute, method, function or class was added (a
  "New in Django X.Y." note in its entry);
* hard (multi-source, or computed) — the release date of the version that added an entry; how many
  days passed between two consecutive releases of one series (date arithmetic over two pages).

Train and test never share a release or a reference page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from tfgrpo_agents.datasets.docs_qa.pipeline import (
    Candidate,
    LinkGraph,
    parsed_pages,
    text_of,
    version_key,
)
from tfgrpo_agents.tools.site_files import SiteFiles

_RELEASE_TITLE = re.compile(r"Django (\d+\.\d+(?:\.\d+)?) release notes")
_DATE = re.compile(r"\*?([A-Z][a-z]+ \d{1,2}, \d{4})\*?\.?")
_ADDED = re.compile(r"New in Django (\d+\.\d+)\.")
API_KINDS = ("function", "method", "class", "attribute", "exception")


@dataclass(frozen=True)
class Release:
    version: str
    date: str  # as the page writes it: "September 1, 2021"

    @property
    def page(self) -> str:
        return f"releases/{self.version}.html"

    @property
    def day(self) -> datetime:
        return datetime.strptime(self.date, "%B %d, %Y")

    @property
    def series(self) -> str:
        return ".".join(self.version.split(".")[:2])

    @property
    def is_feature_release(self) -> bool:
        return self.version.count(".") == 1


@dataclass(frozen=True)
class Entry:
    """An attribute, method, function or class whose entry says "New in Django X.Y."."""

    name: str
    kind: str
    version: str
    page: str

    def __str__(self) -> str:
        return f"`{self.name}()`" if self.kind in ("function", "method") else f"`{self.name}`"


@dataclass
class Site(LinkGraph):
    releases: dict[str, Release] = field(default_factory=dict)
    added: dict[str, Entry] = field(default_factory=dict)


def detect(files: SiteFiles) -> bool:
    raw = files.read("index.html") or b""
    return "releases/index.html" in set(files.html_paths()) and b"Django" in raw[:4000]


def _read_release(site: Site, path: str, root) -> None:
    for title in root.xpath("//div[contains(concat(' ', @class, ' '), ' section ')]/h1")[:1]:
        named = _RELEASE_TITLE.fullmatch(text_of(title))
        if not named or path != f"releases/{named.group(1)}.html":
            return
        below = title.getnext()
        dated = _DATE.fullmatch(text_of(below)) if below is not None else None
        if dated:
            site.releases[named.group(1)] = Release(named.group(1), dated.group(1))


def _read_reference(site: Site, path: str, root) -> None:
    for entry in root.xpath("//dl[contains(concat(' ', @class, ' '), ' py ')]"):
        classes = set((entry.get("class") or "").split())
        kind = next((k for k in API_KINDS if k in classes), None)
        signature, body = entry.find("dt"), entry.find("dd")
        name = signature.get("id") if signature is not None else None
        if kind is None or not name or body is None or "." not in name:
            continue
        for note in body:
            if note.tag == "div" and "versionadded" in (note.get("class") or "").split():
                # "New in Django 3.1: the x argument was added." is about a parameter, not the entry
                added = _ADDED.fullmatch(text_of(note))
                if added:
                    site.added.setdefault(name, Entry(name, kind, added.group(1), path))
                break


def read_site(files: SiteFiles) -> Site:
    site = Site()
    for path, root in parsed_pages(files):
        site.add_page(path, root, (root.findtext(".//title") or path).split(" — ")[0].strip())
        if path.startswith("releases/"):
            _read_release(site, path, root)
        elif not path.startswith("_"):
            _read_reference(site, path, root)
    return site


def candidates(site: Site) -> list[Candidate]:
    """Every question the site supports, in a stable order."""
    out: list[Candidate] = []
    releases = sorted(site.releases.values(), key=lambda r: version_key(r.version))
    for release in releases:
        difficulty, kind = ("medium", "feature-release-date") if release.is_feature_release else ("easy", "release-date")
        out.append(Candidate(f"On what date was Django {release.version} released, according to its release notes?",
                             release.date, difficulty, kind, [release.page], [f"r:{release.version}"], release.page))
    for entry in (site.added[name] for name in sorted(site.added)):
        out.append(Candidate(f"In which Django version was {entry} added?", entry.version, "medium", "api-added",
                             [entry.page], [f"p:{entry.page}"], entry.page))
        release = site.releases.get(entry.version)
        if release:
            out.append(Candidate(f"On what date was the Django version that added {entry} released?", release.date,
                                 "hard", "added-release-date", [entry.page, release.page],
                                 [f"p:{entry.page}", f"r:{release.version}"], release.page))
    bugfixes = [r for r in releases if not r.is_feature_release]
    for before, after in zip(bugfixes, bugfixes[1:]):
        days = (after.day - before.day).days
        if before.series == after.series and days > 0:
            out.append(Candidate(f"How many days after Django {before.version} was Django {after.version} released?",
                                 str(days), "hard", "days-between", [before.page, after.page],
                                 [f"r:{before.version}", f"r:{after.version}"]))
    return out
