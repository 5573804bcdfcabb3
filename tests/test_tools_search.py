"""Local FTS5 search: safe queries, ranking, incremental and crash-safe index builds; ddgs mapping."""

import pytest

from tfgrpo_agents.tools import (
    DDGSBackend,
    LocalBackend,
    LocalSearchIndex,
    SiteFiles,
    fts_query,
    search_index,
    web_search_tool,
)


@pytest.fixture
def index(site, tmp_path):
    return LocalSearchIndex.for_site(site, base_url="http://127.0.0.1:9999/", cache_dir=tmp_path / "cache")


def test_finds_pages_and_builds_urls_from_the_base(index):
    hits = index.search("registration deadline")
    assert hits[0].url == "http://127.0.0.1:9999/dates.html"
    assert hits[0].title == "Important Dates"
    assert "registration deadline" in hits[0].snippet.lower()


@pytest.mark.parametrize("query", ['"unbalanced', "deadline -", "title: deadline", "NEAR(a b)", "a AND OR NOT",
                                   "*", "^start", "(", "'; DROP TABLE docs; --", "émigré ünïcode", "   "])
def test_hostile_queries_never_raise(index, query):
    hits = index.search(query)
    assert isinstance(hits, list)


def test_fts_query_quotes_terms_and_drops_stopwords():
    assert fts_query('who is the "editor": -x') == '"editor" OR "x"'
    assert fts_query("the of") == '"the" OR "of"', "all-stopword queries keep their words"
    assert fts_query("What’s new") == '"whats" OR "new"'
    assert fts_query("!!!") == ""


def test_title_match_ranks_3_11_above_3_1(index):
    assert index.search("What's new in release 3.11", 2)[0].url.endswith("whatsnew/3.11.html")
    assert index.search("What's new in release 3.1", 2)[0].url.endswith("whatsnew/3.1.html")


def test_index_is_cached_and_incremental(site, tmp_path):
    cache = tmp_path / "cache"
    first = LocalSearchIndex.for_site(site, cache_dir=cache)
    pages = len(first)
    first.close()
    again = LocalSearchIndex(first.db_path)
    stats = again.update(SiteFiles(site))
    assert stats.unchanged == pages and stats.added == stats.updated == stats.removed == 0
    (site / "dates.html").write_text("<html><title>Important Dates</title><body>Deadline moved to June.</body></html>")
    (site / "venue.html").unlink()
    (site / "new.html").write_text("<html><title>Sponsors</title><body>Gold sponsor is Acme.</body></html>")
    stats = again.update(SiteFiles(site))
    assert (stats.added, stats.updated, stats.removed) == (1, 1, 1)
    assert again.search("gold sponsor")[0].url.endswith("new.html")
    assert again.search("moved June")[0].url.endswith("dates.html")
    assert not any(hit.url.endswith("venue.html") for hit in again.search("Halvorsen Pavilion"))


def test_an_interrupted_update_keeps_the_previous_index(site, tmp_path, monkeypatch):
    index = LocalSearchIndex.for_site(site, cache_dir=tmp_path / "cache")
    before = len(index)
    for name in ("dates.html", "venue.html"):
        (site / name).write_text(f"<html><title>{name}</title><body>rewritten</body></html>")
    real = search_index.page_text
    calls = {"n": 0}

    def flaky(document):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed mid-build")
        return real(document)

    monkeypatch.setattr(search_index, "page_text", flaky)
    with pytest.raises(KeyboardInterrupt):
        index.update(SiteFiles(site))
    assert len(index) == before
    assert index.search("registration deadline")[0].url.endswith("dates.html"), "old content still searchable"
    monkeypatch.setattr(search_index, "page_text", real)
    assert index.update(SiteFiles(site)).updated == 2


def test_search_tool_formats_hits_and_survives_backend_failure(index):
    tool = web_search_tool(LocalBackend(index))
    text = tool.invoke({"query": "registration deadline"})
    assert text.startswith("Results for 'registration deadline':") and "URL: http://127.0.0.1:9999/dates.html" in text
    assert "No results" in tool.invoke({"query": "zzzyqx"})

    class Broken:
        def search(self, query, max_results=5):
            raise ConnectionError("engine down")

    assert "Search failed: ConnectionError: engine down" in web_search_tool(Broken()).invoke({"query": "x"})


