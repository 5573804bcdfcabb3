"""Lessons at the point of decision: which lessons a task sees, and where they are said again.

A small model does not act on a lesson that sits in its system prompt, far from the moment it
decides (issue 17: five correct lessons changed its tool use, not its answers). Three options,
shared by the built-in ReAct agent and :class:`ExperienceMiddleware`:

* ``relevant_only`` — the prompt block holds only the lessons whose condition (the "When …" part)
  shares informative words with the task's question, at most ``limit`` of them;
* ``restate`` — those lessons are repeated under every tool result, the last text the model reads
  before it answers or calls again;
* ``answer_check`` — the first final answer is held back once, with the lessons and the question
  "have you done what it says?", which gives the model one more step.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from langchain_core.messages import AnyMessage, HumanMessage
from pydantic import BaseModel, ConfigDict, Field

from tfgrpo_agents.agents.answers import message_text
from tfgrpo_agents.experience.models import Experience
from tfgrpo_agents.experience.render import ordered
from tfgrpo_agents.prompts import ANSWER_CHECK, LESSON_RESTATEMENT

ANSWER_CHECK_NAME = "answer_check"  # the held-back answer's follow-up is a HumanMessage of this name


class LessonDelivery(BaseModel):
    """Which lessons a task sees and where they are said again (all off: the plain system block)."""

    model_config = ConfigDict(frozen=True)

    relevant_only: bool = False
    restate: bool = False
    answer_check: bool = False
    limit: int = Field(default=3, ge=1)

    @property
    def selects(self) -> bool:
        return self.relevant_only or self.restate or self.answer_check

    @classmethod
    def parse(cls, spec: str) -> LessonDelivery:
        """``"relevant,restate,check"`` (any of them, in any order; ``""`` or ``"all"``: plain)."""
        words = {w.strip() for w in spec.replace("+", ",").split(",") if w.strip() and w.strip() != "all"}
        unknown = words - set(_SPEC_WORDS)
        if unknown:
            raise ValueError(f"unknown lesson delivery {', '.join(sorted(unknown))!r}: use any of "
                             f"{', '.join(_SPEC_WORDS)} (comma-separated)")
        return cls(**{_SPEC_WORDS[w]: True for w in words})

    @property
    def spec(self) -> str:
        """The inverse of :meth:`parse` ("relevant+restate"; "all" when plain)."""
        return "+".join(w for w, field in _SPEC_WORDS.items() if getattr(self, field)) or "all"


_SPEC_WORDS = {"relevant": "relevant_only", "restate": "restate", "check": "answer_check"}


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


def matching_lessons(experiences: Iterable[Experience], question: str, limit: int = 3) -> list[Experience]:
    """The lessons whose condition shares the most informative words with ``question``, best first.

    A word counts by how few of the library's conditions hold it, and not at all when every one
    does (the product's name, "version"); a lesson that shares no word, or scores under half the
    best one, is not relevant. The question's URLs are not words of it.
    """
    lessons = ordered(experiences)
    conditions = {e.id: _terms(condition_of(e.text)) for e in lessons}
    asked = _terms(question)
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


def restatement(lessons: Sequence[Experience]) -> str:
    return LESSON_RESTATEMENT.format(lessons=" ".join(e.text for e in lessons)) if lessons else ""


def answer_check(lessons: Sequence[Experience]) -> HumanMessage:
    return HumanMessage(ANSWER_CHECK.format(lessons=" ".join(e.text for e in lessons)), name=ANSWER_CHECK_NAME)


def was_checked(messages: Sequence[AnyMessage]) -> bool:
    return any(isinstance(m, HumanMessage) and m.name == ANSWER_CHECK_NAME for m in messages)
