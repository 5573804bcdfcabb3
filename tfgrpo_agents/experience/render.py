"""Render a library as the prompt block an agent sees, and measure its size."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from tfgrpo_agents._text import estimate_tokens
from tfgrpo_agents.experience.models import Experience
from tfgrpo_agents.prompts import EXPERIENCE_HEADER

if TYPE_CHECKING:
    from tfgrpo_agents.experience.library import ExperienceLibrary

DEFAULT_HEADER = EXPERIENCE_HEADER

__all__ = ["DEFAULT_HEADER", "estimate_tokens", "ordered", "render_experiences", "render_line"]


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