def test_ddgs_backend_maps_results_and_retries_rate_limits(monkeypatch):
    import ddgs
    from ddgs.exceptions import RatelimitException

    calls = []

    class FakeDDGS:
        def __init__(self, **kwargs):
            calls.append(("init", kwargs))

        def text(self, query, **kwargs):
            calls.append(("text", query, kwargs))
            if sum(1 for c in calls if c[0] == "text") < 3:
                raise RatelimitException("slow down")
            return [{"title": "T", "href": "https://example.org", "body": "snippet"}] * 9

    monkeypatch.setattr(ddgs, "DDGS", FakeDDGS)
    backend = DDGSBackend(backend="duckduckgo", region="de-de", retries=3)
    monkeypatch.setattr("tenacity.nap.time.sleep", lambda s: None)
    hits = backend.search("python", max_results=4)
    assert [(h.title, h.url, h.snippet) for h in hits] == [("T", "https://example.org", "snippet")] * 4
    text_calls = [c for c in calls if c[0] == "text"]
    assert len(text_calls) == 3
    assert text_calls[-1][2] == {"region": "de-de", "safesearch": "moderate", "max_results": 4, "backend": "duckduckgo"}


def _reference_page(tmp_path):
    """A Sphinx-like reference page: entries as <dl>, each with its own "New in version" note."""
    from tests.sites import page

    def entry(name, text, added):
        return (f'<dl class="function"><dt id="{name}">{name}()</dt><dd><p>{text}</p>'
                f'<div class="versionadded"><p>New in version {added}.</p></div></dd></dl>')

    body = ("<p>This module offers access to the operating system.</p>"
            + entry("os.getresuid", "Return a tuple denoting the real, effective and saved user ids.", "3.1")
            + entry("os.getresgid", "Return a tuple denoting the real, effective and saved group ids.", "3.2")
            + entry("os.getuid", "Return the current real user id of the process.", "3.9"))
    root = tmp_path / "ref"
    root.mkdir()
    (root / "os.html").write_text(page("os — Miscellaneous interfaces", body), encoding="utf-8")
    (root / "other.html").write_text(page("Other", "<p>Nothing about group ids here, only user ids.</p>"),
                                     encoding="utf-8")
    return LocalSearchIndex.for_site(root, cache_dir=tmp_path / "cache")


def test_a_snippet_opens_on_the_entry_the_query_names_with_its_own_note(tmp_path):
    """Seen with the 1.5B agent: a window opening on the previous entry showed that entry's
    "New in version" first, and the agent answered with it."""
    index = _reference_page(tmp_path)
    snippet = index.search("python 3.11 os.getresgid() added")[0].snippet
    assert snippet.startswith("- os.getresgid()"), snippet
    assert "New in version 3.2" in snippet
    assert "3.1." not in snippet and "3.9" not in snippet, "a neighbouring entry's note is shown"
    # no code name in the query: the best-matching window, as before
    assert not index.search("real group ids")[0].snippet.startswith("- os.getresgid()")


def test_code_names_skip_web_addresses_and_include_member_names():
    assert search_index.code_names("timeit.Timer.autorange() on docs.python.org/3.11/") == [
        "timeit.Timer.autorange", "Timer.autorange", "autorange"]
    assert search_index.code_names("What's New for Python 2.0 on index.html, e.g. 3.11") == []
    long_entry = "- os.walk(top)\n- " + " ".join(f"w{i}" for i in range(100)) + " New in version 3.5.\n- os.sep"
    snippet = search_index.anchored_snippet(long_entry, search_index.code_names("os.walk"))
    assert snippet.startswith("- os.walk(top)") and "New in version 3.5." in snippet and "os.sep" not in snippet
    assert len(snippet.split()) <= search_index.SNIPPET_WORDS + 2


