"""A deterministic synthetic web: fictional organisations of WebWalkerQA's kinds, with QA over them.

Each site family has conventions a real site would have and a learned library can carry from the
train sites to the test sites (the facts themselves differ per site, so nothing is answerable from
memory):

* conference — the home page shows a *tentative* deadline; the authoritative dates are in the
  "Key dates" table of the Call for Papers page; chairs are listed under Organisation → Committee.
* university department — people pages live under People → Faculty; a professor's office and
  office hours are only on their own page; the head of department is on About → Leadership.
* game wiki — item pages give base stats, but the newest patch note overrides them; shop prices
  are on the Shop page, not on item pages.
* company — a product's overview says "from $X" (a marketing price); the real price is on the
  product's Pricing page; the current version is the top entry of the Changelog.

``generate(out_dir, seed)`` writes the sites (HTML) and ``train.jsonl`` / ``test.jsonl`` in
WebWalkerQA's schema; the same seed gives byte-identical files.
"""

from __future__ import annotations

import html
import json
import random
from collections.abc import Callable
from pathlib import Path

PUBLIC_ROOT = "http://sites.tfgrpo.test/"

FIRST = ["Imogen", "Tariq", "Selma", "Oskar", "Priya", "Matteo", "Yuki", "Leona", "Farid", "Greta", "Ansel", "Noor",
         "Bruno", "Ilse", "Kwame", "Marit", "Dario", "Esme", "Ravi", "Tove"]
LAST = ["Vasquez-Ortiz", "Halvorsen", "Okonkwo", "Lindqvist", "Marchetti", "Takahara", "Brennan", "Sorensen",
        "Abernathy", "Kowalczyk", "Ferreira", "Nakamura", "Delacroix", "Achterberg", "Mbeki", "Rautio"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
WORDS = ["aurora", "basalt", "cinder", "delta", "ember", "fjord", "garnet", "harbor", "indigo", "juniper", "krypton",
         "lumen", "meridian", "nimbus", "onyx", "prism", "quartz", "rivet", "sable", "tundra"]


def _page(title: str, body: str, links: list[tuple[str, str]], site_name: str) -> str:
    nav = "".join(f'<li><a href="{href}">{html.escape(text)}</a></li>' for text, href in links)
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)} | {html.escape(site_name)}"
            f"</title></head>\n<body><nav><ul>{nav}</ul></nav>\n<main><h1>{html.escape(title)}</h1>\n{body}\n</main>"
            f"</body></html>\n")


def _p(*sentences: str) -> str:
    return "".join(f"<p>{html.escape(s)}</p>" for s in sentences)


def _filler(rng: random.Random, topic: str, n: int) -> str:
    return _p(*(f"This section covers {topic}: {rng.choice(WORDS)} {rng.choice(WORDS)} arrangements were reviewed "
                f"and no changes are planned for {rng.choice(WORDS)} work." for _ in range(n)))


def _person(rng: random.Random, used: set[str]) -> str:
    while True:
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        if name not in used:
            used.add(name)
            return name


def _date(rng: random.Random, year: int) -> str:
    return f"{rng.randint(1, 28)} {rng.choice(MONTHS)} {year}"


class SiteBuilder:
    """Collects one site's pages and its QA items."""

    def __init__(self, slug: str, name: str, kind: str) -> None:
        self.slug, self.name, self.kind = slug, name, kind
        self.pages: dict[str, str] = {}
        self.qa: list[dict] = []

    @property
    def root(self) -> str:
        return f"{PUBLIC_ROOT}{self.slug}/"

    def add(self, path: str, title: str, body: str, links: list[tuple[str, str]]) -> None:
        depth = path.count("/")
        home = "../" * depth + "index.html"
        self.pages[path] = _page(title, body, [("Home", home), *links], self.name)

    def ask(self, question: str, answer: str, difficulty: str, path: list[str], sources: list[str],
            multi: bool = False) -> None:
        self.qa.append({
            "question": question, "answer": answer, "root_url": self.root,
            "info": {"type": "multi_source" if multi else "single_source", "difficulty": difficulty,
                     "domain": self.kind, "golden_path": [" -> ".join(["root", *path])],
                     "source_website": [self.root + s for s in sources], "lang": "en"},
        })


