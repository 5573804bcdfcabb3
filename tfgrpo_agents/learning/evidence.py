"""Where each attempt's answer came from: the facts of a group comparison that need no model.

A small teacher misreads transcripts: it invents steps and misses that a failed attempt had the
right value in front of it. What can be computed is computed here and handed to the teacher,
so its job shrinks to the part that needs judgement: turning the contrast into a general lesson.
Used by the ``trace`` summaries and by the advantage stage.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from langchain_core.messages import ToolMessage

from tfgrpo_agents.core.tasks import Task
from tfgrpo_agents.core.trajectory import Trajectory

WEBSITE = "the website address"
QUESTION = "the question itself"

# Parts of an answer worth looking for on their own: numbers ("3.11"), and capitalised or long words.
_SALIENT = re.compile(r"\d+(?:[.,]\d+)*|[A-Z][\w.'-]{2,}|\w{6,}")


def _flat(text: str) -> str:
    return " ".join(str(text).split())


def tool_results(trajectory: Trajectory) -> list[str]:
    return [_flat(m.text) for m in trajectory.langchain_messages() if isinstance(m, ToolMessage)]


def whole(needle: str) -> re.Pattern[str]:
    """``needle`` as a whole word or number, case-insensitive: "3.1" is not found in "3.11" or "3.1.2"."""
    return re.compile(rf"(?<![\w.]){re.escape(needle)}(?![\w]|\.\d)", flags=re.IGNORECASE)


def _find(needle: str, haystack: str) -> int:
    """Position of ``needle`` as a whole word or number in ``haystack``, or -1."""
    match = whole(needle).search(haystack) if needle else None
    return match.start() if match else -1


def _excerpt(text: str, at: int, length: int, window: int) -> str:
    start, end = max(0, at - window), min(len(text), at + length + window)
    return f"«…{text[start:end]}…»"


def _locate_in(texts: Sequence[str], needle: str) -> tuple[int, str, int] | None:
    """The first text (1-based) holding ``needle`` whole, that text and the position in it."""
    for number, text in enumerate(texts, start=1):
        at = _find(needle, text)
        if at >= 0:
            return number, text, at
    return None


def _locate(trajectory: Trajectory, needle: str) -> tuple[int, str, int] | None:
    """The first tool result (1-based) holding ``needle`` whole, that result's text and the position in it."""
    return _locate_in(tool_results(trajectory), needle)


def _right(attempts: Sequence[Trajectory]) -> list[Trajectory]:
    return [t for t in attempts if not t.failed and (t.reward or 0) >= 1.0]


def _located_by(attempts: Sequence[Trajectory], needle: str) -> tuple[int, str, int] | None:
    """Where the first of ``attempts`` whose tool results hold ``needle`` has it (see :func:`_locate`)."""
    return next((loc for loc in (_locate(t, needle) for t in attempts) if loc), None)


def reference_location(trajectory: Trajectory, reference: str, window: int = 80) -> tuple[int, str] | None:
    """The first tool result (1-based) holding the reference answer, with the text around it."""
    needle = _flat(reference)
    found = _locate(trajectory, needle)
    return (found[0], _excerpt(found[1], found[2], len(needle), window)) if found else None


# Where a page begins inside a tool result: a search hit ("2. Committee | Orbit Conf URL: …") or an
# opened page ("Title: … URL: …"); the text up to the next beginning is that page's. A snippet ending in a
# number ("Base damage: 35.") is not the beginning of a hit titled "2. Patch 3.8".
_PAGE_START = re.compile(r"(?:^|(?<=\s))(?P<kind>\d+\.|Title:) (?!\d+\. )(?P<title>\S.{0,118}?) URL: (?P<url>\S+)")
# the words a page writes just before a value: "Workshop chair: …", "Head of department: …"
_LABEL = re.compile(r"(?:^|(?<=\s))(?P<label>[A-Z][a-z]+(?: [a-z]+){0,3}):\s*$")
_NAME_WORD = re.compile(r"`[^`]+`|[A-Z][\w'.-]*|\w*\d[\w.]*")


