"""Rewards: how good a final answer is, with the grader's reasoning.

Math uses math-verify (the paper's verifier) with a numeric fallback; short answers use
normalized exact match; open answers an LLM judge; anything else a user callable.
"""

from __future__ import annotations

import inspect
import logging
import re
import string
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel

from tfgrpo_agents.core.tasks import Task

logger = logging.getLogger(__name__)

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:[eE]-?\d+)?|-?\.\d+")


class Grade(BaseModel):
    reward: float
    reasoning: str = ""


@runtime_checkable
class Grader(Protocol):
    """Scores an answer to a task in [0, 1].

    A ``grade(task, answer, trajectory)`` method (or a ``trajectory`` parameter) also gets the
    rollout's :class:`~tfgrpo_agents.core.trajectory.Trajectory`.
    """

    def grade(self, task: Task, answer: str | None) -> Grade: ...


_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_DECIMAL_POINT = re.compile(r"(?<=\d)\.(?=\d)")
_JOINING = re.compile(r"['’]")  # d'Arcy → darcy
_PUNCTUATION = re.compile(f"[{re.escape(string.punctuation)}]")  # math.isqrt → math isqrt, A-B → a b


def normalize_answer(text: str) -> str:
    """Lowercase, drop punctuation and articles, fold spaces (SQuAD-style).

    A point between digits is kept, so versions and decimals stay apart ("3.1" is not "3.10",
    which dropping every dot would make "31" and "310"); thousands separators go ("1,000" is "1000").
    """
    text = _THOUSANDS.sub("", text.lower())
    text = _DECIMAL_POINT.sub("\0", text)
    text = _PUNCTUATION.sub(" ", _JOINING.sub("", text)).replace("\0", ".")
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def states(given: str, reference: str) -> bool:
    """Whether the normalized ``reference`` appears in ``given`` as whole words ("3.1" is not in "3.11")."""
    return f" {reference} " in f" {given} "


def _last_number(text: str) -> float | None:
    found = _NUMBER.findall(text)
    if not found:
        return None
    try:
        return float(found[-1].replace(",", ""))
    except ValueError:
        return None


class ExactMatchGrader:
    """1.0 when the normalized answer equals the normalized reference, else 0.0."""

    instant = True  # a string comparison: graded again rather than cached (see core.grading)

    def grade(self, task: Task, answer: str | None) -> Grade:
        if task.answer is None:
            raise ValueError(f"task {task.id} has no reference answer to match")
        if not answer:
            return Grade(reward=0.0, reasoning="no answer")
        same = normalize_answer(answer) == normalize_answer(task.answer)
        return Grade(reward=float(same), reasoning="exact match" if same else
                     f"expected {task.answer!r}, got {answer!r}")


class ShortAnswerGrader:
    """Right when the answer states the reference and little else.

    Containment alone rewards an agent that pastes a whole search result which happens to include
    the answer; here the answer may add at most ``slack`` words to the reference.
    """

    instant = True

    def __init__(self, slack: int = 6) -> None:
        self.slack = slack

    def grade(self, task: Task, answer: str | None) -> Grade:
        if task.answer is None:
            raise ValueError(f"task {task.id} has no reference answer")
        if not answer:
            return Grade(reward=0.0, reasoning="no answer")
        reference, given = normalize_answer(task.answer), normalize_answer(answer)
        if not states(given, reference):
            return Grade(reward=0.0, reasoning=f"expected {task.answer!r}, got {answer[:200]!r}")
        extra = len(given.split()) - len(reference.split())
        if extra > self.slack:
            return Grade(reward=0.0, reasoning=f"contains the answer but adds {extra} words: not a short answer")
        return Grade(reward=1.0, reasoning="the answer states the reference")


