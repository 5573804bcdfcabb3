"""QA over a real Sphinx documentation site (the Python 3.11 docs), in WebWalkerQA's schema.

The questions follow the site's own conventions, which is what a learned library can carry from
the train split to the test split:

* easy — who wrote or edited a "What's New" document (the field list at the top of
  ``whatsnew/X.Y.html``); in which version a module was added (the note under the module's title);
* medium — in which version a function, class or method was added (the "New in version" note in
  its entry on ``library/<module>.html``); the release date stated in a "What's New" introduction;
* hard (multi-source) — who edited the "What's New" of the version that added a function; which of
  two functions from different modules was added first.

Golden paths are the shortest click paths from the site root in the site's own link graph. Train
and test never share a module or a "What's New" version. A closed-book filter drops what the
model answers without tools; its answers are kept in ``closed_book.json`` so a rerun gives the same
bytes without the model. The site is read from its folder or tarball and never copied.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import random
import re
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import lxml.html

from tfgrpo_agents._atomic import atomic_write_text
from tfgrpo_agents.evaluation.splits import parse_ratio, proportional_counts
from tfgrpo_agents.tools.site_files import SiteFiles

ROOT_PAGE = "index.html"
_VERSION = re.compile(r"version (\d+\.\d+)")
_RELEASED = re.compile(r"Python (\d+\.\d+) was released on ([A-Z][a-z]+ \d{1,2}, \d{4})")
_PERSON = re.compile(r"^[^<(,]+")


@dataclass
class Candidate:
    question: str
    answer: str
    difficulty: str
    kind: str
    pages: list[str]
    keys: list[str]  # what must not cross the split: modules and "What's New" versions

    @property
    def type(self) -> str:
        return "multi_source" if len(self.pages) > 1 else "single_source"


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
class Site:
    """Titles and links of every HTML page, and the facts pulled from them."""

    titles: dict[str, str] = field(default_factory=dict)
    links: dict[str, list[str]] = field(default_factory=dict)
    whatsnew: dict[str, dict[str, str]] = field(default_factory=dict)  # version → {"person", "released"}
    modules: dict[str, str] = field(default_factory=dict)  # module → version added
    added: dict[str, Api] = field(default_factory=dict)  # dotted name → its entry

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


def _classes(element) -> set[str]:
    return set((element.get("class") or "").split())


def _text(element) -> str:
    return " ".join(element.text_content().replace("¶", "").split())


def _added_in(element) -> str | None:
    """X.Y if ``element`` is a "New in version X.Y" note."""
    if element is None or element.tag != "div" or "versionadded" not in _classes(element):
        return None
    found = _VERSION.search(_text(element))
    return found.group(1) if found else None


def _version_note(container) -> str | None:
    """The version in the first "New in version X.Y" note that is a direct child of ``container``."""
    notes = (child for child in container if child.tag == "div" and "versionadded" in _classes(child))
    return _added_in(next(notes, None))


def _read_page(site: Site, path: str, raw: bytes) -> None:
    root = lxml.html.fromstring(raw.decode("utf-8", "replace"))  # Sphinx writes UTF-8
    title = root.findtext(".//title") or path
    site.titles[path] = title.split(" — ")[0].strip()
    links = []
    for href in root.xpath("//a/@href"):
        if "://" in href or href.startswith(("mailto:", "#")):
            continue
        target = posixpath.normpath(posixpath.join(posixpath.dirname(path), href.split("#")[0]))
        if target.endswith(".html") and not target.startswith(".."):
            links.append(target)
    site.links[path] = list(dict.fromkeys(links))
    if re.fullmatch(r"whatsnew/\d+\.\d+\.html", path):
        _read_whatsnew(site, path, root)
    elif path.startswith("library/"):
        _read_library_page(site, path, root)


def _read_whatsnew(site: Site, path: str, root) -> None:
    version = path.removeprefix("whatsnew/").removesuffix(".html")
    facts: dict[str, str] = {}
    for field_list in root.xpath("//dl[contains(@class, 'field-list')]")[:1]:
        for name, value in zip(field_list.findall("dt"), field_list.findall("dd")):
            if _text(name).rstrip(":").lower() in ("author", "editor", "editors"):
                person = _PERSON.match(_text(value))
                if person:
                    facts["person"] = person.group(0).replace(" and ", ", ").split(",")[0].strip()
    released = _RELEASED.search(_text(root))
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
    for path in files.html_paths():
        raw = files.read(path)
        if raw:
            _read_page(site, path, raw)
    return site


def candidates(site: Site) -> list[Candidate]:
    """Every question the site supports, in a stable order."""
    out: list[Candidate] = []
    for version, facts in sorted(site.whatsnew.items()):
        page = f"whatsnew/{version}.html"
        if "person" in facts:
            out.append(Candidate(f"Who is named as the author or editor of the \"What's New\" document for Python "
                                 f"{version}?", facts["person"], "easy", "whatsnew-editor", [page], [f"v{version}"]))
        if "released" in facts:
            out.append(Candidate(f"On what date was Python {version} released, according to its \"What's New\" "
                                 "document?", facts["released"], "medium", "release-date", [page], [f"v{version}"]))
    for module, version in sorted(site.modules.items()):
        out.append(Candidate(f"In which Python version was the `{module}` module added?", version, "easy",
                             "module-added", [f"library/{module}.html"], [f"m:{module}"]))
    apis = [site.added[name] for name in sorted(site.added)]
    for api in apis:
        out.append(Candidate(f"In which Python version was {api} added?", api.version, "medium", "api-added",
                             [api.page], [f"m:{api.module}"]))
        editor = site.whatsnew.get(api.version, {}).get("person")
        if editor:
            out.append(Candidate(f"Who edited the \"What's New\" document of the Python version that added {api}?",
                                 editor, "hard", "editor-of-version", [api.page, f"whatsnew/{api.version}.html"],
                                 [f"m:{api.module}", f"v{api.version}"]))
    rng = random.Random(7)  # pairs are drawn, not enumerated (there are a million)
    for api in apis:
        other = apis[rng.randrange(len(apis))]
        if other.page == api.page or other.version == api.version or other.short == api.short:
            continue
        first = api if _key(api.version) < _key(other.version) else other
        out.append(Candidate(f"Which was added to Python first: {api} or {other}?", first.short, "hard",
                             "added-first", [api.page, other.page], [f"m:{api.module}", f"m:{other.module}"]))
    return out


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.split("."))


def _test_side(key: str, seed: int, test_share: float) -> bool:
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return digest[0] / 256 < test_share


def split(items: Iterable[Candidate], seed: int, test_share: float = 0.5) -> tuple[list[Candidate], list[Candidate]]:
    """Train and test never share a module or a "What's New" version; straddling questions are dropped."""
    train, test = [], []
    for item in items:
        sides = {_test_side(key, seed, test_share) for key in item.keys}
        if sides == {True}:
            test.append(item)
        elif sides == {False}:
            train.append(item)
    return train, test


ClosedBook = Callable[[list[str]], list[str]]  # questions → the model's answers without tools


def closed_book_model(model) -> ClosedBook:
    """Ask a chat model each question with no tools and no website (temperature 0 recommended)."""
    from tfgrpo_agents.prompts import CLOSED_BOOK_PROMPT

    def ask(questions: list[str]) -> list[str]:
        replies = model.batch([CLOSED_BOOK_PROMPT.format(question=q) for q in questions], config={"max_concurrency": 2})
        return [str(reply.content).strip() for reply in replies]

    return ask


def short_answer_right(reference: str, answer: str) -> bool:
    from tfgrpo_agents.core.rewards import ShortAnswerGrader
    from tfgrpo_agents.core.tasks import Task

    return ShortAnswerGrader().grade(Task(id="closed-book", question="", answer=reference), answer).reward >= 1.0


def generate(source: str | Path, out_dir: str | Path, *, public_url: str, train: int, test: int, seed: int = 0,
             ratio: str = "4:7:6", closed_book: ClosedBook | None = None,
             grade: Callable[[str, str], bool] = short_answer_right, model_id: str | None = None) -> dict[str, int]:
    """Write ``train.jsonl`` / ``test.jsonl`` (and ``closed_book.json``) into ``out_dir``.

    Candidates are drawn per difficulty with the seed; each is asked closed-book (answers cached in
    ``closed_book.json``, so only new questions reach the model) and dropped if answered right.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cache_path = out / "closed_book.json"
    cache = json.loads(cache_path.read_text(encoding="utf-8")) if cache_path.exists() else {"answers": {}}
    if closed_book is not None and model_id:
        cache["model"] = model_id

    def save_cache() -> None:  # after every batch of answers: an interrupted run loses nothing
        atomic_write_text(cache_path, json.dumps(cache, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
    site = read_site(SiteFiles(source))
    train_pool, test_pool = split(candidates(site), seed)
    weights = parse_ratio(ratio)
    counts: dict[str, int] = {}
    for name, pool, size in (("train", train_pool, train), ("test", test_pool, test)):
        chosen: list[Candidate] = []
        for difficulty, quota in proportional_counts(weights, size).items():
            bucket = [c for c in pool if c.difficulty == difficulty]
            random.Random(f"{seed}:{name}:{difficulty}").shuffle(bucket)
            chosen += _unknown(bucket, quota, cache["answers"], closed_book, grade, save_cache)
        rows = [_row(f"{name}-{i:03d}", item, site, public_url) for i, item in enumerate(chosen)]
        atomic_write_text(out / f"{name}.jsonl", "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n"
                                                         for r in rows))
        counts[name] = len(rows)
    save_cache()
    return counts


def _unknown(bucket: list[Candidate], quota: int, answers: dict[str, str], closed_book: ClosedBook | None,
             grade: Callable[[str, str], bool], saved: Callable[[], None]) -> list[Candidate]:
    """The first ``quota`` candidates the model does not answer right from memory (asked in batches)."""
    kept: list[Candidate] = []
    position = 0
    while len(kept) < quota and position < len(bucket):
        batch = bucket[position: position + (quota - len(kept)) + 2]
        position += len(batch)
        missing = [c.question for c in batch if c.question not in answers]
        if missing and closed_book is not None:
            answers.update(zip(missing, closed_book(missing)))
            saved()
        for item in batch:
            known = item.question in answers and grade(item.answer, answers[item.question])
            if not known and len(kept) < quota:
                kept.append(item)
    return kept


def _row(task_id: str, item: Candidate, site: Site, public_url: str) -> dict:
    return {
        "id": task_id, "question": item.question, "answer": item.answer, "root_url": public_url,
        "info": {"type": item.type, "difficulty": item.difficulty, "domain": item.kind, "lang": "en",
                 "golden_path": [site.golden_path(page) for page in item.pages],
                 "source_website": [public_url + page for page in item.pages]},
    }
