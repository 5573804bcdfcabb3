"""Browse and search on the HTML dialects real documentation generators emit, with fixture pages
written here: DocBook XHTML, Javadoc-style table layouts, MkDocs, hand-written HTML; and version
numbers as whole tokens."""

from pathlib import Path

import pytest

from tests.sites import filler
from tfgrpo_agents.tools import LocalWeb, parse_html, render_page

DOCBOOK = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml"><head><meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
<title>E.2. Release 15.20</title><meta name="generator" content="DocBook XSL Stylesheets V1.79.1" /></head>
<body><div class="navheader"><table width="100%" summary="Navigation header"><tr>
<td width="20%" align="left"><a accesskey="p" href="release-15-19.html">Prev</a> </td>
<th width="60%" align="center">Appendix E. Release Notes</th>
<td width="20%" align="right"> <a accesskey="n" href="release-15-21.html">Next</a></td></tr></table><hr /></div>
<div class="sect1" id="RELEASE-15-20"><div class="titlepage"><div><div><h2 class="title">E.2. Release 15.20</h2>
</div></div></div><p><strong>Release date: </strong>2031-11-09</p>
<p>This release contains a variety of fixes from 15.19. For information about new features in major release 15,
see <a class="xref" href="release-15.html" title="E.21. Release 15">Section E.21</a>.</p></div>
<div class="navfooter"><hr /><table width="100%" summary="Navigation footer"><tr>
<td width="40%" align="left"><a href="release-15-19.html">Prev</a> </td>
<td width="20%" align="center"><a href="index.html">Home</a></td></tr></table></div></body></html>"""

JAVADOC = """<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">
<html><head><title>Widget (Acme API 2.3)</title></head><body>
<table border="0" width="100%" cellpadding="1" cellspacing="0">
<tr><td bgcolor="#EEEEFF"><a href="overview-summary.html"><b>Overview</b></a></td>
<td bgcolor="#EEEEFF"><a href="package-summary.html"><b>Package</b></a></td></tr></table>
<table border="1" width="100%" cellpadding="3" cellspacing="0">
<tr><th align="left"><b>Method Summary</b></th></tr>
<tr><td><code><a href="#spin(int)">spin</a>(int&nbsp;turns)</code><br>
Rotates the widget by the given number of turns; negative turns rotate it counter-clockwise.</td></tr>
<tr><td><code><a href="#halt()">halt</a>()</code><br>
Stops the widget at once. Since: 2.1. The widget keeps its last angle until spin is called again.</td></tr>
</table></body></html>"""

MKDOCS = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Configuration - Acme Docs</title></head>
<body><div class="md-container"><nav class="md-nav md-nav--primary"><ul>
<li><a href="../">Home</a></li><li><a href="../install/">Install</a></li><li><a href="./">Configuration</a></li></ul></nav>
<main class="md-main"><article class="md-content__inner md-typeset"><h1 id="configuration">Configuration</h1>
<p>The cache size defaults to 512 megabytes and is set with <code>cache_size</code> in <code>acme.yml</code>.</p>
<h2 id="logging">Logging</h2><p>Log files rotate every 7 days unless <code>log_rotation</code> says otherwise.</p>
</article></main></div></body></html>"""

HANDWRITTEN = """<HTML><HEAD><TITLE>The Acme People</TITLE></HEAD><BODY BGCOLOR=white>
<CENTER><H1>Who makes Acme</H1></CENTER>
<P>Acme was started in 1998 by Rosa Lindqvist, who still leads the industry liaison work.
<P>The core developers are Tomas Berg and Ama Owusu.
<HR><A HREF="index.html">Back to the home page</A></BODY></HTML>"""


@pytest.mark.parametrize("markup,title,fact,link", [
    (DOCBOOK, "E.2. Release 15.20", "Release date: 2031-11-09", "release-15-19.html"),
    (JAVADOC, "Widget (Acme API 2.3)", "Stops the widget at once. Since: 2.1.", "package-summary.html"),
    (MKDOCS, "Configuration - Acme Docs", "Log files rotate every 7 days", "install/"),
    (HANDWRITTEN, "The Acme People", "started in 1998 by Rosa Lindqvist", "index.html"),
])
def test_each_dialect_yields_title_text_and_links_never_markup(markup, title, fact, link):
    page = parse_html(markup, "http://docs.test/dir/page.html")
    text = render_page(page, goal="", text_budget=900)
    assert page.title == title
    assert fact in " ".join(text.split())
    assert "<?xml" not in text and "<html" not in text.lower() and "DOCTYPE" not in text
    assert any(found.url.endswith(link) for found in page.links)