def conference(rng: random.Random, slug: str, name: str) -> SiteBuilder:
    site, used = SiteBuilder(slug, name, "conference"), set()
    year = rng.randint(2031, 2036)
    deadline, tentative, notify = _date(rng, year), _date(rng, year), _date(rng, year)
    general, program, workshop = _person(rng, used), _person(rng, used), _person(rng, used)
    keynote, venue = _person(rng, used), f"{rng.choice(WORDS).title()} Hall, room {rng.randint(1, 9)}{rng.choice('ABC')}"
    site.add("index.html", name, _p(f"Welcome to {name} {year}.", f"Tentative submission deadline: {tentative}.",
                                    "See the Call for Papers for details.") + _filler(rng, "the conference", 3),
             [("Call for Papers", "cfp.html"), ("Program", "program/index.html"), ("Organisation", "org/index.html"),
              ("Venue", "venue.html")])
    site.add("cfp.html", "Call for Papers", _filler(rng, "submission topics", 4) +
             f"<h2>Key dates</h2><table><tr><td>Paper submission</td><td>{deadline}</td></tr>"
             f"<tr><td>Notification</td><td>{notify}</td></tr></table>", [])
    site.add("program/index.html", "Program", _filler(rng, "the program", 3),
             [("Keynotes", "keynotes.html"), ("Workshops", "workshops.html")])
    site.add("program/keynotes.html", "Keynotes", _p(f"The opening keynote is given by {keynote}.") + _filler(rng, "talks", 2), [])
    site.add("program/workshops.html", "Workshops", _filler(rng, "workshops", 3), [])
    site.add("org/index.html", "Organisation", _filler(rng, "the organisers", 2), [("Committee", "committee.html")])
    site.add("org/committee.html", "Committee", _p(f"General chair: {general}.", f"Program chair: {program}.",
                                                   f"Workshop chair: {workshop}."), [])
    site.add("venue.html", "Venue", _filler(rng, "travel", 6) + _p(f"All sessions take place in {venue}.") +
             _filler(rng, "accommodation", 6), [])
    site.ask(f"What is the paper submission deadline of {name} {year}?", deadline, "medium", ["Call for Papers"], ["cfp.html"])
    site.ask(f"When are authors notified at {name} {year}?", notify, "easy", ["Call for Papers"], ["cfp.html"])
    site.ask(f"Who is the workshop chair of {name} {year}?", workshop, "medium", ["Organisation", "Committee"],
             ["org/committee.html"])
    site.ask(f"Who gives the opening keynote at {name} {year}?", keynote, "medium", ["Program", "Keynotes"],
             ["program/keynotes.html"])
    site.ask(f"Who is the general chair of {name} {year}?", general, "medium", ["Organisation", "Committee"],
             ["org/committee.html"])
    site.ask(f"In which room do the sessions of {name} {year} take place?", venue, "easy", ["Venue"], ["venue.html"])
    return site


