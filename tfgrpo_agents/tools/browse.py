"""``browse(url, goal)``: fetch a page and return the parts that matter for the goal, within a budget."""

from __future__ import annotations

import sqlite3
from functools import lru_cache

from tfgrpo_agents._text import clip_to_tokens, estimate_tokens
from tfgrpo_agents.tools.fetch import PageFetcher
from tfgrpo_agents.tools.page import Link, Page, parse_html, parse_text
from tfgrpo_agents.tools.search_index import fts_query, normalize, title_terms
from tfgrpo_agents.tools.url_policy import UrlPolicy


def rank_passages(passages: list[str], goal: str) -> list[int]:
    """Indices of the passages that match ``goal``, best first (BM25); ranking, not an LLM call."""
    query = fts_query(goal)
    if not query or not passages:
        return []
    with sqlite3.connect(":memory:") as conn:
        conn.execute("CREATE VIRTUAL TABLE p USING fts5(body, tokenize = 'porter unicode61')")
        conn.executemany("INSERT INTO p(rowid, body) VALUES (?, ?)",
                         [(i, normalize(text)) for i, text in enumerate(passages)])
        return [row[0] for row in conn.execute("SELECT rowid FROM p WHERE p MATCH ? ORDER BY bm25(p)", (query,))]


def select_passages(passages: list[str], goal: str, budget: int) -> list[int]:
    """The head passage, then the best-matching ones, then page order, until ``budget`` tokens."""
    order = [0, *rank_passages(passages, goal), *range(len(passages))]
    chosen: list[int] = []
    used = 0
    for index in dict.fromkeys(i for i in order if i < len(passages)):
        cost = estimate_tokens(passages[index])
        if chosen and used + cost > budget:
            continue
        chosen.append(index)
        used += cost
    return sorted(chosen)


def order_links(links: list[Link], goal: str) -> list[Link]:
    """Links whose text or address mentions the goal's words first, the rest in page order."""
    wanted = title_terms(goal)
    if not wanted:
        return links
    def hits(link: Link) -> int:
        return len(wanted & (title_terms(link.text) | title_terms(link.url.replace("/", " ").replace("-", " "))))
    return sorted(links, key=lambda link: -hits(link))


class Browser:
    """Visit pages for an agent.

    ``url_rewrites`` maps URL prefixes onto others, e.g. ``{"https://docs.python.org/3.11/":
    "http://127.0.0.1:8000/"}`` so a model that writes the public address of a mirrored site
    lands on the local copy.
    """

    def __init__(
        self,
        fetcher: PageFetcher | None = None,
        *,
        policy: UrlPolicy | None = None,
        text_budget: int = 900,
        max_links: int = 25,
        url_rewrites: dict[str, str] | None = None,
    ) -> None:
        self.fetcher = fetcher or PageFetcher(policy=policy)
        self.text_budget = text_budget
        self.max_links = max_links
        self.url_rewrites = dict(url_rewrites or {})

    def rewrite(self, url: str) -> str:
        url = url.strip().strip("<>\"'")
        for prefix, replacement in self.url_rewrites.items():
            if url.startswith(prefix):
                return replacement + url[len(prefix):]
        return url

    def visit(self, url: str) -> tuple[Page, bool]:
        """The parsed page and whether its body was cut at the byte cap. Raises ``FetchError``."""
        fetched = self.fetcher.fetch(self.rewrite(url))
        return parsed_page(fetched.text, fetched.url, fetched.is_html), fetched.truncated

    def browse(self, url: str, goal: str = "") -> str:
        """The page as text: title, URL, head, passages relevant to ``goal``, numbered links."""
        page, truncated = self.visit(url)
        return render_page(page, goal, text_budget=self.text_budget, max_links=self.max_links, truncated=truncated)


@lru_cache(maxsize=64)
def parsed_page(text: str, url: str, is_html: bool) -> Page:
    """The page parsed once per content: the rollouts of a group, and the tasks of a site, open the same
    pages again and again. Keyed on the fetched text itself, so a changed page is parsed anew; the
    ``Page`` is shared, and nothing downstream mutates it."""
    return parse_html(text, url) if is_html else parse_text(text, url)


def render_page(page: Page, goal: str, *, text_budget: int = 900, max_links: int = 25, truncated: bool = False) -> str:
    lines = [f"Title: {page.title or '(untitled)'}", f"URL: {page.url}"]
    lines += [f"{key.capitalize()}: {value}" for key, value in page.metadata.items()]
    chosen = select_passages(page.passages, goal, text_budget)
    lines.append("")
    if not chosen:
        lines.append("(this page has no readable text)")
    previous = -1
    for index in chosen:
        if index != previous + 1:
            lines.append("[…]")
        passage = page.passages[index]
        if estimate_tokens(passage) > text_budget:  # only a lone head passage can be over: cut it to the budget
            passage = clip_to_tokens(passage, text_budget) + " [… passage cut at the text budget]"
        lines.append(passage)
        previous = index
    hidden = len(page.passages) - len(chosen)
    if chosen and hidden:
        lines.append(f"[… {hidden} more passage(s) not shown; browse again with a different goal to see them]")
    if truncated:
        lines.append("[the page was cut at the size limit]")
    if page.links:
        shown = order_links(page.links, goal)[:max_links]
        lines += ["", f"Links ({len(shown)} of {len(page.links)}; open one by its URL):"]
        lines += [f"[{number}] {link.text}: {link.url}" for number, link in enumerate(shown, start=1)]
    return "\n".join(lines)