class MathGrader:
    """math-verify first (LaTeX, fractions, expressions); the last number in the answer as fallback.

    math-verify's own timeouts use signals, which only work in the main thread; graders run in
    worker threads, so they are off and over-long answers are cut instead.
    """

    max_chars = 2000

    def __init__(self, tolerance: float = 1e-6) -> None:
        self.tolerance = tolerance
        try:
            import math_verify  # noqa: F401
        except ImportError as error:
            from tfgrpo_agents._extras import missing_extra

            raise missing_extra("math", error) from error
        for name in ("math_verify.parser", "math_verify.grader"):
            logging.getLogger(name).setLevel(logging.ERROR)

    def grade(self, task: Task, answer: str | None) -> Grade:
        if task.answer is None:
            raise ValueError(f"task {task.id} has no reference answer to verify")
        if not answer:
            return Grade(reward=0.0, reasoning="no answer")
        try:
            from math_verify import parse, verify

            gold = parse(task.answer, parsing_timeout=None)
            target = parse(answer[-self.max_chars:], parsing_timeout=None)
            if gold and target and verify(gold, target, timeout_seconds=None):
                return Grade(reward=1.0, reasoning="math-verify: equivalent")
        except Exception as exc:  # the verifier must never crash a run
            logger.debug("math-verify failed on %r: %s", answer, exc)
        expected, got = _last_number(task.answer), _last_number(answer)
        if expected is not None and got is not None and abs(expected - got) <= self.tolerance * max(1.0, abs(expected)):
            return Grade(reward=1.0, reasoning="numeric match")
        return Grade(reward=0.0, reasoning=f"expected {task.answer}, got {answer[:200]!r}")


def takes_trajectory(fn: Callable[..., Any]) -> bool:
    """Whether a grading function wants the rollout too: a third positional or a ``trajectory`` parameter."""
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    if any(p.name == "trajectory" for p in parameters):
        return True
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 3 or any(p.kind is p.VAR_POSITIONAL for p in parameters)


def as_grade(result: float | Grade | bool, source: str = "user grader") -> Grade:
    if isinstance(result, Grade):
        return result
    return Grade(reward=float(result), reasoning=source)


class CallableGrader:
    """Wrap any ``(task, answer) -> float | Grade``, or ``(task, answer, trajectory) -> float | Grade``.

    The three-argument form sees the whole rollout (its tool calls, messages, token usage), so a
    reward can count tool use: ``lambda task, answer, t: right(answer) - 0.1 * len(t.tool_calls)``.
    """

    def __init__(self, fn: Callable[..., float | Grade]) -> None:
        self.fn = fn
        self.wants_trajectory = takes_trajectory(fn)

    def grade(self, task: Task, answer: str | None, trajectory: Any = None) -> Grade:
        result = self.fn(task, answer, trajectory) if self.wants_trajectory else self.fn(task, answer)
        return as_grade(result)


def as_grader(grader: Grader | Callable[..., float | Grade] | None) -> Grader | None:
    """A grader object as it is; a plain function wrapped in :class:`CallableGrader`."""
    if grader is None or hasattr(grader, "grade"):
        return grader
    if callable(grader):
        return CallableGrader(grader)
    raise TypeError(f"a grader must have a grade() method or be a function, got {type(grader).__name__}")


def grade_rollout(grader: Grader, task: Task, trajectory: Any) -> Grade:
    """Ask ``grader`` about one rollout, passing the trajectory to graders that take it."""
    if takes_trajectory(grader.grade):  # CallableGrader.grade takes it, and passes it on only if its function does
        return as_grade(grader.grade(task, trajectory.final_answer, trajectory))
    return as_grade(grader.grade(task, trajectory.final_answer))


class LLMJudgeGrader:
    """A teacher reads question, reference and student answer and says CORRECT or INCORRECT."""

    def __init__(self, model: BaseChatModel) -> None:
        self.model = model

    def grade(self, task: Task, answer: str | None) -> Grade:
        from tfgrpo_agents.prompts import JUDGE_PROMPT

        if task.answer is None:
            raise ValueError(f"task {task.id} has no reference answer for the judge")
        if not answer:
            return Grade(reward=0.0, reasoning="no answer")
        reply = self.model.invoke(JUDGE_PROMPT.format(question=task.question, reference=task.answer, answer=answer))
        text = str(reply.text).strip()
        verdict = re.findall(r"\b(INCORRECT|CORRECT)\b", text.upper())
        return Grade(reward=1.0 if verdict and verdict[-1] == "CORRECT" else 0.0, reasoning=text[:500])


def grader_for(name: str, judge: BaseChatModel | None = None) -> Grader:
    """``math``, ``exact``, ``short``, ``judge`` (needs a model), or a user's ``package.module:function``."""
    if ":" in name:
        from tfgrpo_agents._objects import load_object

        return as_grader(load_object(name))
    if name == "short":
        return ShortAnswerGrader()
    if name == "math":
        return MathGrader()
    if name == "exact":
        return ExactMatchGrader()
    if name == "judge":
        if judge is None:
            raise ValueError("the judge grader needs a model")
        return LLMJudgeGrader(judge)
    raise ValueError(f"unknown grader {name!r} (expected math, exact, short, judge or package.module:function)")