def department(rng: random.Random, slug: str, name: str) -> SiteBuilder:
    site, used = SiteBuilder(slug, name, "education"), set()
    faculty = [_person(rng, used) for _ in range(4)]
    head = faculty[0]
    offices = {p: f"Building {rng.choice('DEFGH')}, room {rng.randint(100, 499)}" for p in faculty}
    hours = {p: f"{rng.choice(['Mondays', 'Tuesdays', 'Wednesdays', 'Thursdays'])} {rng.randint(9, 15)}:00" for p in faculty}
    course = f"{slug[:3].upper()}{rng.randint(100, 399)}"
    coordinator = faculty[rng.randint(1, 3)]
    slugs = {p: p.lower().replace(" ", "-") for p in faculty}
    site.add("index.html", name, _p(f"Welcome to the {name}.") + _filler(rng, "the department", 3),
             [("People", "people/index.html"), ("Teaching", "teaching/index.html"), ("About", "about/index.html")])
    site.add("people/index.html", "People", _filler(rng, "our staff", 2), [("Faculty", "faculty/index.html")])
    site.add("people/faculty/index.html", "Faculty", _p("Our faculty members:"),
             [(p, f"{slugs[p]}.html") for p in faculty])
    for person in faculty:
        site.add(f"people/faculty/{slugs[person]}.html", person,
                 _filler(rng, "research interests", 2) + _p(f"Office: {offices[person]}.", f"Office hours: {hours[person]}."), [])
    site.add("teaching/index.html", "Teaching", _filler(rng, "teaching", 2), [("Courses", "courses/index.html")])
    site.add("teaching/courses/index.html", "Courses", _p("Courses offered this year."), [(course, f"{course.lower()}.html")])
    site.add(f"teaching/courses/{course.lower()}.html", course, _p(f"Course coordinator: {coordinator}.") +
             _filler(rng, "the syllabus", 3), [])
    site.add("about/index.html", "About", _filler(rng, "our history", 3), [("Leadership", "leadership.html")])
    site.add("about/leadership.html", "Leadership", _p(f"Head of department: {head}."), [])
    someone = faculty[rng.randint(1, 3)]
    site.ask(f"Where is the office of {someone} in the {name}?", offices[someone], "hard",
             ["People", "Faculty", someone], [f"people/faculty/{slugs[someone]}.html"])
    site.ask(f"When are the office hours of {head} in the {name}?", hours[head], "hard",
             ["People", "Faculty", head], [f"people/faculty/{slugs[head]}.html"])
    site.ask(f"Who is the head of the {name}?", head, "medium", ["About", "Leadership"], ["about/leadership.html"])
    site.ask(f"Who coordinates the course {course} in the {name}?", coordinator, "hard", ["Teaching", "Courses", course],
             [f"teaching/courses/{course.lower()}.html"])
    site.ask(f"Where is the office of the head of the {name}?", offices[head], "hard",
             ["About", "Leadership", "People", "Faculty", head],
             ["about/leadership.html", f"people/faculty/{slugs[head]}.html"], multi=True)
    return site


def game_wiki(rng: random.Random, slug: str, name: str) -> SiteBuilder:
    site = SiteBuilder(slug, name, "game")
    items = [f"{rng.choice(WORDS).title()} {rng.choice(['Blade', 'Shield', 'Bow', 'Staff'])}" for _ in range(3)]
    items = list(dict.fromkeys(items))
    base = {item: rng.randint(10, 60) for item in items}
    patched_item = items[0]
    patched = base[patched_item] + rng.randint(3, 12)
    version = f"{rng.randint(2, 5)}.{rng.randint(1, 9)}"
    prices = {item: rng.randint(100, 900) for item in items}
    slugs = {item: item.lower().replace(" ", "-") for item in items}
    site.add("index.html", f"{name} Wiki", _p(f"The community wiki of {name}.") + _filler(rng, "the game", 2),
             [("Items", "items/index.html"), ("Patch notes", "patches/index.html"), ("Shop", "shop.html")])
    site.add("items/index.html", "Items", _p("All items:"), [(item, f"{slugs[item]}.html") for item in items])
    for item in items:
        site.add(f"items/{slugs[item]}.html", item, _p(f"Base damage: {base[item]}.") + _filler(rng, "lore", 2), [])
    site.add("patches/index.html", "Patch notes", _p("Newest first."), [(f"Patch {version}", f"{version}.html")])
    site.add(f"patches/{version}.html", f"Patch {version}", _p(f"{patched_item}: damage changed to {patched}.") +
             _filler(rng, "balance", 2), [])
    site.add("shop.html", "Shop", "".join(_p(f"{item}: {prices[item]} gold.") for item in items), [])
    site.ask(f"What is the current damage of the {patched_item} in {name}?", str(patched), "hard",
             ["Patch notes", f"Patch {version}"], [f"patches/{version}.html", f"items/{slugs[patched_item]}.html"], multi=True)
    site.ask(f"How much does the {items[1]} cost in the {name} shop?", f"{prices[items[1]]} gold", "easy", ["Shop"], ["shop.html"])
    site.ask(f"What is the base damage of the {items[-1]} in {name}?", str(base[items[-1]]), "medium",
             ["Items", items[-1]], [f"items/{slugs[items[-1]]}.html"])
    return site


