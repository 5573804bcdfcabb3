"""Documentation QA over other generators: Django's Sphinx theme and GTK-Doc (DocBook XSL) manuals."""

import json
import os
from pathlib import Path

import pytest

from tfgrpo_agents.datasets.docs_qa import (
    PROFILES,
    Candidate,
    django_docs,
    generate,
    gtk_doc,
    profile_for,
    split,
)
from tfgrpo_agents.datasets.docs_qa.pipeline import stated
from tfgrpo_agents.learning import load_tasks
from tfgrpo_agents.tools.site_files import SiteFiles

TASKS = Path(__file__).resolve().parent.parent / "tasks"
DJANGO_DOCS = Path(__file__).resolve().parents[2] / "shared" / "data" / "sites" / "django-3.2-docs.tar.gz"
GLIB_DOCS = Path("/usr/share/gtk-doc/html/glib")  # Debian's libglib2.0-doc


def write(root: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    return root


def django_page(title: str, body: str) -> str:
    return (f"<html><head><title>{title} | Django documentation</title></head><body><div id='docs-content'>"
            f"{body}</div></body></html>").replace(" | Django documentation", " — Django 3.2 documentation")


def release(version: str, date: str) -> str:
    return django_page(f"Django {version} release notes", (
        f'<div class="section" id="s-django-{version}"><h1>Django {version} release notes<a href="#">¶</a></h1>'
        f"<p><em>{date}</em></p><p>Django {version} fixes several bugs.</p></div>"))


def make_django(root: Path) -> Path:
    entry = ('<dl class="py method"><dt id="django.http.HttpResponse.flush">flush()</dt><dd><p>Flushes.</p>'
             '<div class="versionadded"><span class="title">New in Django 3.1.</span></div></dd></dl>'
             '<dl class="py attribute"><dt id="django.http.HttpResponse.charset">charset</dt><dd><p>The charset.</p>'
             '<div class="versionadded"><span class="title">New in Django 3.1: </span><p>It may be None.</p></div>'
             "</dd></dl>")
    return write(root, {
        "index.html": django_page("Django documentation", '<a href="releases/index.html">Release notes</a> '
                                                          '<a href="ref/request-response.html">Requests</a>'),
        "releases/index.html": django_page("Release notes", "".join(
            f'<a href="{v}.html">{v}</a> ' for v in ("3.1", "3.1.1", "3.1.2", "3.2.1"))),
        "releases/3.1.html": release("3.1", "August 4, 2020"),
        "releases/3.1.1.html": release("3.1.1", "September 1, 2020"),
        "releases/3.1.2.html": release("3.1.2", "October 1, 2020"),
        "releases/3.2.1.html": release("3.2.1", "May 4, 2021"),
        "ref/request-response.html": django_page("Request and response objects", entry),
    })


def gtk_page(title: str, body: str) -> str:
    return ('<!DOCTYPE html PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN"><html><head>'
            f"<title>{title}: Foo Reference Manual</title>"
            '<meta name="generator" content="GTK-Doc V1.33.1 (XML mode)">'
            '<link rel="home" href="index.html" title="Foo Reference Manual"></head><body>'
            '<table class="navigation"><tr><td><a href="index.html">Home</a></td></tr></table>'
            f"{body}</body></html>")


def symbol(name: str, since: str | None = None, deprecated: str | None = None, use: str | None = None) -> str:
    warning = ""
    if deprecated:
        warning = (f'<div class="warning"><p><code>{name}</code> has been deprecated since version {deprecated} and '
                   f"should not be used in newly-written code.</p><p>Use {use}() instead.</p></div>" if use else
                   f'<div class="warning"><p>{name} has been deprecated since version {deprecated}.</p></div>')
    return (f'<div class="refsect2"><a name="{name}"></a><h3>{name}&#160;()</h3><pre>void {name} (void);</pre>'
            f"{warning}<p>Does a thing.</p>" + (f'<p class="since">Since: {since}</p>' if since else "") + "</div>")


def make_gtk_doc(root: Path) -> Path:
    return write(root, {
        "index.html": gtk_page("Foo Reference Manual", '<a href="foo-Strings.html">Strings</a> '
                                                       '<a href="foo-Lists.html">Lists</a>'),
        "foo-Strings.html": gtk_page("Strings", symbol("foo_string_new") + symbol("foo_string_replace", "2.68")
                                     + symbol("foo_string_up", deprecated="2.2", use="foo_list_map")),
        "foo-Lists.html": gtk_page("Lists", symbol("foo_list_map", "2.40") + symbol("foo_list_old", "2.2", "2.10")),
    })


def test_each_site_is_recognised_by_its_generator(tmp_path):
    assert profile_for(SiteFiles(make_django(tmp_path / "dj"))).name == "django"
    assert profile_for(SiteFiles(make_gtk_doc(tmp_path / "gtk"))).name == "gtk-doc"
    (tmp_path / "plain" / "index.html").parent.mkdir()
    (tmp_path / "plain" / "index.html").write_text("<html><body>hello</body></html>")
    with pytest.raises(ValueError, match="--profile"):
        profile_for(SiteFiles(tmp_path / "plain"))
    with pytest.raises(ValueError, match="choose one of python, django, gtk-doc"):
        profile_for(SiteFiles(tmp_path / "plain"), "mkdocs")
    assert profile_for(SiteFiles(tmp_path / "plain"), "django") is PROFILES["django"]


def test_django_releases_and_added_entries(tmp_path):
    site = django_docs.read_site(SiteFiles(make_django(tmp_path / "dj")))
    assert {v: r.date for v, r in site.releases.items()} == {
        "3.1": "August 4, 2020", "3.1.1": "September 1, 2020", "3.1.2": "October 1, 2020", "3.2.1": "May 4, 2021"}
    # a note about a parameter ("New in Django 3.1: …") is not the entry's own
    assert {name: e.version for name, e in site.added.items()} == {"django.http.HttpResponse.flush": "3.1"}
    items = {c.question: c for c in django_docs.candidates(site)}
    assert items["On what date was Django 3.1.1 released, according to its release notes?"].difficulty == "easy"
    assert items["On what date was Django 3.1 released, according to its release notes?"].difficulty == "medium"
    days = items["How many days after Django 3.1.1 was Django 3.1.2 released?"]
    assert (days.answer, days.evidence, days.type) == ("30", None, "multi_source")
    assert not any("3.1.2 was Django 3.2.1" in q for q in items), "no day counts across two series"
    dated = items["On what date was the Django version that added `django.http.HttpResponse.flush()` released?"]
    assert (dated.answer, dated.pages) == ("August 4, 2020", ["ref/request-response.html", "releases/3.1.html"])
    assert site.golden_path("releases/3.1.2.html") == "root -> Release notes -> Django 3.1.2 release notes"


def test_gtk_doc_since_deprecations_and_replacements(tmp_path):
    site = gtk_doc.read_site(SiteFiles(make_gtk_doc(tmp_path / "gtk")))
    assert site.product == "Foo"
    assert "foo_string_new" not in site.symbols, "a symbol with neither a Since nor a deprecation says nothing"
    assert site.symbols["foo_string_up"].replacement == "foo_list_map"
    items = {c.question: c for c in gtk_doc.candidates(site)}
    assert items["Since which version of Foo is `foo_string_replace()` available?"].answer == "2.68"
    assert items["Since which version of Foo is `foo_list_old()` deprecated?"].answer == "2.10"
    hard = items["Since which version of Foo is the function that replaces the deprecated `foo_string_up()` available?"]
    assert (hard.answer, hard.pages, hard.difficulty) == ("2.40", ["foo-Strings.html", "foo-Lists.html"], "hard")
    assert "Which function does the Foo manual say to use instead of the deprecated `foo_list_old()`?" not in items
    assert site.golden_path("foo-Lists.html") == "root -> Lists"


def test_an_answer_the_page_does_not_state_is_not_a_question(tmp_path):
    files = SiteFiles(make_gtk_doc(tmp_path / "gtk"))
    right = Candidate("q1", "2.68", "easy", "since", ["foo-Strings.html"], ["p:a"], "foo-Strings.html")
    wrong = Candidate("q2", "2.99", "easy", "since", ["foo-Strings.html"], ["p:a"], "foo-Strings.html")
    computed = Candidate("q3", "17", "hard", "days", ["foo-Strings.html"], ["p:a"], None)
    assert stated(files, [right, wrong, computed]) == [right, computed]


@pytest.mark.parametrize("maker", [make_django, make_gtk_doc])
def test_generated_sets_keep_pages_apart_and_use_the_profiles_address(tmp_path, maker):
    source = maker(tmp_path / "site")
    profile = profile_for(SiteFiles(source))
    out = tmp_path / "qa"
    generate(source, out, train=10, test=10, ratio="1:1:1", seed=3)
    rows = {name: [json.loads(line) for line in (out / f"{name}.jsonl").read_text().splitlines()]
            for name in ("train", "test")}
    assert rows["train"] or rows["test"]
    pages = {name: {page for row in items for page in row["info"]["source_website"]} for name, items in rows.items()}
    assert all(row["root_url"] == profile.public_url for items in rows.values() for row in items)
    assert pages["train"].isdisjoint(pages["test"]), "a page of a test question is never studied in training"
    pool = profile.candidates(profile.read(SiteFiles(source)))
    for seed in range(4):
        train, test = split(pool, seed)
        assert {k for c in train for k in c.keys}.isdisjoint({k for c in test for k in c.keys})


@pytest.mark.parametrize("folder, source", [("django_docs", DJANGO_DOCS), ("glib_docs", GLIB_DOCS)])
def test_committed_task_sets_regenerate_byte_for_byte(tmp_path, folder, source):
    if not source.exists():
        if folder == "glib_docs" and os.environ.get("TFGRPO_REQUIRE_GLIB_DOCS"):
            pytest.fail(f"{source} is missing: apt-get install libglib2.0-doc (.ci/run does)")
        pytest.skip(f"{source} is not here (.ci/run installs libglib2.0-doc)")
    committed = TASKS / folder
    (tmp_path / "qa").mkdir()
    (tmp_path / "qa" / "closed_book.json").write_bytes((committed / "closed_book.json").read_bytes())
    train, test = load_tasks(committed / "train.jsonl"), load_tasks(committed / "test.jsonl")
    generate(source, tmp_path / "qa", train=len(train), test=len(test))
    for name in ("train.jsonl", "test.jsonl", "closed_book.json"):
        assert (tmp_path / "qa" / name).read_bytes() == (committed / name).read_bytes(), name
