"""What every documentation QA set shares: the link graph, the split, the closed-book filter, the rows.

A profile (one per documentation generator) reads a site's facts and turns them into
:class:`Candidate` questions; this module does the rest the same way for every site, so a task set
over Django or a GTK-Doc manual is built exactly like the one over the Python docs.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import random
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lxml.html

from tfgrpo_agents._atomic import atomic_write_text
from tfgrpo_agents.evaluation.splits import parse_ratio, proportional_counts
from tfgrpo_agents.tools.site_files import SiteFiles

if TYPE_CHECKING:
    from tfgrpo_agents.datasets.docs_qa.profiles import DocsProfile

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


def generate(source: str | Path, out_dir: str | Path, *, profile: DocsProfile | str = "auto",
             public_url: str | None = None, train: int, test: int, seed: int = 0, ratio: str = "4:7:6",
             closed_book: ClosedBook | None = None, grade: Callable[[str, str], bool] = short_answer_right,
             model_id: str | None = None) -> dict[str, int]:
    """Write ``train.jsonl`` / ``test.jsonl`` (and ``closed_book.json``) into ``out_dir``.

    Candidates are drawn per difficulty with the seed; each is asked closed-book (answers cached in
    ``closed_book.json``, so only new questions reach the model) and dropped if answered right.
    """
    from tfgrpo_agents.datasets.docs_qa.profiles import profile_for

    files = SiteFiles(source)
    chosen_profile = profile_for(files, profile)
    public_url = public_url or chosen_profile.public_url
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cache_path = out / "closed_book.json"
    cache = json.loads(cache_path.read_text(encoding="utf-8")) if cache_path.exists() else {"answers": {}}
    if closed_book is not None and model_id:
        cache["model"] = model_id

    def save_cache() -> None:  # after every batch of answers: an interrupted run loses nothing
        atomic_write_text(cache_path, json.dumps(cache, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
    site = chosen_profile.read(files)
    pool = stated(files, reachable(site, chosen_profile.candidates(site)))
    train_pool, test_pool = split(pool, seed)
    weights = parse_ratio(ratio)
    counts: dict[str, int] = {}
    for name, bucket_pool, size in (("train", train_pool, train), ("test", test_pool, test)):
        chosen: list[Candidate] = []
        for difficulty, quota in proportional_counts(weights, size).items():
            bucket = [c for c in bucket_pool if c.difficulty == difficulty]
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


def _row(task_id: str, item: Candidate, site: LinkGraph, public_url: str) -> dict:
    return {
        "id": task_id, "question": item.question, "answer": item.answer, "root_url": public_url,
        "info": {"type": item.type, "difficulty": item.difficulty, "domain": item.kind, "lang": "en",
                 "golden_path": [site.golden_path(page) for page in item.pages],
                 "source_website": [public_url + page for page in item.pages]},
    }