def names_in(question: str) -> list[str]:
    """What a question names: code spans, capitalised words but its first (a sentence's), anything with a digit."""
    return _NAME_WORD.findall(question.split(" ", 1)[1] if " " in question else "")


def as_x(text: str, is_name: Callable[[str], bool]) -> str:
    """``text`` with each word ``is_name`` accepts written X, and a run of them ("Bruno Mbeki") one X."""
    general = re.sub(r"[\w']+", lambda m: "X" if is_name(m.group(0)) else m.group(0), text)
    return re.sub(r"X(?:[ _-]X)+", "X", general)


def _without_names(text: str, question: str) -> str:
    """``text`` with the question's names and codes ("Bruno Mbeki", "DEP276") as X: a page title or path
    then says what kind of page it is (``Prof X``, ``/people/faculty/X.html``), which carries to other tasks."""
    names = {w.lower() for w in names_in(question)}
    return as_x(text, lambda word: word.lower() in names)


def _page_start(text: str, at: int) -> re.Match[str] | None:
    """Where the page holding position ``at`` of a tool result begins: its kind, title and URL."""
    start = None
    for match in _PAGE_START.finditer(text):
        if match.start() > at:
            break
        start = match
    return start


def _title_of(start: re.Match[str], question: str) -> str:
    """A page's title without the site's name (it says nothing of the page) and the question's names."""
    return _without_names(start["title"].split(" | ")[0], question)


def page_at(text: str, at: int, question: str) -> str | None:
    """The page a position of a tool result lies on, with the question's names taken out:
    'the opened page «Prof X» (/people/faculty/X.html)', or 'the search hit for …'."""
    start = _page_start(text, at)
    if start is None:
        return None
    title = _title_of(start, question)
    folder, _, name = (urlsplit(start["url"]).path or "/").rpartition("/")
    path = f"{folder}/{_without_names(name, question)}"  # folders name kinds of pages; "institute-1" stays
    kind = "the opened page" if start["kind"] == "Title:" else "the search hit for the page"
    return f"{kind} «{title}» ({path})"


def label_before(text: str, at: int, question: str) -> str | None:
    """The label a page writes just before a value ("Workshop chair"), if it has one; the end of a name
    the question gives ("Juniper Staff: 117 gold") is not a label."""
    match = _LABEL.search(text[max(0, at - 60):at])
    if match is None or match["label"] in names_in(question):
        return None
    return match["label"]


def label_of(texts: Sequence[str], value: str, question: str) -> str | None:
    """The label written just before ``value`` where it first appears in ``texts`` (tool results)."""
    found = _locate_in([_flat(text) for text in texts], _flat(value)) if value.strip() else None
    return label_before(found[1], found[2], question) if found else None


def whereabouts(text: str, at: int, question: str) -> str:
    """' on the opened page «Shop» (/game-1/shop.html), after the label «Base damage»', or what of it is known."""
    page, label = page_at(text, at, question), label_before(text, at, question)
    return (f" on {page}" if page else "") + (f", after the label «{label}»" if label else "")


def where_reference_appeared(trajectory: Trajectory, reference: str, window: int = 80) -> str:
    """Whether the reference answer was in front of the agent, and where.

    An attempt that saw the right value and answered something else teaches a different lesson
    (read the result) than one that never found it (search or browse elsewhere).
    """
    found = reference_location(trajectory, reference, window)
    if found is None:
        return "The reference answer does not appear in any of its tool results."
    return f"The reference answer appears in its tool result {found[0]}: {found[1]}"


def call_arguments(trajectory: Trajectory) -> str:
    """Everything the agent itself wrote into its tool calls (queries, URLs, goals)."""
    return " ".join(json.dumps(call.args, ensure_ascii=False) for call in trajectory.tool_calls)


