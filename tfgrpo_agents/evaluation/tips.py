"""The "directly generated tips" ablation: ask the teacher for tips without any rollouts.

The paper shows this does not help; the comparison of rollouts is what makes experiences useful.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel

from tfgrpo_agents.core.tasks import Task
from tfgrpo_agents.experience import ExperienceLibrary, LibraryLimits, LibraryMeta
from tfgrpo_agents.learning.reflection import Lessons, ReflectionSettings
from tfgrpo_agents.learning.structured import call_structured
from tfgrpo_agents.prompts import DIRECT_TIPS_PROMPT


def generate_direct_tips(teacher: BaseChatModel, tasks: Sequence[Task], *, count: int,
                         settings: ReflectionSettings | None = None, examples: int = 3,
                         model_id: str | None = None) -> ExperienceLibrary:
    """A library of ``count`` tips written from a few example questions alone."""
    settings = settings or ReflectionSettings()
    prompt = DIRECT_TIPS_PROMPT.format(
        agent_objective=settings.agent_objective, count=count, learning_objective=settings.learning_objective,
        examples="\n".join(f"- {task.question}" for task in tasks[:examples]), word_cap=settings.word_cap,
        template_block=settings.template_block(),  # the same sentence pattern as learned lessons: a fair ablation
    )

    def check(result: Lessons) -> str | None:
        # the same leniency as learned lessons: an unfilled optional clause is cut, a tip holding a slot dropped
        filled, unfilled = settings.filled_in(list(map(settings.without_unfilled_clause, result.lessons)))
        if unfilled:
            return f"a tip still holds the slot {unfilled}; replace every <...> with what such tasks need"
        if not filled:
            return "no tips were given"
        too_long = [i for i, tip in enumerate(filled, start=1) if len(tip.split()) > settings.word_cap]
        if too_long:
            return f"tip(s) {too_long} are longer than {settings.word_cap} words"
        result.lessons = filled
        return None

    result, _ = call_structured(teacher, prompt, Lessons, method=settings.method, retries=settings.retries,
                                list_field="lessons", validate=check)
    return ExperienceLibrary.from_texts(
        result.lessons[:count], meta=LibraryMeta(model_id=model_id, description="directly generated tips (ablation)"),
        limits=LibraryLimits(word_cap=settings.word_cap))
