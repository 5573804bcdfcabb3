"""Lessons at the point of decision: which lessons a task sees, and where they are said again.

A small model does not act on a lesson that sits in its system prompt, far from the moment it
decides (issue 17: five correct lessons changed its tool use, not its answers). Three options,
shared by the built-in ReAct agent and :class:`ExperienceMiddleware`:

* ``relevant_only`` — the prompt block holds only the lessons whose condition (the "When …" part)
  shares informative words with the task's question, at most ``limit`` of them;
* ``restate`` — those lessons are repeated under every tool result, the last text the model reads
  before it answers or calls again;
* ``answer_check`` — the first final answer is held back once, with the lessons and the question
  "have you done what it says?", which gives the model one more step;
* ``suggest_page`` — the lesson turned into a next action: among the pages the run has seen (search
  hits, links of opened pages) and not opened, the one whose title or address names what the lesson
  says to open is named, with its URL, in the check and the restatement. A lesson says "open People,
  then Faculty, then that person's own page"; the search result ``…/people/faculty/yuki-okonkwo.html``
  is that page, and a small model follows a URL more readily than a route. The answer is held back
  only when there is such a page to name (with ``answer_check`` too: always). A reply that repeats
  the check instead of answering or calling ("The page it points to: … — open http://…") opens the
  page it named (:func:`opening_call`).
  With ``hops`` > 1 (spec word ``next2``), a link of the page opened that way which fits the lesson
  (People → that professor's page; Patch notes → Patch 3.4) is named in one more check, up to
  ``hops`` checks in all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, ConfigDict, Field

from tfgrpo_agents.agents.answers import message_text
from tfgrpo_agents.experience.models import Experience
from tfgrpo_agents.experience.render import ordered
from tfgrpo_agents.prompts import ANSWER_CHECK, LESSON_RESTATEMENT, SUGGESTED_PAGE

ANSWER_CHECK_NAME = "answer_check"  # the held-back answer's follow-up is a HumanMessage of this name
OPENED_FOR_CHECK = "opened_for_check"  # the call that opens the page a check named, for a reply that repeated it


class LessonDelivery(BaseModel):
    """Which lessons a task sees and where they are said again (all off: the plain system block)."""

    model_config = ConfigDict(frozen=True)

    relevant_only: bool = False
    restate: bool = False
    answer_check: bool = False
    suggest_page: bool = False
    limit: int = Field(default=3, ge=1)
    hops: int = Field(default=1, ge=1, description="with suggest_page: checks before the answer, one more for "
                                                   "each new page a followed suggestion leads to")

    @property
    def selects(self) -> bool:
        return self.relevant_only or self.restate or self.answer_check or self.suggest_page

    @property
    def fingerprint(self) -> str:
        """The options as JSON for a rollout's set-up digest; an option added later is left out while
        off, so rollouts recorded before it existed stay valid."""
        later = {name for name, off in (("suggest_page", not self.suggest_page), ("hops", self.hops == 1)) if off}
        # Changes of behaviour since the options were recorded (2026-12-07): ``next`` without ``check``
        # holds no answer back when it has no page to name; a reply that repeats a check opens its page;
        # a page of the question's site is named first; a later check names a fitting link of the page
        # last opened; a word the lesson and the question qualify differently selects nothing; the page a lesson
        # names and the site the question names (in the page's title) come before the lesson's other words.
        changes = [self.suggest_page and not self.answer_check and "page-only", self.suggest_page and "opens",
                   self.suggest_page and "site-first", self.hops > 1 and "onward", self.selects and "qualified",
                   self.suggest_page and "named-page"]
        return ":".join([self.model_dump_json(exclude=later), *filter(None, changes)])

    @property
    def checks_answer(self) -> bool:
        """Whether the first final answer may be held back (the check, or the page it names)."""
        return self.answer_check or self.suggest_page

    def page_for(self, lessons: Sequence[Experience], messages: Sequence[AnyMessage]) -> SeenPage | None:
        return suggested_page(lessons, messages) if self.suggest_page else None

    def check_for(self, lessons: Sequence[Experience], messages: Sequence[AnyMessage]) -> HumanMessage | None:
        """The check to send instead of accepting the final answer just written, or None: the first
        answer is held back once; with ``hops`` > 1 again while the lessons point to a page no check
        has named yet."""
        if not self.checks_answer or not lessons:
            return None
        earlier = [message_text(m) for m in messages if isinstance(m, HumanMessage) and m.name == ANSWER_CHECK_NAME]
        if not earlier:
            page = self.page_for(lessons, messages)
            # ``next`` alone holds the answer back only to name a page: a route was not followed, and a
            # lesson matched by a shared word ("cost") made agents drop right answers (BENCHMARKS.md §1n)
            if page is None and not self.answer_check:
                return None
            return answer_check(lessons, page)
        if len(earlier) >= self.hops or not self.suggest_page:
            return None
        page = suggested_page(lessons, messages, onward=True)
        if page is None or any(page.url in text for text in earlier):
            return None
        return answer_check(lessons, page)

    @classmethod
    def parse(cls, spec: str) -> LessonDelivery:
        """``"relevant,restate,check,next"`` (any of them, in any order; ``next2``: up to two pages named;
        ``""`` or ``"all"``: plain)."""
        words = {w.strip() for w in spec.replace("+", ",").split(",") if w.strip() and w.strip() != "all"}
        hops = [int(found.group(1)) for found in map(_NEXT_N.fullmatch, words) if found]
        words = {"next" if _NEXT_N.fullmatch(w) else w for w in words}
        unknown = words - set(_SPEC_WORDS)
        if unknown or len(hops) > 1:
            raise ValueError(f"unknown lesson delivery {', '.join(sorted(unknown)) or spec!r}: use any of "
                             f"{', '.join(_SPEC_WORDS)} (comma-separated; nextN: up to N pages named)")
        return cls(**{_SPEC_WORDS[w]: True for w in words}, hops=hops[0] if hops else 1)

    @property
    def spec(self) -> str:
        """The inverse of :meth:`parse` ("relevant+restate", "relevant+next2"; "all" when plain)."""
        words = [w + (str(self.hops) if w == "next" and self.hops > 1 else "")
                 for w, field in _SPEC_WORDS.items() if getattr(self, field)]
        return "+".join(words) or "all"


_SPEC_WORDS = {"relevant": "relevant_only", "restate": "restate", "check": "answer_check", "next": "suggest_page"}
_NEXT_N = re.compile(r"next([1-9])")  # next2: suggest_page with hops=2


_WORD = re.compile(r"[a-z][a-z0-9_]+")
_GENERIC = frozenset("""a an the and or of for to in on at by with from about into is are was were be been it its
this that these those what which who whom when where why how does do did than then there their your you
asked asks ask question questions answer answers website websites site page pages web information info
http https www com org net html find found use using look value values""".split())
_CONDITION = re.compile(r"^\s*(?:when|if|for|before|after|whenever)\b(.*?)(?:,|:|;| then )", re.IGNORECASE)


_URL = re.compile(r"\S+://\S+")


def _stem(word: str) -> str:
    """A crude stem: suffixes off, then six letters ("notified" and "notification" are one word here)."""
    for suffix in ("ing", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            word = word[: -len(suffix)]
            break
    return word[:6]


def _terms(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall(_URL.sub(" ", text.lower())) if w not in _GENERIC}


def condition_of(lesson: str) -> str:
    """The "When …" part of a lesson ("When asked for X, do Y" → "asked for X"); the whole text otherwise."""
    found = _CONDITION.match(lesson)
    return found.group(1) if found and found.group(1).strip() else lesson


_NAME_WORD = re.compile(r"(?<![.?!:]\s)(?<!^)\b[A-Z][\w'’-]*")


def _without_names(question: str) -> str:
    """The question without its capitalised words past the first (its names: "the course DEP322 in the
    Department of Applied Tundra Studies"). Lessons are general, so a condition that shares only a
    name with the question ("who heads a university department") does not apply to it (BENCHMARKS.md §1n)."""
    return _NAME_WORD.sub(" ", question.strip())


_CLAUSE_BREAK = re.compile(r"[,;:.?!()\[\]\"«»]")
# words that pick one of a kind's instances, not another kind: "the latest version" is "the current version"
_SELECTORS = frozenset(_stem(w) for w in """current latest newest recent last first next new old oldest earliest
previous upcoming present final main""".split())


def _word_pairs(text: str) -> list[tuple[str, str]]:
    """Each word with the word written right before it, within one clause (URLs aside)."""
    return [(before, word) for clause in _CLAUSE_BREAK.split(_URL.sub(" ", text.lower()))
            for words in [_WORD.findall(clause)] for before, word in zip(words, words[1:])]


def _qualifiers(text: str) -> dict[str, set[str]]:
    """Each informative word with the informative words written right before it in one clause
    ("the workshop chair" → chair: {workshop}; "a game item's current stats" → current: {item}),
    selectors aside ("the latest version", "came first": neither qualifies nor is qualified)."""
    found: dict[str, set[str]] = {}
    for before, word in _word_pairs(text):
        if before not in _GENERIC and word not in _GENERIC and not {_stem(before), _stem(word)} & _SELECTORS:
            found.setdefault(_stem(word), set()).add(_stem(before))
    return found


def _selected(text: str) -> set[str]:
    """The words a selector picks an instance of ("the current damage" → damage)."""
    return {_stem(word) for before, word in _word_pairs(text) if _stem(before) in _SELECTORS}


def _qualified_apart(condition: str, in_question: dict[str, set[str]], asked: set[str]) -> set[str]:
    """The shared words that the condition and the question (its qualifiers and terms) qualify
    differently: "the workshop chair" and "the general chair", "a game item costs" and "the team plan
    cost". Such a word names another thing in each, so it does not make the lesson apply
    (BENCHMARKS.md §1q); a qualifier that the other text holds anywhere keeps it ("submission or
    notification deadline", "submission deadline")."""
    condition_terms = _terms(condition)
    apart = {word for word, before in _qualifiers(condition).items()
             if word in in_question and not before & asked and not in_question[word] & condition_terms}
    # "the current damage" is not "the base damage": a kind the condition picks an instance of, which the
    # question qualifies by a word the condition does not hold
    return apart | {word for word in _selected(condition)
                    if in_question.get(word) and not in_question[word] & condition_terms}


def matching_lessons(experiences: Iterable[Experience], question: str, limit: int = 3) -> list[Experience]:
    """The lessons whose condition shares the most informative words with ``question``, best first.

    A word counts by how few of the library's conditions hold it, and not at all when every one
    does (the product's name, "version") or when the two texts qualify it differently (the
    workshop chair is not the general chair); a lesson that shares no word, or scores under half
    the best one, is not relevant. The question's URLs are not words of it.
    """
    lessons = ordered(experiences)
    asked_text = _without_names(question)
    asked, in_question = _terms(asked_text), _qualifiers(asked_text)
    conditions = {e.id: _terms(condition) - _qualified_apart(condition, in_question, asked)
                  for e in lessons for condition in [condition_of(e.text)]}
    frequency: dict[str, int] = {}
    for terms in conditions.values():
        for term in terms:
            frequency[term] = frequency.get(term, 0) + 1
    shared = {t for t, n in frequency.items() if n == len(lessons) > 1}
    scored = [(sum(1 / frequency[t] for t in (conditions[e.id] & asked) - shared), e) for e in lessons]
    best = max((score for score, _ in scored), default=0.0)
    kept = sorted((pair for pair in scored if pair[0] > 0 and pair[0] >= best / 2), key=lambda pair: -pair[0])
    return [e for _, e in kept[:limit]]


def question_of(messages: Sequence[AnyMessage]) -> str:
    """The task: the first user message."""
    return next((message_text(m) for m in messages if isinstance(m, HumanMessage)), "")


class SeenPage(BaseModel):
    """A page the run was shown but has not opened: its label (a result's title, a link's text) and URL."""

    label: str
    url: str


_LINE_URL = re.compile(r"(?P<head>.*?)(?P<url>https?://[^\s<>\"')\]]+)")
_NUMBERING = re.compile(r"^\s*(?:\[\d+\]|\d+[.)])\s*")


def _pages_in(text: str) -> list[SeenPage]:
    """Every URL of a tool result with the words that label it: the text before it on its line
    ("[3] Faculty: http://…"), else the line above ("1. Title | Site" over "URL: http://…")."""
    pages, previous = [], ""
    for line in text.splitlines():
        found = _LINE_URL.match(line)
        if found:
            head = _NUMBERING.sub("", found.group("head")).strip().rstrip(":").strip()
            label = head if head and head.lower() not in ("url", "link") else _NUMBERING.sub("", previous).strip()
            pages.append(SeenPage(label=label, url=found.group("url").rstrip(".,;:")))
        if line.strip():
            previous = line
    return pages


def _path(url: str) -> str:
    """A URL without scheme and host: a site served on 127.0.0.1 is the same site under its name."""
    return url.split("://", 1)[-1].partition("/")[2].split("#")[0].rstrip("/")


def _is_opened_page(page: SeenPage) -> bool:
    """Whether a page of a tool result is the page that result shows (its "Title: …" header), not a link."""
    return page.label.lower().startswith("title:")


def _opened(messages: Sequence[AnyMessage]) -> set[str]:
    """Paths of the URLs a tool was called with (a page opened, whatever the tool is named), and of
    pages a tool result shows under their own "Title:" (an opened page's header)."""
    called = {_path(value) for m in messages if isinstance(m, AIMessage) for call in m.tool_calls
              for value in call["args"].values() if isinstance(value, str) and "://" in value}
    shown = {_path(page.url) for m in messages if isinstance(m, ToolMessage)
             for page in _pages_in(message_text(m)) if _is_opened_page(page)}
    return called | shown


_VERBS = frozenset("open opens read reads check checks visit go click follow see then first".split())


_REASON = re.compile(r"[;.]\s|, (?:which|where|because|since|as)\b|\s[-—]\s")


def _action_of(lesson: str) -> str:
    """What a lesson says to do: its text after the condition and before the reason."""
    found = _CONDITION.match(lesson)
    return _REASON.split(lesson[found.end():] if found else lesson, maxsplit=1)[0]


def _action_terms(lesson: str) -> set[str]:
    """The words of what a lesson says to do ("open the Shop page; item pages do not give prices" → shop),
    verbs aside."""
    return _terms(_action_of(lesson)) - {_stem(v) for v in _VERBS}


def _named_page_terms(lesson: str) -> set[str]:
    """The words of the page a lesson names as where the value is ("… after 'Workshop chair' on the page
    'Committee'" → committee): the page outranks the label's words when a page is suggested."""
    action = _action_of(lesson)
    at = action.rfind(" on ")
    return _terms(action[at + 4:]) - {_stem(v) for v in _VERBS} if at >= 0 else set()


def _names_of(question: str) -> set[str]:
    """The question's names ("Lumen Symposium", "Harbor Bow"): a page whose title has them is of the site
    it asks about."""
    return _terms(" ".join(_NAME_WORD.findall(_URL.sub(" ", question.strip()))))


def _address_terms(url: str) -> set[str]:
    return _terms(re.sub(r"[/_.#?=&-]+", " ", _path(url)))


def suggested_page(lessons: Sequence[Experience], messages: Sequence[AnyMessage],
                   onward: bool = False) -> SeenPage | None:
    """The unopened page the lessons point to, or None.

    A page must share a word of what a lesson says to do ("Faculty", "patch note", "Pricing") in
    its label or address; among those, the page a lesson names ("… on the page 'Committee'") comes
    first, then a page of the site the question names, by its address or by its names in the page's
    title (search hits come from every site: another company's changelog is not this product's), then
    more of the lesson's words, and words of the question ("Yuki Okonkwo") break ties. Nothing is
    suggested when a page already opened fits as well: the lesson has been followed — unless
    ``onward``: then a link of the last page opened that fits the lesson is the next hop, however
    well that page itself fits (the "Patch notes" index fits "the newest patch note" better than its
    link "Patch 3.4", which holds the note).
    """
    action = set().union(*(_action_terms(e.text) for e in lessons)) if lessons else set()
    if not action:
        return None
    named_page = set().union(*(_named_page_terms(e.text) for e in lessons))
    question = question_of(messages)
    asked, names, opened = _terms(question), _names_of(question), _opened(messages)
    sites = [f"{path}/" if path else "" for path in (_path(url.rstrip(".,;:)")) for url in _URL.findall(question))]

    def fit(label: str, url: str) -> tuple[int, ...]:
        """Shares a word of the action (else 0 first: no fit); then the page the lessons name, the site the
        question names (by its address; with none but the web's root, by its names in the page's title),
        the action's words, the question's."""
        terms = _terms(label) | _address_terms(url)
        shared = len(terms & action)
        on_site = (any((_path(url) + "/").startswith(site) for site in sites) if any(sites)
                   else bool(_terms(label) & names))
        return int(shared > 0), len(terms & named_page), int(on_site), shared, len(terms & asked)

    def best_of(pages: Iterable[SeenPage]) -> tuple[tuple[int, ...], list[SeenPage]]:
        """The best fit among the unopened pages that share a word of the lessons' action, and the
        pages with it in the order seen (no fit, no pages: ``(0,), []``)."""
        scored = [(score, page) for page in pages
                  if _path(page.url) not in opened and (score := fit(page.label, page.url))[0]]
        top = max((score for score, _ in scored), default=(0,))
        return top, [page for score, page in scored if score == top]

    shown = [_pages_in(message_text(m)) for m in messages if isinstance(m, ToolMessage)]
    followed = max([fit("", f"//host/{path}") for path in opened]
                   + [fit(p.label, p.url) for pages in shown for p in pages if _path(p.url) in opened],
                   default=(0,))
    best_fit, best = best_of(p for pages in shown for p in pages)
    if best and best_fit > followed:
        return best[0]
    if onward:
        links = next((pages[1:] for pages in reversed(shown) if pages and _is_opened_page(pages[0])
                      and fit(pages[0].label, pages[0].url)[0]), [])
        _, onward_pages = best_of(links)
        # a list of equals (every professor on the Faculty page) names none: a guess would be acted on
        return onward_pages[0] if len(onward_pages) == 1 else None
    return None


def restatement(lessons: Sequence[Experience], page: SeenPage | None = None) -> str:
    if not lessons:
        return ""
    return LESSON_RESTATEMENT.format(lessons=" ".join(e.text for e in lessons), page=_page_line(page))


def answer_check(lessons: Sequence[Experience], page: SeenPage | None = None) -> HumanMessage:
    return HumanMessage(ANSWER_CHECK.format(lessons=" ".join(e.text for e in lessons), page=_page_line(page)),
                        name=ANSWER_CHECK_NAME)


def named_url(check: AnyMessage) -> str | None:
    """The URL of the page an answer check named, or None (not a check, or no page named)."""
    if not isinstance(check, HumanMessage) or check.name != ANSWER_CHECK_NAME:
        return None
    found = _NAMED_URL.search(message_text(check))
    return found.group(1) if found else None


_REPLY_WORD = re.compile(r"\w\w+")  # "I have not done what it says": (nearly) all its words are the check's
_NAMED_URL = re.compile(re.escape(SUGGESTED_PAGE.split("{url}")[0].rsplit("{label}", 1)[1]) + r"(\S+)")


def opening_call(messages: Sequence[AnyMessage], reply: AIMessage, tools: Sequence[Any]) -> AIMessage | None:
    """The reply to a check that named a page, as the call that opens it, when the reply repeats the
    check instead of answering or calling ("The page it points to: Shop — open http://…", "I have not
    done what it says.", "The page it points to does not give shop prices."; four words in five the
    check's): the 1.5B model does so in about one check of twelve (BENCHMARKS.md §1o).
    ``tools`` are the agent's; the call goes to the one that takes a ``url``. None otherwise. The
    call is the scaffold's (named :data:`OPENED_FOR_CHECK`, no token usage): keep the reply beside it."""
    url = named_url(messages[-1]) if messages else None
    text = message_text(reply)
    if url is None or reply.tool_calls or not text.strip():
        return None
    words = set(_REPLY_WORD.findall(text.lower()))
    repeated = len(words) >= 3 and len(words - set(_REPLY_WORD.findall(message_text(messages[-1]).lower()))) \
        <= len(words) // 5
    if url not in text and not repeated:
        return None
    for spec in tools:
        try:
            function = convert_to_openai_tool(spec).get("function") or {}
        except (TypeError, ValueError):  # a provider's built-in tool ({"type": "web_search"}) has no schema here
            continue
        if "url" in (function.get("parameters") or {}).get("properties", {}):
            call = {"name": function["name"], "args": {"url": url}, "id": f"call_open_{len(messages)}",
                    "type": "tool_call"}
            return AIMessage(content="", tool_calls=[call], name=OPENED_FOR_CHECK)
    return None


def _page_line(page: SeenPage | None) -> str:
    return SUGGESTED_PAGE.format(label=page.label or page.url, url=page.url) if page else ""
