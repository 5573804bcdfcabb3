"""Write a documentation QA set: draw per difficulty, drop what the model knows closed-book, write the rows."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

from tfgrpo_agents._atomic import atomic_write_text
from tfgrpo_agents.datasets.docs_qa.pipeline import (
    Candidate,
    LinkGraph,
    reachable,
    split,
    stated,
)
from tfgrpo_agents.datasets.docs_qa.profiles import DocsProfile, profile_for
from tfgrpo_agents.evaluation.splits import parse_ratio, proportional_counts
from tfgrpo_agents.tools.site_files import SiteFiles

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