def _module_pages(tmp_path):
    """A module's page (version note at its head, members below it) next to pages whose titles hold
    the site's common words."""
    from tests.sites import page

    root = tmp_path / "mods"
    root.mkdir()
    (root / "tomllib.html").write_text(page("tomllib — Parse TOML files", (
        "<p>New in version 3.11.</p><p>This module parses TOML.</p>"
        + "<p>Python version strings in TOML look like this, and python tools read them.</p>" * 6
        + '<dl class="function"><dt id="tomllib.loads">tomllib.loads(s)</dt><dd><p>Load TOML from a string.</p>'
          '<div class="versionadded"><p>New in version 3.12.</p></div></dd></dl>'
        + '<dl class="exception"><dt id="tomllib.TOMLDecodeError">exception tomllib.TOMLDecodeError</dt>'
          '<dd><p>Raised on invalid TOML.</p><div class="versionadded"><p>New in version 3.13.</p></div></dd></dl>')),
        encoding="utf-8")
    for name, title in (("legacy", "Distributing Python Modules (Legacy version)"),
                        ("install", "Installing Python Modules (Legacy version)")):
        (root / f"{name}.html").write_text(page(title, "<p>Python version notes for old tools.</p>"),
                                           encoding="utf-8")
    return LocalSearchIndex.for_site(root, cache_dir=tmp_path / "cache")


def test_the_page_about_a_named_module_opens_on_its_head_and_lists_its_members(tmp_path):
    """Seen in the recorded searches: "python tomllib version" showed a code sample mentioning
    "python-version", not the module's own "New in version 3.11" at the top of its page."""
    index = _module_pages(tmp_path)
    head = index.search("python tomllib version")[0]
    assert head.url.endswith("tomllib.html"), "a title word no other title holds outranks 'python' and 'version'"
    assert head.snippet.startswith("tomllib — Parse TOML files New in version 3.11.")
    member = index.search("python tomllib loads version")[0].snippet
    assert member.startswith("- tomllib.loads(s)") and "3.12" in member and "3.11" not in member
    camel = index.search("when was TOMLDecodeError added")[0].snippet
    assert camel.startswith("- exception tomllib.TOMLDecodeError") and "3.13" in camel


def test_code_names_include_camel_case_and_called_names():
    assert search_index.code_names("shutil SameFileError") == ["SameFileError"]
    assert search_index.code_names("when was fsdecode() added") == ["fsdecode"]
    assert search_index.code_names("logging getLogger, TOMLDecodeError") == ["TOMLDecodeError", "getLogger"]
    assert search_index.code_names("Python Modules (Legacy version) in JSON") == []


def test_the_page_defining_a_named_object_ranks_first(tmp_path):
    """Recorded: "python 3.11 os.getresgid" put What's New in 3.11 and os.path (sharing "os") above
    the os page that defines it, and the agent answered 3.11."""
    from tests.sites import page

    root = tmp_path / "rank"
    root.mkdir()
    (root / "os.html").write_text(page("os — Miscellaneous interfaces", (
        "<p>Operating system interfaces.</p>" * 20
        + '<dl class="function"><dt id="os.getresgid">os.getresgid()</dt><dd><p>Group ids.</p>'
          '<div class="versionadded"><p>New in version 3.2.</p></div></dd></dl>')), encoding="utf-8")
    (root / "os.path.html").write_text(page("os.path — Pathnames", "<p>Unlike os.getresgid, os.path is pure.</p>"),
                                       encoding="utf-8")
    (root / "new.html").write_text(page("What's New In Python 3.11", "<p>Python 3.11 is faster.</p>"),
                                   encoding="utf-8")
    index = LocalSearchIndex.for_site(root, cache_dir=tmp_path / "cache")
    hits = index.search("python 3.11 os.getresgid")
    assert hits[0].url == "os.html", [h.url for h in hits]
    assert "New in version 3.2" in hits[0].snippet
    assert index.search("python 3.11 faster")[0].title == "What's New In Python 3.11", "no code name: as before"
