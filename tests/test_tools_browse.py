"""Search + browse end to end over real HTTP on loopback, and the fetcher's safety rules."""

import re

import pytest

from tests.sites import BURIED_FACT, DEEP_FACT, FACT, ScriptedWeb, make_site
from tfgrpo_agents._text import estimate_tokens
from tfgrpo_agents.tools import (
    Browser,
    LocalWeb,
    PageFetcher,
    UrlPolicy,
    web_browse_tool,
)


@pytest.fixture
def web(tmp_path):
    with LocalWeb(make_site(tmp_path / "site"), cache_dir=tmp_path / "cache",
                  public_url="https://orbitconf.example/") as web:
        yield web


def tools_by_name(web):
    return {tool.name: tool for tool in web.tools()}


def link_to(text: str, page: str) -> str:
    match = re.search(rf"\[\d+\] {re.escape(text)}: (\S+)", page)
    assert match, f"no link {text!r} in:\n{page}"
    return match.group(1)


def test_search_then_browse_finds_the_fact(web):
    tools = tools_by_name(web)
    results = tools["web_search"].invoke({"query": "registration deadline"})
    url = re.search(r"URL: (\S+)", results).group(1)
    page = tools["web_browse"].invoke({"url": url, "goal": "registration deadline"})
    assert page.startswith("Title: Important Dates")
    assert FACT in page


def test_walks_links_two_clicks_deep_from_the_root(web):
    browse = tools_by_name(web)["web_browse"]
    root = browse.invoke({"url": web.url, "goal": "workshop chair"})
    assert not re.search(r"\[\d+\] Self:", root), "links to the page itself are dropped"
    program = browse.invoke({"url": link_to("Program", root), "goal": "workshop chair"})
    workshops = browse.invoke({"url": link_to("Workshops", program), "goal": "workshop chair"})
    assert link_to("Workshops", program) == web.url + "program/workshops.html"
    assert DEEP_FACT in workshops


def test_long_page_returns_the_relevant_passage_within_budget(web):
    page = tools_by_name(web)["web_browse"].invoke({"url": web.url + "venue.html", "goal": "keynote venue room"})
    text_part = page.split("\nLinks (")[0]
    assert BURIED_FACT in page
    assert "Paragraph 0 about the venue" in page, "the page head is always shown"
    assert estimate_tokens(text_part) <= 900 + 150
    assert "more passage(s) not shown" in page
    assert "Paragraph 120 about the venue" not in page


def test_public_url_of_a_mirrored_site_maps_to_the_local_copy(web):
    page = tools_by_name(web)["web_browse"].invoke({"url": "https://orbitconf.example/dates.html"})
    assert FACT in page and f"URL: {web.url}dates.html" in page


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://localhost:8080/", "private, loopback or reserved"),
        ("http://10.1.2.3/admin", "private, loopback or reserved"),
        ("http://169.254.169.254/latest/meta-data", "private, loopback or reserved"),
        ("http://[::1]:9000/", "private, loopback or reserved"),
        ("http://192.168.0.1/", "private, loopback or reserved"),
        ("file:///etc/passwd", "scheme 'file' is not allowed"),
        ("ftp://example.org/x", "scheme 'ftp' is not allowed"),
        ("not a url", "scheme '(none)' is not allowed"),
    ],
)
def test_private_addresses_and_other_schemes_are_blocked(url, reason):
    result = web_browse_tool(Browser()).invoke({"url": url})
    assert result.startswith("Could not open the page. Blocked:") and reason in result


def test_loopback_is_blocked_by_default_and_allowed_explicitly(web):
    assert "Blocked" in web_browse_tool(Browser()).invoke({"url": web.url})
    allowed = Browser(policy=UrlPolicy().allowing(web.url))
    assert "Welcome to Orbit Conf" in allowed.browse(web.url)
    assert UrlPolicy().allowing(web.url).check("http://127.0.0.1:1/") is not None, "only that origin is allowed"


@pytest.fixture
def scripted():
    with ScriptedWeb() as server:
        yield server


def fetcher_for(server, **kwargs):
    return PageFetcher(policy=UrlPolicy().allowing(server.url), **kwargs)


def browse(server, path, **kwargs):
    return web_browse_tool(Browser(fetcher_for(server, **kwargs))).invoke({"url": server.url + path})


def test_redirects_are_followed_checked_and_capped(scripted):
    assert "You arrived after a redirect." in browse(scripted, "/hop")
    blocked = browse(scripted, "/redirect-private")
    assert "Blocked" in blocked and "169.254.169.254" in blocked
    assert "Too many redirects (more than 3)" in browse(scripted, "/loop", max_redirects=3)


def test_timeouts_become_messages(scripted):
    assert "Timed out after 0.5s" in browse(scripted, "/slow", timeout=0.5)


def test_binary_content_is_refused(scripted):
    assert "application/pdf content, not a web page" in browse(scripted, "/pdf")
    assert "binary content" in browse(scripted, "/binary")


def test_size_cap_truncates_with_a_note(scripted):
    result = browse(scripted, "/huge", max_bytes=50_000)
    assert "[the page was cut at the size limit]" in result


def test_plain_text_and_http_errors(scripted):
    assert "just text" in browse(scripted, "/plain")
    assert "HTTP 404 Not Found" in browse(scripted, "/missing")


def test_unreachable_host_is_a_readable_error():
    closed = Browser(PageFetcher(policy=UrlPolicy(block_private=False), timeout=2))
    result = web_browse_tool(closed).invoke({"url": "http://127.0.0.1:1/"})
    assert result.startswith("Could not open the page. Could not fetch http://127.0.0.1:1/: ConnectError")


def test_a_page_opened_again_is_parsed_once_and_a_changed_page_anew(tmp_path, monkeypatch):
    import tfgrpo_agents.tools.browse as browse_module

    parsed: list[str] = []
    real_parse = browse_module.parse_html
    monkeypatch.setattr(browse_module, "parse_html", lambda text, url: parsed.append(url) or real_parse(text, url))
    browse_module.parsed_page.cache_clear()
    root = make_site(tmp_path / "site")
    with LocalWeb(root, cache_dir=tmp_path / "cache") as web:
        browse = tools_by_name(web)["web_browse"]
        url = web.url.rstrip("/") + "/dates.html"
        first = browse.invoke({"url": url, "goal": "registration deadline"})
        assert FACT in first
        assert "2 May 2031" in browse.invoke({"url": url, "goal": "camera-ready"})  # another goal, same parse
        assert browse.invoke({"url": url, "goal": "registration deadline"}) == first
        assert parsed == [url]
        (root / "dates.html").write_text("<html><head><title>Dates moved</title></head><body><p>"
                                         "Registration closes on 2 April 2031.</p></body></html>")
        assert "2 April 2031" in browse.invoke({"url": url, "goal": "registration deadline"})
        assert parsed == [url, url]
