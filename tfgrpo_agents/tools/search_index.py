"""A local full-text index (SQLite FTS5, BM25 ranking) over a site's HTML pages.

The index lives in a SQLite file: a rebuild only re-reads pages whose content changed, removes
pages that disappeared, and commits in one transaction, so an interrupted build leaves the
previous index usable. URLs are stored relative to the site, so the same index serves a site
whatever port the local server gets.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import urljoin

from pydantic import BaseModel

from tfgrpo_agents._cache import cache_root
from tfgrpo_agents.tools.page import (  # raises MissingExtraError without [web]
    html_tree,
    main_text,
)
from tfgrpo_agents.tools.site_files import SiteFiles

_WORD = re.compile(r"\w+", re.UNICODE)
_APOSTROPHE = re.compile(r"(?<=\w)['’](?=\w)")
STOPWORDS = frozenset(
    "a an and are as at be by did do does for from has have how in is it its of on or that the this to "
    "was were what when where which who whom why with".split()
)
_SEPARATOR = re.compile(r"\s[—–|·-]\s")
# before a site's name at the end of its titles, ": " too: "Strings: GLib Reference Manual" (GTK-Doc, DocBook)
_SITE_NAME_SEPARATOR = re.compile(r"\s[—–|·-]\s|:\s")
_DOTTED = re.compile(r"\w+(?:\.\w+)*", re.UNICODE)
_NUMBERED = re.compile(r"(?<![\w.])\d+(?:\.\d+)+(?![\w.]*\w)|\b\d{4}-\d{2}-\d{2}\b")
INDEX_VERSION = "5"  # 3: XHTML pages and table layouts by their visible text; 4: "Title: Site"; 5: generated manuals
MAX_QUERY_TERMS = 24
TITLE_WEIGHT = 8.0
RRF_K = 5
CANDIDATES = 30


# a code name in a query: dotted (os.getresgid), with an underscore (thread_time), in camel case
# (SameFileError, TOMLDecodeError, getLogger) or called (fsdecode())
_CODE_NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+|[A-Za-z]\w*_\w+|\b(?=\w*[a-z])(?:[A-Z]\w*[A-Z]|[a-z]+[A-Z])\w*|\w+(?=\()")
SNIPPET_WORDS = 60
# a list item that may open a reference entry, with its kind ("class", "exception") before the name
_ENTRY_START = r"(?m)^[ \t]*-[ \t]*(?:[a-z]+[ \t]+)?"
# addresses in a query ("docs.python.org/3.11/", "index.html") are not code names
_WEB_ADDRESS = re.compile(r"\S*/\S*|\b(?:[\w-]+\.)+(?:org|com|net|io|dev|edu|gov|test|html?|php)\b")


def code_names(query: str) -> list[str]:
    """The query's code names, each followed by its shorter dotted suffixes, longest first.

    Documentation lists a class's members by their own names ("- autorange(…)" under
    ``timeit.Timer``), so ``timeit.Timer.autorange`` is also looked for as ``Timer.autorange`` and
    ``autorange``.
    """
    names: list[str] = []
    found = {name for name in _CODE_NAME.findall(_WEB_ADDRESS.sub(" ", query)) if len(name) > 3}
    for name in sorted(found, key=len, reverse=True):
        parts = name.split(".")
        # suffixes that start with a short part ("py" of "py.test") are too common to anchor on
        names += [".".join(parts[i:]) for i in range(len(parts)) if i == 0 or len(parts[i]) > 2]
    return list(dict.fromkeys(names))


def entry_pattern(name: str) -> re.Pattern[str]:
    """A reference entry for ``name``: "- os.getresgid()", "- exception shutil.SameFileError", "- autorange(…)"."""
    return re.compile(rf"{_ENTRY_START}(?:[\w.]+\.)?{re.escape(name)}(?![\w.])")


def declaration_pattern(name: str) -> re.Pattern[str] | None:
    """A C declaration of ``name`` opening a line: "#define g_assert_cmpint(n1, cmp, n2)", "gchar *g_strdup (…)",
    GTK-Doc's "g_io_channel_seek (…" (its type on the line before); GTK-Doc and Doxygen declare a symbol where
    they document it. None for a dotted name: C names have none."""
    if "." in name:
        return None
    escaped = re.escape(name)
    return re.compile(rf"^[ \t]*(?:#define[ \t]+{escaped}\b"  # a macro
                      rf"|(?:const[ \t]+)?(?!(?:def|class|return|print|await|yield|if|elif|while|for|with)\b)"
                      rf"\w+[ \t*]+{escaped}[ \t]*\("  # a typed declaration: "int foo(", "gchar *g_strdup ("
                      rf"|{escaped}[ \t]+\()", re.MULTILINE)


def _entry(body: str, names: Sequence[str]) -> tuple[re.Match[str], re.Pattern[str]] | None:
    """The first listed entry of one of ``names`` (best first), else the first declaration of one, with
    the pattern of where that entry ends."""
    for name in names:
        if found := entry_pattern(name).search(body):
            return found, _NEXT_ENTRY
    for name in names:
        declared = declaration_pattern(name)
        if declared is not None and (found := declared.search(body)):
            return found, _NEXT_DECLARATION
    return None


def anchored_snippet(body: str, names: Sequence[str], words: int = SNIPPET_WORDS) -> str | None:
    """The page's entry for one of the query's code ``names`` (from :func:`code_names`, best first), if it
    has one; else the text from a name's first mention.

    A window around the best-matching terms (FTS5's snippet) often opens on the previous entry of
    a reference page, with that entry's "New in version" note first, and a reader takes that note
    for the one asked about. The entry ("- os.getresgid()" and its description) ends where the next
    entry starts (a C declaration at the next declaration), so the next entry's notes are not shown either. At most ``words`` words: a longer
    entry is shown as its head and its last third (where notes and caveats go). None when there are
    no names or the page spells none of them.
    """
    found = _entry(body, names)
    if found:
        entry, following = found  # a listed entry ends at the next listed one, a declared one at the next declaration
        end = following.search(body, entry.end())
        text = body[entry.start():end.start() if end else len(body)].split()
        if len(text) <= words:
            return " ".join(text) + (" …" if end else "")
        # a long entry: its head and its tail, where reference pages put notes and caveats
        tail = words // 3
        return " ".join(text[:words - tail]) + " … " + " ".join(text[-tail:]) + " …"
    for name in names:
        mention = re.search(rf"(?<![\w.]){re.escape(name)}(?![\w.])", body)
        if mention:
            return "… " + " ".join(body[mention.start():].split()[:words]) + " …"
    return None


# the start of a reference entry: "- os.getuid()", "- class timeit.Timer(…)", "- exception shutil.Error"
_NEXT_ENTRY = re.compile(rf"{_ENTRY_START}(?:\w+\.[\w.]+|\w+\()")
# the start of the next declared symbol: "#define G_MAXINT32", "g_io_channel_seek_position (GIOChannel *channel,"
_NEXT_DECLARATION = re.compile(r"^[ \t]*(?:#define[ \t]+\w+|\w+[ \t]*\()", re.MULTILINE)


class SearchHit(BaseModel):
    title: str
    url: str
    snippet: str


class IndexStats(BaseModel):
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0


def fts_query(text: str) -> str:
    """Turn free text into a safe FTS5 query: quoted terms joined by OR.

    Quotes, dashes, colons, parentheses and FTS5 keywords in the user's text are never parsed
    as query syntax, so no query can raise an FTS5 syntax error. Empty when there are no words.
    """
    text = normalize(text)
    # a version or date ("15.20", "3.32.3", "2023-05-01") is one phrase: its parts in order, not any "20"
    phrases = list(dict.fromkeys(" ".join(_WORD.findall(n)) for n in _NUMBERED.findall(text)))
    terms = list(dict.fromkeys(t.lower() for t in _WORD.findall(_NUMBERED.sub(" ", text))))
    content = [t for t in terms if t not in STOPWORDS]
    terms = (phrases + (content or terms))[:MAX_QUERY_TERMS]
    return " OR ".join(f'"{t}"' for t in terms)


def versions(text: str) -> set[str]:
    """The dotted versions a text names ("15.20", "3.32.3")."""
    return {n for n in _NUMBERED.findall(text) if "." in n}


def normalize(text: str) -> str:
    """Fold in-word apostrophes (``What’s`` → ``Whats``) so queries and pages tokenize alike."""
    return _APOSTROPHE.sub("", text)


def page_title(document: bytes) -> str:
    tree = html_tree(document.decode("utf-8", errors="replace"))
    title = (tree.findtext(".//title") or "") if tree is not None else ""
    return " ".join(title.replace("¶", "").split())


def page_text(document: bytes) -> str:
    """Main text of a page (navigation and boilerplate dropped), or all its visible text when the
    extraction keeps too little (table layouts) or fails (XHTML it cannot read)."""
    markup = document.decode("utf-8", errors="replace")
    return main_text(markup, html_tree(markup)).replace("¶", "")


def common_title_suffix(titles: Iterable[str]) -> str:
    """The site name most titles end with (`` — Python 3.11.2 documentation``), or ``""``.

    It is the same on every page, so it only adds noise to title matching.
    """
    titles = [t for t in titles if t]
    endings = Counter()
    for title in titles:
        found = _SITE_NAME_SEPARATOR.findall(title)
        if found:
            endings[title[title.rindex(found[-1]):]] += 1
    if not endings:
        return ""
    ending, count = endings.most_common(1)[0]
    return ending if count >= 3 and count * 2 >= len(titles) else ""


def page_subject(title: str, query_words: set[str]) -> str | None:
    """The name the page is about, when the query holds it: ``tomllib`` for "tomllib — Parse TOML
    files" and "when was tomllib added". Such a page opens with what the query asks (its version
    notes, its summary), and lists the members the query may name ("plistlib loads")."""
    parts = _SEPARATOR.split(title, maxsplit=1)
    subject = parts[0].strip()
    if len(parts) == 2 and _DOTTED.fullmatch(subject) and subject.lower() in query_words:
        return subject
    return None


def strip_suffix(title: str, suffix: str) -> str:
    if suffix and title.endswith(suffix) and len(title) > len(suffix):
        return title[: -len(suffix)].strip()
    return title


def title_terms(text: str) -> set[str]:
    """Terms for title matching; dotted numbers such as ``3.11`` stay whole."""
    return {t.lower() for t in _DOTTED.findall(normalize(text))}


class LocalSearchIndex:
    """BM25 search over pages, with the title weighted above the body."""

    def __init__(self, db_path: str | os.PathLike[str], *, base_url: str = "") -> None:
        self.db_path = Path(db_path)
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self.base_url = base_url
        self._conn = sqlite3.connect(self.db_path, check_same_thread=False)
        self._conn.executescript(
            """
            CREATE TABLE IF NOT EXISTS docs (path TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, title TEXT);
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
            CREATE VIRTUAL TABLE IF NOT EXISTS pages USING fts5(
                title, body, path UNINDEXED, tokenize = 'porter unicode61');
            """
        )
        if self._meta("version") != INDEX_VERSION:  # built by another version: start over
            with self._conn:
                self._conn.execute("DELETE FROM docs")
                self._conn.execute("DELETE FROM pages")
                self._conn.execute("DELETE FROM meta")
                self._conn.execute("INSERT INTO meta VALUES ('version', ?)", (INDEX_VERSION,))
        self.title_suffix = self._meta("title_suffix") or ""
        self._title_weights: dict[str, float] | None = None

    @classmethod
    def for_site(
        cls,
        source: str | os.PathLike[str] | SiteFiles,
        *,
        base_url: str = "",
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> LocalSearchIndex:
        """Open (building or refreshing as needed) the cached index of a site; an unchanged site
        (its fingerprint: the archive's size and time, or each file's) is not read at all."""
        files = source if isinstance(source, SiteFiles) else SiteFiles(source)
        key = hashlib.sha1(str(files.source.resolve()).encode()).hexdigest()[:16]
        directory = Path(cache_dir) if cache_dir else cache_root() / "index"
        index = cls(directory / f"{files.source.name}-{key}.sqlite", base_url=base_url)
        fingerprint = files.fingerprint()
        if index._meta("source") != fingerprint:  # else nothing changed: no page is read or hashed
            index.update(files)
            with index._conn:
                index._conn.execute("INSERT OR REPLACE INTO meta VALUES ('source', ?)", (fingerprint,))
        return index

    def update(self, files: SiteFiles, paths: Iterable[str] | None = None) -> IndexStats:
        """Bring the index in line with ``files`` (all HTML pages unless ``paths`` is given)."""
        stats = IndexStats()
        wanted = list(paths) if paths is not None else files.html_paths()
        known = dict(self._conn.execute("SELECT path, fingerprint FROM docs"))
        titles = dict(self._conn.execute("SELECT path, title FROM docs"))
        changed: dict[str, tuple[str, bytes]] = {}
        for path in wanted:
            document = files.read(path)
            if document is None:
                continue
            fingerprint = hashlib.sha1(document).hexdigest()
            if known.get(path) == fingerprint:
                stats.unchanged += 1
                continue
            changed[path] = (fingerprint, document)
            titles[path] = page_title(document)
        removed = set(known) - set(wanted) if paths is None else set()
        suffix = common_title_suffix(t for p, t in titles.items() if p not in removed)
        with self._conn:  # one transaction: all of the refresh or none of it
            for path, (fingerprint, document) in changed.items():
                if path in known:
                    self._conn.execute("DELETE FROM pages WHERE path = ?", (path,))
                    stats.updated += 1
                else:
                    stats.added += 1
                self._conn.execute("INSERT OR REPLACE INTO docs VALUES (?, ?, ?)", (path, fingerprint, titles[path]))
                self._conn.execute(
                    "INSERT INTO pages VALUES (?, ?, ?)",
                    (normalize(strip_suffix(titles[path], suffix)), normalize(page_text(document)), path),
                )
            for path in removed:
                self._conn.execute("DELETE FROM pages WHERE path = ?", (path,))
                self._conn.execute("DELETE FROM docs WHERE path = ?", (path,))
                stats.removed += 1
            if suffix != self._meta("title_suffix"):
                for path, title in self._conn.execute("SELECT path, title FROM docs").fetchall():
                    if path not in changed:
                        self._conn.execute("UPDATE pages SET title = ? WHERE path = ?",
                                           (normalize(strip_suffix(title, suffix)), path))
                self._conn.execute("INSERT OR REPLACE INTO meta VALUES ('title_suffix', ?)", (suffix,))
        self.title_suffix = suffix
        self._title_weights = None
        return stats

    def _meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def __len__(self) -> int:
        return self._conn.execute("SELECT count(*) FROM docs").fetchone()[0]

    def search(self, query: str, max_results: int = 5) -> list[SearchHit]:
        """Pages for ``query``, best first.

        Three rankings are fused by reciprocal rank: BM25 over title and body, BM25 over titles
        alone (a page whose title names the subject can drown in body matches of common words),
        and the query's terms the title holds, each weighed by how few titles hold it (``3.11`` kept
        whole, so the 3.11 page beats the 3.1 page; on a Python site "python" and "version" in a
        title say little, "tomllib" says much).
        """
        match = fts_query(query)
        if not match:
            return []
        # no snippet() here: FTS5 would compute it for every matching row before the LIMIT
        sql = f"""
            SELECT pages.path, docs.title
            FROM pages JOIN docs ON docs.path = pages.path WHERE pages MATCH ?
            ORDER BY bm25(pages, {TITLE_WEIGHT}, 1.0) LIMIT ?
        """
        limit = max(CANDIDATES, max_results)
        title_match = f"title : ({match})"
        overall = self._conn.execute(sql, (match, limit)).fetchall()
        by_title = self._conn.execute(sql, (title_match, limit)).fetchall()
        rows = {row[0]: row for row in by_title} | {row[0]: row for row in overall}
        matched_by = {row[0]: title_match for row in by_title} | {row[0]: match for row in overall}
        wanted = title_terms(query) - STOPWORDS or title_terms(query)
        weight = self._title_term_weights()

        def overlap(path: str) -> float:
            title = strip_suffix(rows[path][1] or "", self.title_suffix)
            return sum(weight.get(t, weight[""]) for t in wanted & title_terms(title))

        rankings = [
            [row[0] for row in overall],
            [row[0] for row in by_title],
            sorted(rows, key=overlap, reverse=True),
        ]
        fused: dict[str, float] = {}
        for ranking in rankings:
            for rank, path in enumerate(ranking):
                fused[path] = fused.get(path, 0.0) + 1.0 / (RRF_K + rank)
        ranked = sorted(fused, key=fused.__getitem__, reverse=True)
        # the site's own version ("python 3.11" on the 3.11.2 docs) frames the query; it does not ask for a page
        site_versions = versions(self.title_suffix)
        asked = {v for v in versions(query) if not any(s == v or s.startswith(v + ".") for s in site_versions)}
        if asked:
            # "15.20 release date": the page titled for 15.20 first, pages titled for other versions last
            def tier(path: str) -> int:
                titled = versions(strip_suffix(rows[path][1] or "", self.title_suffix))
                return 0 if titled & asked else (2 if titled else 1)
            ranked.sort(key=tier)
        # the site's own name ("GLib" of "GLib Reference Manual") is not a code name the query asks about
        names = [n for n in code_names(query) if n.lower() not in self.title_suffix.lower()]
        bodies = self._bodies(ranked) if names else {}  # read once: for the ranking and the snippets
        if names:
            # the page that defines a named object ("- os.getresgid()") is the page about it, whatever
            # "python 3.11" or a shared "os" in other titles say
            # (a C manual's pages declare it instead: those count when no page lists it)
            entries = [entry_pattern(name) for name in names]
            defining = {p for p, body in bodies.items() if any(e.search(body) for e in entries)}
            if not defining:
                declared = [d for name in names if (d := declaration_pattern(name)) is not None]
                defining = {p for p, body in bodies.items() if any(d.search(body) for d in declared)}
            ranked = [p for p in ranked if p in defining] + [p for p in ranked if p not in defining]
        best = ranked[:max_results]
        windows = self._windows(best, matched_by)
        words = {w.lower() for w in _WORD.findall(query)}
        hits = []
        for p in best:
            title = strip_suffix(rows[p][1] or "", self.title_suffix) or p
            subject = page_subject(title, words)
            # on the page about "plistlib", "plistlib loads" asks for its entry "- plistlib.loads(…)"
            members = [f"{subject}.{w}" for w in sorted(words - STOPWORDS) if subject and w != subject.lower()]
            body = bodies.get(p) or (self._bodies([p]).get(p) if subject else None)
            hits.append(SearchHit(title=title, url=urljoin(self.base_url, p),
                                  snippet=self._snippet(body, names + members, windows.get(p, ""),
                                                        head_first=bool(subject))))
        return hits

    def _windows(self, paths: list[str], matched_by: dict[str, str]) -> dict[str, str]:
        """FTS5's best-matching window of each returned page, under the match that found it."""
        windows: dict[str, str] = {}
        for expression in set(matched_by[p] for p in paths):
            chosen = [p for p in paths if matched_by[p] == expression]
            marks = ",".join("?" * len(chosen))
            windows.update(self._conn.execute(
                f"SELECT path, snippet(pages, 1, '', '', ' … ', 24) FROM pages WHERE pages MATCH ? "
                f"AND path IN ({marks})", [expression, *chosen]))
        return windows

    def _bodies(self, paths: list[str]) -> dict[str, str]:
        marks = ",".join("?" * len(paths))
        return dict(self._conn.execute(f"SELECT path, body FROM pages WHERE path IN ({marks})", paths))

    def _title_term_weights(self) -> dict[str, float]:
        """Each title term's inverse document frequency over the titles; ``""`` for a term no title has."""
        if self._title_weights is None:
            titles = [title_terms(t or "") for (t,) in self._conn.execute("SELECT title FROM pages")]
            counts = Counter(term for terms in titles for term in terms)
            self._title_weights = {t: math.log((len(titles) + 1) / (n + 0.5)) for t, n in counts.items()}
            self._title_weights[""] = math.log((len(titles) + 1) / 0.5)
        return self._title_weights

    @staticmethod
    def _snippet(body: str | None, names: list[str], best_window: str, head_first: bool) -> str:
        anchored = anchored_snippet(body, names) if body and names else None
        if anchored:
            return anchored
        if body and head_first:
            return " ".join(body.split()[:SNIPPET_WORDS]) + " …"
        return " ".join(best_window.split())

    def close(self) -> None:
        self._conn.close()
