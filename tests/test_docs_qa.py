"""QA over a documentation site: facts from Sphinx markup, golden paths, disjoint splits, closed-book filter."""

import json
from collections import Counter
from pathlib import Path

import pytest

from tfgrpo_agents.datasets.docs_qa import generate, split
from tfgrpo_agents.datasets.docs_qa.python_docs import candidates, read_site
from tfgrpo_agents.learning import load_tasks
from tfgrpo_agents.tools.site_files import SiteFiles

COMMITTED = Path(__file__).resolve().parent.parent / "tasks" / "python_docs"
PYTHON_DOCS = Path(__file__).resolve().parents[2] / "shared" / "data" / "sites" / "python-3.11-docs.tar.gz"
PUBLIC = "https://docs.python.org/3.11/"


def sphinx_page(title: str, body: str) -> str:
    return (f"<html><head><title>{title} — Python 3.11 documentation</title></head><body>"
            f'<div class="body" role="main">{body}</div></body></html>')


def added(version: str) -> str:
    return f'<div class="versionadded"><p><span class="versionmodified added">New in version {version}.</span></p></div>'


def api(kind: str, name: str, note: str = "") -> str:
    return f'<dl class="py {kind}"><dt class="sig sig-object py" id="{name}">{name}</dt><dd><p>Does things.</p>{note}</dd></dl>'


def whatsnew(version: str, field: str, person: str, released: str) -> str:
    return sphinx_page(f"What’s New In Python {version}", (
        f'<section id="whats-new"><h1>What’s New In Python {version}</h1><dl class="field-list simple">'
        f'<dt class="field-odd">{field}<span class="colon">:</span></dt><dd class="field-odd"><p>{person}</p></dd></dl>'
        f"<p>Python {version} was released on {released}.</p></section>"))


def library(module: str, version: str | None, entries: str, later_note: str = "") -> str:
    return sphinx_page(f"{module} — a module", f'<section id="module-{module}"><h1>{module}</h1>'
                                                 f"{added(version) if version else ''}<p>About it.</p>{later_note}"
                                                 f"{entries}</section>")


def make_docs(root: Path) -> Path:
    files = {
        "index.html": sphinx_page("Docs", '<a href="whatsnew/index.html">What is new</a> <a href="library/index.html">Library</a>'),
        "whatsnew/index.html": sphinx_page("What’s New", '<a href="3.8.html">3.8</a> <a href="3.4.html">3.4</a>'),
        "whatsnew/3.8.html": whatsnew("3.8", "Editor", "Raymond Hettinger", "October 14, 2019"),
        "whatsnew/3.4.html": whatsnew("3.4", "Author", "R. David Murray &lt;rdm@example.org&gt; (Editor)", "March 16, 2014"),
        "library/index.html": sphinx_page("Library", '<a href="alpha.html">alpha</a> <a href="beta.html#x">beta</a>'),
        "library/alpha.html": library("alpha", "3.4", api("function", "alpha.spin", added("3.8"))
                                      + api("class", "alpha.Top") + api("data", "alpha.LIMIT", added("3.4"))),
        "library/beta.html": library("beta", None, api("method", "beta.Thing.go", added("3.4"))
                                     + api("exception", "beta.Oops", added("3.8")), later_note=added("3.8")),
    }
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    return root


def test_facts_come_from_the_sphinx_markup(tmp_path):
    site = read_site(SiteFiles(make_docs(tmp_path / "docs")))
    assert site.whatsnew == {"3.8": {"person": "Raymond Hettinger", "released": "October 14, 2019"},
                             "3.4": {"person": "R. David Murray", "released": "March 16, 2014"}}
    assert site.modules == {"alpha": "3.4"}, "a note further down a module page is not the module's"
    # data entries and entries without a "New in version" note are not API facts
    assert {name: (a.version, a.kind) for name, a in site.added.items()} == {
        "alpha.spin": ("3.8", "function"), "beta.Thing.go": ("3.4", "method"), "beta.Oops": ("3.8", "exception")}
    assert site.golden_path("library/beta.html") == "root -> Library -> beta"
    assert site.golden_path("whatsnew/3.4.html") == "root -> What’s New -> What’s New In Python 3.4"