def company(rng: random.Random, slug: str, name: str) -> SiteBuilder:
    site, used = SiteBuilder(slug, name, "company"), set()
    product = f"{rng.choice(WORDS).title()}{rng.choice(['DB', 'Sync', 'Flow', 'Vault'])}"
    marketing, price = rng.randint(5, 20), rng.randint(25, 90)
    versions = [f"{major}.{rng.randint(0, 9)}.{rng.randint(0, 9)}" for major in (rng.randint(3, 6),)]
    versions.append(f"{int(versions[0][0]) - 1}.{rng.randint(0, 9)}.{rng.randint(0, 9)}")
    ceo, cto = _person(rng, used), _person(rng, used)
    pslug = product.lower()
    site.add("index.html", name, _p(f"{name} builds {product}.") + _filler(rng, "the company", 2),
             [("Products", "products/index.html"), ("Changelog", "changelog.html"), ("Company", "company/index.html")])
    site.add("products/index.html", "Products", _p("Our products:"), [(product, f"{pslug}/index.html")])
    site.add(f"products/{pslug}/index.html", product, _p(f"{product} plans from ${marketing} per month.") +
             _filler(rng, "features", 3), [("Pricing", "pricing.html")])
    site.add(f"products/{pslug}/pricing.html", f"{product} pricing",
             _p(f"Team plan: ${price} per user per month.") + _filler(rng, "billing", 2), [])
    site.add("changelog.html", "Changelog", "".join(_p(f"Version {v}: maintenance release.") for v in versions), [])
    site.add("company/index.html", "Company", _filler(rng, "our story", 2), [("Leadership", "leadership.html")])
    site.add("company/leadership.html", "Leadership", _p(f"Chief executive officer: {ceo}.", f"Chief technology officer: {cto}."), [])
    site.ask(f"What does the {product} team plan cost per user per month?", f"${price}", "hard",
             ["Products", product, "Pricing"], [f"products/{pslug}/pricing.html"])
    site.ask(f"What is the latest version of {product}?", versions[0], "easy", ["Changelog"], ["changelog.html"])
    site.ask(f"Who is the CTO of {name}?", cto, "medium", ["Company", "Leadership"], ["company/leadership.html"])
    return site


FAMILIES: dict[str, tuple[Callable[[random.Random, str, str], SiteBuilder], list[str]]] = {
    "conference": (conference, ["Orbit Conf", "Lumen Symposium", "Basalt Workshop on Systems"]),
    "department": (department, ["Department of Applied Tundra Studies", "School of Prism Engineering",
                                "Institute of Meridian Computing"]),
    "game": (game_wiki, ["Cinderfall", "Quartz Legends", "Nimbus Raiders"]),
    "company": (company, ["Garnet Labs", "Harbor Systems", "Onyx Works"]),
}


def build_sites(seed: int = 0) -> list[SiteBuilder]:
    rng = random.Random(seed)
    sites = []
    for family, (make, names) in FAMILIES.items():
        for index, name in enumerate(names):
            slug = f"{family}-{index + 1}"
            sites.append(make(random.Random(rng.random()), slug, name))
    return sites


def generate(out_dir: str | Path, seed: int = 0, test_site: int = 3) -> dict[str, int]:
    """Write ``site/<slug>/…`` and ``train.jsonl`` / ``test.jsonl`` (test = the ``test_site``-th site of each family)."""
    out = Path(out_dir)
    train, test = [], []
    for site in build_sites(seed):
        for path, page in sorted(site.pages.items()):
            target = out / "site" / site.slug / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(page, encoding="utf-8")
        (test if site.slug.endswith(f"-{test_site}") else train).extend(site.qa)
    index = _page("Sites", "", [(s.name, f"{s.slug}/index.html") for s in build_sites(seed)], "tfgrpo synthetic web")
    (out / "site" / "index.html").write_text(index, encoding="utf-8")
    for name, items in (("train", train), ("test", test)):
        lines = [json.dumps({"id": f"{name}-{i:03d}", **item}, ensure_ascii=False, sort_keys=True)
                 for i, item in enumerate(items)]
        (out / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"train": len(train), "test": len(test), "pages": sum(1 for _ in (out / "site").rglob("*.html"))}
