"""What makes a lesson general: the training questions' shared vocabulary, and rewrites that take
a task's own names and numbers out of a lesson (and out of the question the teacher is shown)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from tfgrpo_agents.core.tasks import Task
from tfgrpo_agents.core.trajectory import Trajectory
from tfgrpo_agents.learning.evidence import as_x, label_of, names_in, tool_results, whole
from tfgrpo_agents.learning.poisoning import poisoning_problem

_TERM = re.compile(r"[a-z0-9]+(?:\.[0-9]+)*")


def _terms(text: str) -> set[str]:
    """Lower-case words and numbers ("3.11" stays whole), a plural "s" dropped, short words skipped."""
    terms = set()
    for term in _TERM.findall(text.lower()):
        if term[0].isdigit():
            terms.add(term)
        elif len(term) >= 4:
            terms.add(term[:-1] if term.endswith("s") and len(term) > 4 else term)
    return terms


def question_names(question: str) -> set[str]:
    """The terms of what a question names (see :func:`names_in`)."""
    return _terms(" ".join(names_in(question)))


class TaskVocabulary:
    """The words that recur across the training questions, i.e. the domain's own vocabulary.

    A small teacher's lesson often names its task ("add the cost of the finale firework"); such a
    lesson helps no other task. A lesson word that comes from its own task's question and from no
    other question, or any number taken from the question, marks it as specific to that task.

    ``names_only``: only what the question *names* can mark a lesson so. A web question's own words
    say what kind of fact it asks ("who gives the opening keynote"); with a few dozen training
    questions that kind is often asked once, and a lesson about it ("the Keynotes page") was refused.
    """

    MIN_QUESTIONS = 4  # with fewer questions every word looks rare; the check stays off

    def __init__(self, questions: Iterable[str], general_text: str = "", names_only: bool = False) -> None:
        questions = list(questions)
        self.active = len(questions) >= self.MIN_QUESTIONS
        self.names_only = names_only
        self.frequency = Counter(term for question in questions for term in _terms(question))
        self.frequency.update({term: 2 for term in _terms(general_text)})

    def specific_terms(self, lesson: str, question: str, answer: str | None = None) -> list[str]:
        """Words of ``lesson`` that belong to this one task: its answer, a number from its question,
        or a word (a name, with ``names_only``) no other training question uses."""
        if not self.active:
            return []
        shared = _terms(lesson) & (question_names(question) if self.names_only else _terms(question))
        specific = {t for t in shared if t[0].isdigit() or self.frequency[t] < 2}
        if answer and len(answer) > 1 and whole(answer).search(lesson):
            specific.add(answer)
        return sorted(specific)

    def without_names(self, text: str, question: str) -> str:
        """``text`` with the names ``question`` gives ("DEP276", "Orbit Conf") as X (``names_only``).

        The 1.5B teacher wrote "the course DEP276" into three replies in a row, re-asked each time, and
        "the base damage of the Lumen Bow in Quartz Legends" where a site's name recurs across the
        questions; the lesson around the name was right, so the name is taken out, as numbers are.
        """
        if not self.names_only:  # a rewrite, not a refusal: it needs no count of the other questions
            return text
        names = {t for t in question_names(question) if not t[0].isdigit()}
        return as_x(text, lambda word: bool(_terms(word) & names))


_CODE_SPAN = re.compile(r"`[^`]+`")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)*(?![\w]|\.\d)")


def generalize_question(question: str) -> str:
    """The question as a kind of task: code names become `X`, numbers N.

    Shown in the advantage prompt: a small teacher fills the lesson pattern with whatever the
    question names ("the version in which `smtplib.SMTP` was added"); given the kind, it writes
    the kind ("the version in which `X` was added"), which carries to other tasks.
    """
    return _NUMBER.sub("N", _CODE_SPAN.sub("`X`", question))


_URL = re.compile(r"(?:\bthe page )?[\"'«]?https?://[^\s\"'»,;]+[\"'»]?")
# a site path copied from the evidence ("/conference-N/venue.html"): the page's own name says what it is
_PATH = re.compile(r"(?:\bthe page )?[\"'«]?(?<![\w/])/[\w./-]*?([\w-]+)\.html?[\"'»]?")


# the contrast's own wording copied after the lesson: ", in the text '…ariq Okonkwo.'" (an excerpt of one page)
_EXCERPT_ECHO = re.compile(r",?\s*in the text\s*[\"'«‘“].*$")


def _page_named(match: re.Match[str]) -> str:
    name = match.group(1).replace("-", " ").replace("_", " ")
    return "its own page" if name in ("X", "index") else f"the {name} page"


def generalize_lesson(lesson: str, question: str, answer: str | None = None, site: str | None = None) -> str:
    """The lesson with its task's code names as `X`, its numbers (those of the question, of a numeric answer
    and of the site's address) as N, and URLs as "its page".

    A small teacher, told to leave out the task's names, names them anyway; this rewrite is what
    it was asked to do, and a lesson that still names the task after it is dropped or re-asked.
    """
    for span in _CODE_SPAN.findall(question):
        name = span.strip("`")
        lesson = re.sub(rf"`?{re.escape(name)}`?", "`X`", lesson)
    numbers = set(_NUMBER.findall(question)) | set(_NUMBER.findall(site or ""))
    for number in numbers | ({answer} if answer and _NUMBER.fullmatch(answer) else set()):
        lesson = whole(number).sub("N", lesson)
    lesson = _ANSWER_THE_LABEL.sub("answer with the value after", lesson)
    return _PATH.sub(_page_named, _URL.sub("its page", _EXCERPT_ECHO.sub(".", lesson)))


# "answer with the label 'Workshop chair' on the page 'Committee'": the pattern's "the value after" lost, and the
# 1.5B agent, told so by the check, answered "Workshop chair" (BENCHMARKS.md §1r)
_ANSWER_THE_LABEL = re.compile(r"\banswer with the label\b(?=\s*['\"‘“])", re.IGNORECASE)
SLOT = re.compile(r"<[^<>]{2,60}>")  # an unfilled slot of a lesson pattern
# a quoted "label" that is only the task's value once generalised: "the value after 'N'", "after '`X`'"
_VALUE_ONLY_QUOTE = re.compile(r"""(?<![\w'"])(['"‘“])\s*(?:N|`X`|X)\s*(['"’”])(?![\w'"])""")
# what only the grader holds: a lesson telling the agent to compare with it cannot be followed at run time
_GRADERS_ANSWER = re.compile(r"\b(?:reference|expected|gold|ground[- ]truth|target)\s+(?:answer|solution|value)s?\b"
                             r"|\b(?:answer key|ground truth)\b", re.IGNORECASE)
# the label a lesson says the answer follows: after 'Editor', after "New in version" ('What's New' keeps its apostrophe)
_AFTER_LABEL = re.compile(r"""\bafter\s+(?:['‘](.+?)['’](?=[\s,.;:)]|$)|["“](.+?)["”])""")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# "(https://…)" or "(/people/faculty/X.html)" copied from the evidence: a page is named by what it is
_URL_ASIDE = re.compile(r"\s*\((?:https?://|www\.|/)[^)]*\)")


def shorten(text: str, word_cap: int) -> str | None:
    """``text`` if it fits the cap, else its first sentence if that fits, else ``None``.

    Small teachers write a good first sentence and then elaborate; keeping the sentence saves a
    re-ask (and the elaboration rarely adds advice).
    """
    text = _URL_ASIDE.sub("", text)
    if len(text.split()) <= word_cap:
        return text
    first = _SENTENCE_END.split(text.strip(), maxsplit=1)[0]
    return first if len(first.split()) <= word_cap else None


_WORD = re.compile(r"\w+")


def copied_run(lesson: str, texts: Iterable[str], words: int = 5, allowed: str = "") -> str | None:
    """A run of ``words`` consecutive words that ``lesson`` copies from one of ``texts`` (and that is not
    in ``allowed``, the question: results echo it), if any.

    A small teacher asked where the answer is written sometimes pastes the tool result itself
    ("… — IANA time zone support New in version N"): that describes one page, not where such facts live.
    """
    tokens = _WORD.findall(lesson.lower())
    own = " ".join(_WORD.findall(allowed.lower()))
    runs = [" ".join(tokens[i:i + words]) for i in range(len(tokens) - words + 1)]  # in the lesson's order
    runs = [run for run in runs if run and run not in own]
    if not runs:
        return None
    for text in texts:
        flat = " ".join(_WORD.findall(text.lower()))
        hit = next((run for run in runs if run in flat), None)
        if hit:
            return hit
    return None


def _content_words(text: str) -> set[str]:
    return {word[:6] for word in _WORD.findall(text.lower()) if len(word) >= 4}


def unsupported_words(text: str, sources: Iterable[str]) -> list[str]:
    """The words of an operation's ``text`` that none of ``sources`` (the lessons it files, the
    experiences it may merge with) holds, when they are most of its words; else an empty list.

    Asked to file the lesson "look on the Committee page", the 1.5B teacher wrote "The lesson has been
    updated to provide a more detailed and accurate guide …" as the experience's text.
    """
    words = _content_words(text)
    known = set().union(set(), *map(_content_words, sources))
    new = sorted(words - known)
    return new if words and len(new) * 2 > len(words) else []


def carried_by(text: str, others: Iterable[str], share: float = 0.8) -> bool:
    """Whether one of ``others`` holds at least ``share`` of ``text``'s content words: the lesson is in it,
    merged or as it was. Below it, two lessons of one pattern ("look for the page that contains …") about
    different facts (an item's cost, a person's office) are not the same lesson."""
    words = _content_words(text)
    return not words or any(len(words & _content_words(other)) >= share * len(words) for other in others)


_EDIT_REPORT = re.compile(
    r"^\W*(?:(?:the|this|that|these|those|each|every|all|my|our)\s+)?(?:(?:new|updated|above|existing)\s+)?"
    r"(?:lesson|experience|operation|entry|library|list)s?\s+(?:has|have|was|were|is|are)\s+(?:now\s+)?(?:been\s+)?"
    r"(?:updated|added|merged|revised|modified|changed|improved|removed|deleted|kept|refined|rewritten)\b",
    re.IGNORECASE)


def edit_report(text: str) -> str | None:
    """The words by which an operation's text reports an edit instead of stating a lesson ("The lesson
    has been updated to provide a more detailed and accurate guide on how to find the workshop chair …":
    most of its words are a lesson's, so :func:`unsupported_words` lets it through), or None."""
    found = _EDIT_REPORT.search(text)
    return found.group(0) if found else None


class LessonVetting:
    """Whether a group's lesson can help other tasks: rewritten in general terms first, then refused
    when it still names its task, pastes a result of its group, or quotes one of the group's wrong
    answers (a small agent repeats any value its prompt names)."""

    def __init__(self, task: Task, attempts: Sequence[Trajectory], vocabulary: TaskVocabulary | None = None,
                 found: Sequence[str] = ()) -> None:
        self.task = task
        self.vocabulary = vocabulary
        self.question_kind = self.general(generalize_question(task.question))
        self.attempts = list(attempts)
        # what the attempts' tools returned, and the result the answer was looked up in afterwards
        self.raw_results = [text for t in attempts for text in tool_results(t)] + list(found)
        self.results = [self.general(text) for text in self.raw_results]
        # the labels the wrong answers were read after, and the labels the correct answer is written after
        wrong = [t for t in attempts if not t.failed and t.final_answer and (t.reward or 0) < 1.0]
        self.wrong_labels = {label.lower() for t in wrong if (label := label_of(tool_results(t), t.final_answer,
                                                                                task.question))}
        right = [text for t in attempts if (t.reward or 0) >= 1.0 for text in tool_results(t)] + list(found)
        self.right_labels = {label.lower() for text in right if task.answer
                             and (label := label_of([text], task.answer, task.question))}
        self.wrong_answers = sorted({" ".join(t.final_answer.split()) for t in attempts
                                     if t.final_answer and (t.reward or 0) < 1.0
                                     and 0 < len(t.final_answer.split()) <= 4
                                     and not (task.answer and whole(task.answer).search(t.final_answer))})

    def general(self, text: str) -> str:
        if self.vocabulary:  # first: a name in a copied path ("…/dep276.html") then makes it "its own page"
            text = self.vocabulary.without_names(text, self.task.question)
        return generalize_lesson(text, self.task.question, self.task.answer, self.task.root_url)

    def objection(self, lesson: str) -> str | None:
        """Why a (generalised) lesson is not kept, worded for the re-ask; ``None`` when it is kept."""
        task = self.task
        poisoned = poisoning_problem(lesson, self.raw_results, self.attempts)
        if poisoned:
            return f"{poisoned}; write only what the correct attempts did that the others did not"
        graders = _GRADERS_ANSWER.search(lesson)
        if graders:
            return (f"refers to «{graders.group(0)}», which the agent never sees when it works; say what the "
                    "correct attempts did that the others did not")
        terms = self.vocabulary.specific_terms(lesson, task.question, task.answer) if self.vocabulary else []
        if terms:
            return (f"names {', '.join(repr(t) for t in terms)} from this task only; write lessons that would help "
                    "on other tasks of this kind, without this task's names or numbers")
        quote = copied_run(lesson, self.results, allowed=self.question_kind)
        if quote:
            return f"copies the tool result's words «{quote}»; say in a few general words where such a fact is written"
        named = next((answer for answer in self.wrong_answers if whole(answer).search(lesson)), None)
        if named:
            return f"quotes the wrong answer «{named}»; say what to do instead, without naming wrong values"
        value_label = _VALUE_ONLY_QUOTE.search(lesson)
        if value_label:
            return (f"quotes {value_label.group(0)}, a value, where the words written next to the value belong "
                    "(a label or heading of the page)")
        after = _AFTER_LABEL.search(lesson)
        misread = (after.group(1) or after.group(2)).strip() if after else None
        if misread and misread.lower() in self.wrong_labels - self.right_labels:
            return (f"says the answer follows «{misread}», the label the wrong attempts answered after; say where "
                    "the correct answer is written instead")
        label = self.unseen_label(lesson)
        if label:
            return (f"says the answer follows «{label}», words no result of these attempts shows; quote the words "
                    "the page writes just before the answer")
        return None

    def unseen_label(self, lesson: str) -> str | None:
        """The label a lesson says the answer follows ("the value after 'Editor'") when no tool result of
        the group holds it: the 1.5B teacher invented "the value after 'Python version with X'"."""
        match = _AFTER_LABEL.search(lesson)
        if not match or not self.results:
            return None
        label = (match.group(1) or match.group(2)).strip()
        words = " ".join(_WORD.findall(label.lower()))
        if not words or any(words in " ".join(_WORD.findall(text.lower())) for text in self.results):
            return None
        return label