@pytest.mark.parametrize("head,author", [
    ('<meta name="Author" content="  Rosa   Lindqvist ">', "Rosa Lindqvist"),
    ('<meta property="article:author" content="Tomas Berg">', "Tomas Berg"),
    ('<meta name="DC.creator" content="Ama Owusu">', "Ama Owusu"),
    ('<meta name="generator" content="DocBook">', None),
])
def test_the_declared_author_is_read_from_the_head(head, author):
    page = parse_html(f"<html><head><title>T</title>{head}</head><body><p>{'Words here. ' * 20}</p></body></html>",
                      "http://docs.test/a.html")
    assert page.metadata.get("author") == author
    assert ("Author: " + author in render_page(page, goal="", text_budget=900)) if author else "Author" not in \
        render_page(page, goal="", text_budget=900)


def test_markup_that_is_not_html_is_read_as_text_not_echoed():
    page = parse_html("<<<>>> <b>bold claim</b> &&& <", "http://docs.test/odd")
    assert "bold claim" in " ".join(page.passages) and "<b>" not in " ".join(page.passages)


@pytest.fixture
def release_site(tmp_path):
    """Two release pages: 15.19 says '20' far more often than 15.20 does."""
    root = tmp_path / "site"
    root.mkdir()
    crowded = " ".join(f"<p>Fixed issue 20{i} affecting 20 users on 20 platforms.</p>" for i in range(30))
    (root / "release-15-19.html").write_text(
        f"<html><head><title>E.3. Release 15.19</title></head><body><h1>Release 15.19</h1>"
        f"<p>Release date: 2031-08-10</p>{crowded}<p>The next release is 15.20.</p></body></html>")
    (root / "release-15-20.html").write_text(DOCBOOK)
    (root / "people.html").write_text(HANDWRITTEN)
    (root / "index.html").write_text("<html><head><title>Acme manual</title></head><body>"
                                     f"<a href='release-15-19.html'>15.19</a>{filler(3, 'the manual')}</body></html>")
    return root


def test_a_version_number_is_one_token_and_its_titled_page_ranks_first(release_site, tmp_path, monkeypatch):
    monkeypatch.setenv("TFGRPO_CACHE", str(tmp_path / "cache"))
    with LocalWeb(release_site) as web:
        results = web.tools()[0].invoke({"query": "Acme 15.20 release date"})
        first = results.split("\n2.")[0]
        assert "Release 15.20" in first and "15.19" not in first.split("URL:")[0]
        people = web.tools()[0].invoke({"query": "Rosa Lindqvist Acme industry"})
        assert "\n1. The Acme People" in people


def test_a_guessed_address_that_404s_steers_to_search(release_site, tmp_path, monkeypatch):
    monkeypatch.setenv("TFGRPO_CACHE", str(tmp_path / "cache"))
    with LocalWeb(release_site) as web:
        text = web.tools()[1].invoke({"url": web.url + "3.32.3.html", "goal": "release date"})
    assert "HTTP 404" in text and "Search for it" in text and "do not answer" in text


def test_walk_mode_browses_from_the_root_without_search(release_site, tmp_path, monkeypatch):
    from tfgrpo_agents.learning.domains import domain_for

    monkeypatch.setenv("TFGRPO_CACHE", str(tmp_path / "cache"))
    tools, close = domain_for("web-walk").make_tools({"site": str(release_site)})
    try:
        assert [t.name for t in tools] == ["web_browse"]
        assert not (tmp_path / "cache").exists(), "no search index is built in walk mode"
    finally:
        close()