def answer_source(trajectory: Trajectory, task: Task, window: int = 60) -> str | None:
    """How a wrong final answer came about, as a phrase ("answered «3.11»: «3.11» is from the website
    address …"): the website address, the question, the agent's own search query, the wrong part of a
    tool result, words around (or a part of) the right value, or memory. ``None``: nothing to trace.

    A short answer is looked for whole, then by its numbers and names ("Python 3.11" → "3.11"); a
    long one (a sentence, a pasted result) only whole.
    """
    answer = _flat(trajectory.final_answer or "")
    if not answer:
        return None
    if task.answer and _find(_flat(task.answer), answer) >= 0:
        return "answered with words around the correct value; the answer must be the value alone"
    if task.answer and _find(answer, _flat(task.answer)) >= 0:
        return f"answered «{answer}», only part of the correct answer (a unit or a name left out)"
    if len(answer.split()) > 12:
        return None
    candidates = [answer]
    if len(answer.split()) <= 4:
        question_terms = {t.lower() for t in _SALIENT.findall(task.question)}
        candidates += [t for t in dict.fromkeys(_SALIENT.findall(answer)) if t.lower() not in question_terms]
    places = [(f"from {WEBSITE}, not from any result", task.root_url or ""),
              (f"from {QUESTION}", task.question),
              ("its own guess: it had put it in its tool call", call_arguments(trajectory))]
    for place, text in places:  # the website address first: the likeliest and most telling origin
        for candidate in candidates:
            if _find(candidate, text) >= 0 and not (text == task.question and candidate == answer):
                return f"answered «{answer}»: «{candidate}» is {place}"
    for candidate in candidates:
        for number, text in enumerate(tool_results(trajectory), start=1):
            at = _find(candidate, text)
            if at >= 0:
                return (f"answered «{answer}», taken from the wrong part of its tool result {number}"
                        f"{whereabouts(text, at, task.question)}: {_excerpt(text, at, len(candidate), window)}")
    return f"answered «{answer}», which is in none of its tool results (from memory)"


def repeated_calls(trajectory: Trajectory) -> int:
    """Tool calls identical (same tool, same arguments) to an earlier call in the same rollout."""
    seen: set[str] = set()
    repeats = 0
    for call in trajectory.tool_calls:
        key = call.name + json.dumps(call.args, sort_keys=True)
        repeats += key in seen
        seen.add(key)
    return repeats


def group_contrast(task: Task, attempts: Sequence[Trajectory], found: str | None = None) -> str:
    """One short paragraph: where the correct attempts found the answer, what the wrong ones answered
    and where that came from, and how many wrong attempts had the answer in front of them. When every
    attempt failed, ``found`` — a search result holding the reference answer, looked up afterwards
    (see :func:`look_up_reference`) — says where the answer was instead."""
    if task.answer is None:
        return ""
    right = _right(attempts)
    wrong = [t for t in attempts if t.failed or (t.reward or 0) < 1.0]
    needle = _flat(task.answer)
    seen = _find(needle, _flat(found or ""))
    if not wrong or (not right and seen < 0):
        return ""
    lines = []
    located = _located_by(right, needle)
    if right and located:
        _, text, at = located
        where = whereabouts(text, at, task.question)
        lines.append(f"The correct attempts answered «{task.answer}», found{where + ',' if where else ''} "
                     f"in the text {_excerpt(text, at, len(needle), 60)}.")
    elif right:
        lines.append(f"The correct attempts answered «{task.answer}», which is in none of their tool results.")
    else:
        text = _flat(found or "")
        where = whereabouts(text, seen, task.question)
        lines.append(f"Every attempt failed. The correct answer «{task.answer}», looked up afterwards with a search "
                     f"for it, is{where + ',' if where else ''} in the text {_excerpt(text, seen, len(needle), 60)}.")
    sources = Counter(src for src in (answer_source(t, task) for t in wrong if not t.failed) if src)
    for source, count in sources.most_common(2):
        lines.append(f"{count} wrong attempt(s) {source}.")
    had_it = sum(1 for t in wrong if reference_location(t, task.answer) is not None)
    if had_it:
        lines.append(f"{had_it} of {len(wrong)} wrong attempt(s) had the correct answer in a tool result and did not "
                     "use it: the lesson is how to recognise it (the words or label next to it) and what to ignore.")
    else:
        lines.append("No wrong attempt ever saw the correct answer: the lesson is where to look for it.")
    return "\n".join(lines)