def test_questions_of_every_kind_with_their_answers(tmp_path):
    items = {c.question: c for c in candidates(read_site(SiteFiles(make_docs(tmp_path / "docs"))))}
    assert items["In which Python version was `alpha.spin()` added?"].answer == "3.8"
    assert items["In which Python version was the `alpha` module added?"].difficulty == "easy"
    editor = items["Who edited the \"What's New\" document of the Python version that added `beta.Thing.go()`?"]
    assert (editor.answer, editor.type) == ("R. David Murray", "multi_source")
    assert editor.pages == ["library/beta.html", "whatsnew/3.4.html"]
    firsts = [c for c in items.values() if c.kind == "added-first"]
    for item in firsts:  # the earlier of two versions, named by its short name
        assert item.answer in ("go", "spin", "Oops") and item.difficulty == "hard"


def test_train_and_test_never_share_a_module_or_a_version(tmp_path):
    pool = candidates(read_site(SiteFiles(make_docs(tmp_path / "docs"))))
    for seed in range(5):
        train, test = split(pool, seed)
        assert {k for c in train for k in c.keys}.isdisjoint({k for c in test for k in c.keys})
        assert len(train) + len(test) <= len(pool)


def test_closed_book_filter_drops_what_the_model_knows_and_caches_it(tmp_path):
    docs = make_docs(tmp_path / "docs")
    asked: list[str] = []

    def model(questions: list[str]) -> list[str]:
        asked.extend(questions)
        return ["Raymond Hettinger" if "3.8" in q and "edit" in q.lower() else "I do not know" for q in questions]

    out = tmp_path / "qa"
    counts = generate(docs, out, public_url=PUBLIC, train=20, test=20, ratio="1:1:1", closed_book=model, model_id="m")
    rows = [json.loads(line) for name in ("train", "test") for line in (out / f"{name}.jsonl").read_text().splitlines()]
    assert sum(counts.values()) == len(rows) > 0
    known = [q for q in asked if "3.8" in q and "edit" in q.lower()]
    assert all(row["question"] not in known for row in rows), "a question answered closed-book is not a task"
    assert all(row["root_url"] == PUBLIC and row["info"]["golden_path"][0].startswith("root -> ") for row in rows)
    cache = json.loads((out / "closed_book.json").read_text())
    assert cache["model"] == "m" and set(cache["answers"]) == set(asked)
    before = {name: (out / f"{name}.jsonl").read_bytes() for name in ("train", "test")}
    generate(docs, out, public_url=PUBLIC, train=20, test=20, ratio="1:1:1")  # no model: the cache decides
    assert {name: (out / f"{name}.jsonl").read_bytes() for name in ("train", "test")} == before


@pytest.mark.skipif(not PYTHON_DOCS.exists(), reason="the shared Python docs tarball is not here")
def test_committed_python_docs_tasks_regenerate_from_the_tarball(tmp_path):
    (tmp_path / "qa").mkdir()
    (tmp_path / "qa" / "closed_book.json").write_bytes((COMMITTED / "closed_book.json").read_bytes())
    train, test = load_tasks(COMMITTED / "train.jsonl"), load_tasks(COMMITTED / "test.jsonl")
    generate(PYTHON_DOCS, tmp_path / "qa", public_url=PUBLIC, train=len(train), test=len(test))
    for name in ("train.jsonl", "test.jsonl", "closed_book.json"):
        assert (tmp_path / "qa" / name).read_bytes() == (COMMITTED / name).read_bytes(), name
    assert Counter(t.metadata["info"]["difficulty"] for t in test) == {"easy": 11, "medium": 20, "hard": 17}
