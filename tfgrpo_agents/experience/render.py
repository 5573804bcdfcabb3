"""Render a library as the prompt block an agent sees, and measure its size."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from tfgrpo_agents.experience.models import Experience
from tfgrpo_agents.prompts import EXPERIENCE_HEADER

if TYPE_CHECKING:
    from tfgrpo_agents.experience.library import ExperienceLibrary

DEFAULT_HEADER = EXPERIENCE_HEADER

_TOKEN_PATTERN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate of the token count (words and punctuation marks).

    Close to BPE counts for English prose and deterministic, so budgets do not depend on
    which model's tokenizer happens to be installed.
    """
    return len(_TOKEN_PATTERN.findall(text))


def ordered(experiences: Iterable[Experience]) -> list[Experience]:
    """Stable order by numeric id: new lessons go last, so the prompt prefix stays cacheable."""
    return sorted(experiences, key=lambda e: (e.number, e.id))


def render_line(experience: Experience) -> str:
    return f"[{experience.id}] {experience.text}"


def render_experiences(
    source: ExperienceLibrary | Iterable[Experience],
    *,
    header: str = DEFAULT_HEADER,
) -> str:
    """Render experiences as ``header`` followed by one ``[G<n>] text`` line each.

    Returns an empty string for an empty library, so callers can inject unconditionally.
    """
    experiences = source.experiences if hasattr(source, "experiences") else source
    lines = [render_line(e) for e in ordered(experiences)]
    if not lines:
        return ""
    return "\n".join([header, *lines]) if header else "\n".join(lines)