# the words a page writes just before a value when they are not a "Label:" ("Harbor Bow: damage changed to 43")
_LEAD_IN = re.compile(r"(?:^|(?<=\s))(?P<lead>[a-z]+(?: [a-z]+){1,3})\s*$")
_CLAUSE_END = re.compile(r"[.:;,|!?…]\s")
_NUMBERS = re.compile(r"\d+(?:[.,]\d+)*")


def lead_in(text: str, at: int, question: str) -> str | None:
    """What a page writes just before a value: its label ("Office"), or the two to four lower-case words
    that open the value's clause ("damage changed to")."""
    label = label_before(text, at, question)
    if label:
        return label
    found = _LEAD_IN.search(_CLAUSE_END.split(text[max(0, at - 60):at])[-1])
    return found["lead"] if found else None


def _page_in_lesson(start: re.Match[str], question: str) -> str | None:
    """How a lesson names the page ``start`` begins: 'the page "Patch N"'; 'its own page' when its title is
    what the question names; 'a page under "faculty"' when its title names something else (a person the
    question does not name), which would carry to no other task."""
    title = _NUMBERS.sub("N", _title_of(start, question)).strip()
    if title == "X":
        return "its own page"
    words = [word for word in title.split() if word not in ("N", "X")]
    if len(words) >= 2 and all(word.isalpha() and word[0].isupper() for word in words):
        folders = [part for part in urlsplit(start["url"]).path.split("/")[:-1] if part.isalpha()]
        return f'a page under "{folders[-1]}"' if folders else None
    return f'the page "{title}"' if title else None


def evidence_lesson(task: Task, attempts: Sequence[Trajectory], found: str | None = None) -> str | None:
    """The lesson a group's evidence states without a teacher: the question's kind, the words the answer
    follows and the page it is on, where the correct attempts found it or where it was looked up
    (``found``). 'When asked "What is the current damage of the X in X?", answer with the value after
    "damage changed to" on the page "Patch N".' For a small teacher whose every lesson for a group was
    refused (BENCHMARKS.md §1s); ``None`` when the evidence does not place the answer on a page."""
    if not task.answer:
        return None
    needle = _flat(task.answer)
    located = _located_by(_right(attempts), needle) or _locate_in([_flat(found or "")], needle)
    start = _page_start(located[1], located[2]) if located else None
    page = _page_in_lesson(start, task.question) if start else None
    if located is None or page is None:
        return None
    lead = lead_in(located[1], located[2], task.question)
    value = f'the value after "{lead}"' if lead else "the value written"
    return f'When asked "{_without_names(task.question, task.question)}", answer with {value} on {page}.'


def look_up_reference(search: Callable[[str], str], task: Task) -> str | None:
    """Hindsight for a group whose every attempt failed: the task's question and reference answer
    searched for together with the agent's own search tool; the result, if it holds the answer.

    The learner knows the answer (that is what the group's rewards come from); where the answer sits is
    what a small agent that never found it has to learn (BENCHMARKS.md §1r)."""
    if not task.answer:
        return None
    query = f"{task.question} {task.answer}"
    result = _flat(search(query)).replace(query, "…")  # a result that repeats the query holds the answer there
    at = _find(_flat(task.answer), result)
    return result if at >= 0 and page_at(result, at, task.question) else None