def test_the_web_agent_computes_a_date_difference_with_python_exec(release_site, tmp_path, monkeypatch):
    from tests.fakes import scripted, tool_call
    from tfgrpo_agents.learning.domains import domain_for

    monkeypatch.setenv("TFGRPO_CACHE", str(tmp_path / "cache"))
    web = domain_for("web")
    tools, close = web.make_tools({"site": str(release_site)})
    try:
        assert [t.name for t in tools] == ["web_search", "web_browse", "python_exec"]
        model = scripted(
            tool_call("web_search", {"query": "Acme 15.20 release date"}, "c1"),
            tool_call("python_exec", {"code": "from datetime import date\n"
                                              "print((date(2031, 11, 9) - date(2031, 8, 10)).days)"}, "c2"),
            "Release 15.20 came 91 days after 15.19.\nFinal answer: 91")
        agent = web.build_agent(model, tools, max_steps=4)
        state = agent.invoke({"messages": [("user", "How many days after release 15.19 was 15.20 released?")]})
    finally:
        close()
    results = {m.name: m.content for m in state["messages"] if m.type == "tool"}
    assert results["python_exec"].split()[0] == "91" and "Release 15.20" in results["web_search"]
    assert state["final_answer"] == "91"
    assert "python_exec" in model.calls[0]["tools"] and "python_exec" in model.calls[0]["messages"][0].content


