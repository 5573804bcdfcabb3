"""The teacher's four questions: summarize a rollout, find the group's semantic advantage,
map lessons onto the library, and consolidate a batch's proposals into one plan."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel, Field, field_validator

from tfgrpo_agents.agents import is_set_aside
from tfgrpo_agents.core.tasks import Task
from tfgrpo_agents.core.trajectory import Trajectory
from tfgrpo_agents.experience import ExperienceLibrary, LibraryLimits
from tfgrpo_agents.experience.models import placeholder_problem
from tfgrpo_agents.learning.evidence import (
    answer_source,
    evidence_lesson,
    group_contrast,
    repeated_calls,
    where_reference_appeared,
)
from tfgrpo_agents.learning.lessons import (
    SLOT,
    LessonVetting,
    TaskVocabulary,
    edit_report,
    shorten,
    unsupported_words,
)
from tfgrpo_agents.learning.poisoning import directive_problem
from tfgrpo_agents.learning.structured import Method, StructuredCallError, call_structured
from tfgrpo_agents.models.caps import capped
from tfgrpo_agents.prompts import (
    ADVANTAGE_PROMPT,
    COMPARE_AFTER_FAILURES,
    COMPARE_WITH_OUTCOMES,
    COMPARE_WITHOUT_REFERENCE,
    CONSOLIDATE_PROMPT,
    DEFAULT_LEARNING_OBJECTIVE,
    GROUP_OPS_PROMPT,
    LESSON_TEMPLATE_BLOCK,
    NO_EXPERIENCES,
    REFLECT_ON_SINGLE,
    SUMMARIZE_PROMPT,
)

logger = logging.getLogger(__name__)
_QUOTES = "\"'“”‘’"


class Lessons(BaseModel):
    lessons: list[str] = Field(default_factory=list)

    @field_validator("lessons", mode="before")
    @classmethod
    def _strings(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [" ".join(str(v.get("text", v) if isinstance(v, dict) else v).split()) for v in value if v]
        return value


class ProposedOp(BaseModel):
    op: str
    id: str | None = None
    text: str | None = None
    reason: str | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> Any:
        return None if value is None else str(value)


class OpsPlan(BaseModel):
    operations: list[ProposedOp] = Field(default_factory=list)


class ReplyCaps(BaseModel):
    """Reply caps per teacher stage, in tokens.

    A small teacher that repeats itself runs on to the endpoint's limit (the demo's consolidation
    filled 700 tokens for a handful of operations); capped, it stops early and the whole items before
    the cut are kept. The list stages get room for the items they may write: one lesson, or one
    operation per lesson or proposal. A cap only ever lowers the teacher's own ``max_tokens``.
    """

    summarize: int = 400
    base: int = 100  # the JSON frame and a line of preamble
    per_item: int = 80  # one lesson or operation of at most 32 words, with its JSON

    def for_items(self, count: int) -> int:
        return self.base + self.per_item * max(count, 1)


class ReflectionSettings(BaseModel):
    """What the prompts say about the domain, and how strictly replies are asked for."""

    agent_objective: str = "It answers questions by using tools."
    learning_objective: str = DEFAULT_LEARNING_OBJECTIVE
    max_lessons: int = 2
    # the library's bounds, as the prompts state them; TrainingFreeGRPO sets them from its LibraryLimits
    word_cap: int = Field(default_factory=lambda: LibraryLimits().word_cap)
    max_experiences: int = Field(default_factory=lambda: LibraryLimits().max_experiences or 50)
    ground_truth: bool = True
    method: Method = "text"
    retries: int = 2
    max_result_chars: int = 400
    min_words: int = 3  # shorter lesson texts are copied placeholders ("...") or say nothing
    # "teacher": the teacher summarizes each rollout (the paper's stage). "trace": the summary is built from
    # the recorded trace — every call, result, repeat and the reference's whereabouts — with no model call:
    # faithful where a small teacher invents steps, and no summary tokens.
    summaries: Literal["teacher", "trace"] = "teacher"
    # A sentence pattern with <...> slots that lessons (and direct tips) are written in; None: free form.
    lesson_template: str | None = None
    # A clause of that pattern with one slot (e.g. ' after "<the label next to it>"') that a lesson may leave
    # out: left unfilled, the clause is cut from the lesson instead of the lesson being refused.
    optional_clause: str | None = None
    # "names": only the names a question gives mark a lesson as that task's own, not the words saying what
    # kind of fact it asks (see TaskVocabulary); "any": every rare word of the question does (math: "the eggs").
    specific_words: Literal["any", "names"] = "any"
    # None: every stage uses the teacher's own reply limit
    reply_caps: ReplyCaps | None = Field(default_factory=ReplyCaps)
    # True: a group whose every lesson the teacher wrote was refused gets the lesson its evidence states
    # (evidence.evidence_lesson: the question's kind, the words the answer follows, its page), vetted
    # like the teacher's; a small teacher copies the wrong attempts' label where the page holds the right one.
    evidence_lessons: bool = False

    def cap(self, stage: str, items: int = 1) -> int | None:
        if self.reply_caps is None:
            return None
        return self.reply_caps.summarize if stage == "summarize" else self.reply_caps.for_items(items)

    def follows_template(self, line: str) -> bool:
        """A plain line that starts like the lesson pattern (e.g. "When …") is a lesson written without JSON."""
        if not self.lesson_template:
            return False
        return line.split(maxsplit=1)[0].lower() == self.lesson_template.split(maxsplit=1)[0].lower()

    def without_unfilled_clause(self, lesson: str) -> str:
        """The lesson with the optional clause cut out when it left that clause's slot unfilled
        (``<...>`` kept, or its description copied, in or out of quotes)."""
        slot = SLOT.search(self.optional_clause or "")
        if slot is None:
            return lesson
        lead = [word for word in self.optional_clause[:slot.start()].split() if word.strip(_QUOTES)]
        description = re.escape(slot.group(0).strip("<>").strip())
        unfilled = re.compile(r"\s*" + "".join(rf"\b{re.escape(word)}\s+" for word in lead)
                              + rf"[{_QUOTES}]?<?\s*{description}\s*>?[{_QUOTES}]?", re.IGNORECASE)
        return " ".join(unfilled.sub("", lesson).split())

    def filled_in(self, lessons: Sequence[str]) -> tuple[list[str], str | None]:
        """Of ``lessons`` (their optional clause already cut), those with every slot filled in; and when
        none is, the slot the first one left, which the re-ask names."""
        filled = [lesson for lesson in lessons if not self.unfilled_slot(lesson)]
        return filled, (self.unfilled_slot(lessons[0]) if lessons and not filled else None)

    def unfilled_slot(self, lesson: str) -> str | None:
        """A slot of the pattern the lesson left unfilled: ``<...>`` itself, or its description copied
        without the brackets (a small teacher writes "the value after 'the label next to it'")."""
        left = SLOT.search(lesson)
        if left:
            return left.group(0)
        lowered = lesson.lower()
        for slot in SLOT.findall(self.lesson_template or ""):
            description = slot.strip("<>").split(",")[0].strip().lower()
            if len(description.split()) >= 3 and description in lowered:
                return slot
        return None

    def template_block(self) -> str:
        return LESSON_TEMPLATE_BLOCK.format(template=self.lesson_template) if self.lesson_template else ""


def render_library(library: ExperienceLibrary) -> str:
    return "\n".join(f"{e.id}: {e.text}" for e in library.experiences) or NO_EXPERIENCES


def render_transcript(trajectory: Trajectory, max_result_chars: int = 400) -> str:
    """The rollout as numbered steps: each tool call with its arguments and (shortened) result."""
    lines: list[str] = []
    step, looked = 0, False
    for message in trajectory.langchain_messages():
        looked = looked or isinstance(message, ToolMessage)
        if isinstance(message, AIMessage):
            thought = " ".join(str(message.text).split())
            if message.tool_calls:
                for call in message.tool_calls:
                    step += 1
                    lines.append(f"{step}. called {call['name']}({json.dumps(call.get('args') or {}, ensure_ascii=False)})"
                                 + (f" — reasoning: {thought[:200]}" if thought else ""))
            elif thought:
                step += 1
                if not is_set_aside(message):
                    said = "replied"
                elif looked:  # a reply that repeated a lesson check: the page it named was opened instead
                    said = "replied with the lesson check's words (set aside, the page it named opened)"
                else:
                    said = "answered before using a tool (set aside, asked again)"
                lines.append(f"{step}. {said}: {thought[:max_result_chars]}")
        elif isinstance(message, ToolMessage):
            result = " ".join(str(message.text).split())
            if len(result) > max_result_chars:
                result = result[:max_result_chars] + " …"
            lines.append(f"   -> {'error: ' if getattr(message, 'status', '') == 'error' else ''}{result}")
    if trajectory.failed:
        lines.append(f"(the attempt failed: {trajectory.failure}: {trajectory.error})")
    return "\n".join(lines) or "(no steps)"


def trace_summary(task: Task, trajectory: Trajectory, ground_truth: bool = True, max_result_chars: int = 400) -> str:
    """A rollout summary built from its trace alone: the steps, then detours and missed information."""
    detours = []
    repeats = repeated_calls(trajectory)
    if repeats:
        detours.append(f"{repeats} call(s) repeated an earlier call")
    errors = sum(1 for call in trajectory.tool_calls if call.error)
    if errors:
        detours.append(f"{errors} call(s) returned an error")
    if trajectory.forced_final:
        detours.append("it ran out of tool steps and was made to answer")
    lines = [render_transcript(trajectory, max_result_chars), f"Final answer: {trajectory.final_answer or '(none)'}",
             f"Detours: {'; '.join(detours) or 'none'}."]
    if ground_truth and task.answer is not None and (trajectory.reward or 0) < 1.0:
        lines.append(f"Missed: {where_reference_appeared(trajectory, task.answer)}")
    return "\n".join(lines)


def _attempt_evidence(task: Task, trajectory: Trajectory, in_summary: bool) -> str:
    """Where the reference answer and, for a wrong attempt, its own answer came from."""
    lines = [] if in_summary else [where_reference_appeared(trajectory, task.answer or "")]
    if not trajectory.failed and (trajectory.reward or 0) < 1.0:
        source = answer_source(trajectory, task)
        if source:
            lines.append(f"It {source}.")
    return "".join(f"\n{line}" for line in lines)


def _outcome(trajectory: Trajectory, ground_truth: bool) -> str:
    if trajectory.failed:
        return f"FAILED ({trajectory.failure})"
    if not ground_truth or trajectory.reward is None:
        return "outcome unknown"
    return "CORRECT" if trajectory.reward >= 1.0 else ("PARTLY CORRECT" if trajectory.reward > 0 else "WRONG")


class Reflector:
    """Runs the reflection stages against a teacher model."""

    def __init__(self, teacher: BaseChatModel, settings: ReflectionSettings | None = None) -> None:
        self.teacher = teacher
        self.settings = settings or ReflectionSettings()
        self.vocabulary: TaskVocabulary | None = None  # set by learn_vocabulary

    def learn_vocabulary(self, tasks: Iterable[Task]) -> None:
        """Know the training questions, so lessons that only fit one of them are dropped."""
        s = self.settings
        self.vocabulary = TaskVocabulary((t.question for t in tasks), f"{s.agent_objective} {s.learning_objective}",
                                         names_only=s.specific_words == "names")

    def _reference_block(self, task: Task) -> str:
        if self.settings.ground_truth and task.answer is not None:
            return f"Reference answer: {task.answer}\n"
        return "(No reference answer is available.)\n"

    def summarize(self, task: Task, trajectory: Trajectory, library: ExperienceLibrary,
                  config: RunnableConfig | None = None) -> str:
        s = self.settings
        if s.summaries == "trace":
            return trace_summary(task, trajectory, s.ground_truth, s.max_result_chars)
        outcome = _outcome(trajectory, s.ground_truth)
        prompt = SUMMARIZE_PROMPT.format(
            agent_objective=s.agent_objective, question=task.question, reference_block=self._reference_block(task),
            experiences=render_library(library), transcript=render_transcript(trajectory, s.max_result_chars),
            final_answer=trajectory.final_answer or "(none)",
            outcome_block=f"Outcome: {outcome}\n" if outcome != "outcome unknown" else "",
        )
        reply = capped(self.teacher, s.cap("summarize")).invoke(prompt, config)
        text = str(reply.text).strip()
        if not text:
            raise ValueError("the teacher returned an empty summary")
        return text

    def advantage(self, task: Task, attempts: Sequence[tuple[Trajectory, str]],
                  config: RunnableConfig | None = None, found: str | None = None) -> list[str]:
        """At most ``max_lessons`` lessons from a group's attempts; ``found``: where the answer was looked up
        afterwards, for a group whose every attempt failed (see :func:`evidence.look_up_reference`)."""
        s = self.settings
        failed_all = found is not None and all((t.reward or 0) < 1.0 for t, _ in attempts)
        if failed_all:
            instruction = COMPARE_AFTER_FAILURES
        elif len(attempts) == 1:
            instruction = REFLECT_ON_SINGLE
        else:
            instruction = COMPARE_WITH_OUTCOMES if s.ground_truth else COMPARE_WITHOUT_REFERENCE
        evidence = s.ground_truth and task.answer is not None
        blocks = [f"Attempt {i} ({_outcome(t, s.ground_truth)}, final answer: {t.final_answer or '(none)'}):\n{summary}"
                  + (_attempt_evidence(task, t, s.summaries == "trace") if evidence else "")
                  for i, (t, summary) in enumerate(attempts, start=1)]
        contrast = group_contrast(task, [t for t, _ in attempts], found) if evidence else ""
        vetting = LessonVetting(task, [t for t, _ in attempts], self.vocabulary, found=[found] if found else [])
        prompt = ADVANTAGE_PROMPT.format(
            agent_objective=s.agent_objective, comparison_instruction=instruction,
            question=vetting.question_kind + (f"\nWebsite: {task.root_url}" if task.root_url else ""),
            reference_block=self._reference_block(task),
            attempts="\n\n".join(blocks), max_lessons=s.max_lessons,
            contrast_block=f"What the attempts show, checked against their tool results:\n{contrast}\n\n" if contrast else "",
            learning_objective=s.learning_objective, word_cap=s.word_cap, template_block=s.template_block(),
        )

        def check(result: Lessons) -> str | None:
            lessons = list(map(s.without_unfilled_clause, result.lessons))
            candidates = [lesson for lesson in lessons if not placeholder_problem(lesson, s.min_words)]
            if lessons and not candidates:
                return f"lesson 1: {placeholder_problem(lessons[0], s.min_words)}"
            # a lesson that still holds a slot is re-asked only when no lesson of the reply is filled in
            filled, unfilled = s.filled_in(candidates)
            if unfilled:
                return f"a lesson still holds the slot {unfilled}; replace every <...> with what the attempts show"
            for lesson in candidates:
                if lesson not in filled:
                    logger.info("dropped a lesson of task %s (an unfilled slot): %s", task.id, lesson)
            usable = [shorten(lesson, s.word_cap) for lesson in filled]
            if filled and not any(usable):
                return f"lesson 1 has {len(filled[0].split())} words; write each lesson as one sentence of at most {s.word_cap} words"
            kept, refused = [], []
            for lesson in map(vetting.general, filter(None, usable)):
                objection = vetting.objection(lesson)
                (refused if objection else kept).append((lesson, objection))
            if refused and not kept:
                return f"lesson 1 {refused[0][1]}"
            for lesson, objection in refused:
                logger.info("dropped a lesson of task %s (%s): %s", task.id, objection.split(";")[0], lesson)
            result.lessons = [lesson for lesson, _ in kept]
            return None

        try:
            result, _ = call_structured(capped(self.teacher, s.cap("advantage", s.max_lessons)), prompt, Lessons,
                                        method=s.method, retries=s.retries,
                                        config=config, list_field="lessons", validate=check,
                                        line_item=s.follows_template)
        except StructuredCallError:
            lesson = self._from_evidence(task, [t for t, _ in attempts], found, vetting) if evidence else None
            if lesson is None:
                raise
            logger.info("task %s: every lesson of the teacher was refused; the evidence's lesson: %s", task.id, lesson)
            return [lesson]
        return result.lessons[: s.max_lessons]

    def _from_evidence(self, task: Task, attempts: Sequence[Trajectory], found: str | None,
                       vetting: LessonVetting) -> str | None:
        """The lesson the group's evidence states, if ``evidence_lessons`` is on and it passes vetting."""
        if not self.settings.evidence_lessons:
            return None
        lesson = evidence_lesson(task, attempts, found)
        lesson = shorten(vetting.general(lesson), self.settings.word_cap) if lesson else None
        return lesson if lesson and not vetting.objection(lesson) else None

    def _ops(self, prompt: str, library: ExperienceLibrary, config: RunnableConfig | None,
             max_tokens: int | None, sources: Sequence[str]) -> list[dict[str, Any]]:
        """The teacher's operations on ``library``; each text must be made of the words of ``sources``
        (the lessons or proposals it files) and of the experiences it may merge with."""
        sources = [*sources, *(e.text for e in library.experiences)]

        def check(plan: OpsPlan) -> str | None:
            # A DELETE of an id the list never had deletes nothing; dropping it beats re-asking.
            # Identical operations (a small teacher repeats itself) count once.
            known, seen, kept = {e.id for e in library.experiences}, set(), []
            for op in plan.operations:
                key = (op.op.upper(), op.id, op.text)
                if key not in seen and (key[0] != "DELETE" or op.id in known):
                    seen.add(key)
                    kept.append(op)
            plan.operations = kept
            for index, op in enumerate(plan.operations):
                if op.text:
                    problem = placeholder_problem(op.text, self.settings.min_words) or directive_problem(op.text)
                    unsupported = unsupported_words(op.text, sources)
                    if unsupported and not problem:
                        problem = (f"its text says «{' '.join(unsupported[:4])}…», words of no lesson given; "
                                   "use a lesson's own words (merged with an experience's for UPDATE)")
                    report = edit_report(op.text)
                    if report and not problem:
                        problem = (f"its text reports the edit («{report}») instead of being the "
                                   "lesson: write the lesson itself")
                    if problem:
                        return f"operation {index + 1}: {problem}"
                    op.text = shorten(op.text, self.settings.word_cap) or op.text
            rejected = library.check([op.model_dump() for op in plan.operations])
            if rejected:
                return "; ".join(f"operation {r.index + 1}: {r.reason}" for r in rejected)
            return None

        plan, _ = call_structured(capped(self.teacher, max_tokens), prompt, OpsPlan, method=self.settings.method,
                                  retries=self.settings.retries, config=config, list_field="operations",
                                  validate=check)
        return [op.model_dump(exclude_none=True) for op in plan.operations]

    def group_ops(self, lessons: Sequence[str], library: ExperienceLibrary,
                  config: RunnableConfig | None = None) -> list[dict[str, Any]]:
        s = self.settings
        prompt = GROUP_OPS_PROMPT.format(
            learning_objective=s.learning_objective, experiences=render_library(library),
            lessons="\n".join(f"- {lesson}" for lesson in lessons), word_cap=s.word_cap,
        )
        try:
            return self._ops(prompt, library, config, s.cap("group_ops", len(lessons)), lessons)
        except StructuredCallError as exc:  # the lessons were vetted already; consolidation can still merge them
            logger.warning("group_ops: no usable plan (%s); the lessons are added as they are", exc)
            return [{"op": "ADD", "text": lesson} for lesson in lessons]

    def consolidate(self, proposals: Sequence[dict[str, Any]], library: ExperienceLibrary,
                    config: RunnableConfig | None = None) -> list[dict[str, Any]]:
        s = self.settings
        lines = []
        for proposal in proposals:
            target = f" {proposal['id']}" if proposal.get("id") else ""
            text = f": {proposal['text']}" if proposal.get("text") else ""
            lines.append(f"- {proposal['op'].upper()}{target}{text}")
        prompt = CONSOLIDATE_PROMPT.format(
            learning_objective=s.learning_objective, experiences=render_library(library),
            proposals="\n".join(lines), word_cap=s.word_cap, max_experiences=s.max_experiences,
        )
        return self._ops(prompt, library, config, s.cap("consolidate", len(proposals)),
                         [p["text"] for p in proposals if p.get("text")])