def test_without_a_sandbox_the_web_agent_keeps_search_and_browse(release_site, tmp_path, monkeypatch, caplog):
    import tfgrpo_agents.tools as tools_module
    from tfgrpo_agents.learning.domains import domain_for
    from tfgrpo_agents.tools import SandboxUnavailable

    def unavailable(*args, **kwargs):
        raise SandboxUnavailable("python_exec will not run code as root: install bubblewrap")

    monkeypatch.setenv("TFGRPO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(tools_module, "python_exec_tool", unavailable)
    tools, close = domain_for("web").make_tools({"site": str(release_site)})
    close()
    assert [t.name for t in tools] == ["web_search", "web_browse"]
    assert "web agent without python_exec: python_exec will not run code as root" in caplog.text


def test_the_code_hint_comes_with_the_code_tool_only(release_site, tmp_path, monkeypatch):
    from tfgrpo_agents.learning.domains import domain_for

    monkeypatch.setenv("TFGRPO_CACHE", str(tmp_path / "cache"))
    for name, options, expected in (("web", {}, True), ("web", {"python": False}, False), ("web-walk", {}, False)):
        domain = domain_for(name)
        tools, close = domain.make_tools({"site": str(release_site), **options})
        close()
        assert ("python_exec" in [t.name for t in tools]) is expected
        assert ("python_exec" in domain.prompt_for(tools)) is expected, (name, options)


def gtk_doc_page(title: str, symbols: list[tuple[str, str, str]]) -> str:
    """A GTK-Doc section: each symbol declared in a <pre>, described, with its "Since:" line."""
    blocks = "".join(
        f'<div class="refsect2"><h3>{name} ()</h3><pre class="programlisting">GList *\n{name} (GPtr *data);</pre>'
        f"<p>{text}</p>{filler(2, name)}<p class=\"since\">Since: {since}</p></div><hr>"
        for name, text, since in symbols)
    return (f"<html><head><title>{title}: GFoo Reference Manual</title></head><body>"
            f"<table class='navigation'><tr><td><a href='index.html'>Home</a></td></tr></table>{blocks}</body></html>")


def test_a_c_symbol_finds_the_page_that_declares_it_with_its_since_line(tmp_path, monkeypatch):
    """GTK-Doc and Doxygen declare a symbol where they document it; the manual's own name ("GFoo") in a
    query is not a code name, and every title ends with ": GFoo Reference Manual"."""
    monkeypatch.setenv("TFGRPO_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "manual"
    root.mkdir()
    (root / "gfoo-Lists.html").write_text(gtk_doc_page("Lists", [
        ("gfoo_list_map", "Maps a list.", "2.40"), ("gfoo_list_sort", "Sorts a list.", "2.10")]))
    mentions = " ".join(f"<p>GFoo version notes: gfoo_list_map() is used by many GFoo helpers {i}.</p>"
                        for i in range(12))
    (root / "gfoo-Version-Information.html").write_text(
        f"<html><head><title>Version Information: GFoo Reference Manual</title></head><body>{mentions}</body></html>")
    (root / "index.html").write_text("<html><head><title>GFoo Reference Manual: GFoo Reference Manual</title></head>"
                                     "<body><a href='gfoo-Lists.html'>Lists</a> GFoo GFoo version</body></html>")
    with LocalWeb(root) as web:
        results = web.tools()[0].invoke({"query": "GFoo gfoo_list_map version"})
    first = results.split("\n2.")[0]
    assert "1. Lists" in first and "Since: 2.40" in first and "2.10" not in first


GLIB_MANUAL = Path("/usr/share/gtk-doc/html/glib")


def test_a_generated_reference_page_is_read_whole():
    """trafilatura drops the short lines of a reference manual's page ("Since: 2.26", parameter tables);
    a page whose generator is DocBook, GTK-Doc, Doxygen or javadoc is read by its visible text."""
    from tfgrpo_agents.tools.page import generated_reference, html_tree, parse_html

    block = ('<div class="refsect2"><h3>gfoo_run ()</h3><pre>void\ngfoo_run (void);</pre><p>Runs.</p>'
             '<div class="refsect3"><h4>Parameters</h4><table><tr><td>data</td><td>the data</td></tr></table></div>'
             '<p class="since">Since: <a href="api-index-2-26.html">2.26</a></p></div>')
    page = ('<html><head><title>Runs: GFoo Reference Manual</title><meta name="generator" content="GTK-Doc V1.33.1">'
            f"</head><body>{block * 3}</body></html>")
    assert generated_reference(html_tree(page))
    assert "Since: 2.26" in "\n".join(parse_html(page, "http://x.test/runs.html").passages)
    sphinx = '<html><head><meta name="generator" content="Docutils 0.17.1"></head><body><p>x</p></body></html>'
    assert not generated_reference(html_tree(sphinx))
    if GLIB_MANUAL.exists():  # Debian's GLib manual (.ci/run installs it): every "Since:" line is read
        markup = (GLIB_MANUAL / "glib-GDateTime.html").read_text(encoding="utf-8")
        text = "\n".join(parse_html(markup, "http://x.test/glib-GDateTime.html").passages)
        assert text.count("Since:") >= markup.count('class="since"')


def test_a_long_page_is_read_from_its_main_region_without_losing_its_facts():
    """Above LARGE_PAGE_CHARS a page skips trafilatura: its main region's visible text, every fact kept,
    the navigation around it left out; links are the same as on a short page."""
    from tfgrpo_agents.tools.page import LARGE_PAGE_CHARS

    sections = "".join(f'<h2 id="s{i}">Section {i}</h2><p>Entry {i} was added in version 3.{i % 13}. '
                       f'See <a href="ref.html#e{i}">the reference</a>.</p><p>{"Detail words. " * 40}</p>'
                       for i in range(400))
    markup = ('<html><head><title>Big reference</title></head><body><nav><a href="index.html">Sidebar home</a>'
              f'<p>Sidebar table of contents</p></nav><div role="main">{sections}'
              '<p>The last entry is deprecated since 3.12.</p></div></body></html>')
    assert len(markup) > LARGE_PAGE_CHARS
    page = parse_html(markup, "http://docs.test/big.html")
    text = "\n".join(page.passages)
    assert "Entry 0 was added in version 3.0." in text and "deprecated since 3.12" in text
    assert text.count("was added in version") == 400
    assert "Sidebar table of contents" not in text
    assert [link.url for link in page.links] == ["http://docs.test/index.html", "http://docs.test/ref.html"]
    render = render_page(page, goal="entry 399 added", text_budget=900)
    assert "Entry 399 was added in version 3.9." in " ".join(render.split())


def test_a_long_page_without_a_main_region_is_read_whole():
    from tfgrpo_agents.tools.page import html_tree, main_region

    tree = html_tree("<html><body><article>one</article><article>two</article><p>rest</p></body></html>")
    assert main_region(tree) is tree
    tree = html_tree("<html><body><nav>menu</nav><main>the whole story here</main></body></html>")
    assert main_region(tree).tag == "main"
    tree = html_tree(f"<html><body><main>tiny</main><div>{'long prose ' * 50}</div></body></html>")
    assert main_region(tree) is tree  # a <main> holding little of the page is not trusted
