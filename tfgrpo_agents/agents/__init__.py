"""Agents that use experiences: middleware for ``create_agent`` apps and our ReAct graph."""

from tfgrpo_agents.agents.answers import extract_final_answer, is_set_aside, message_text
from tfgrpo_agents.agents.delivery import LessonDelivery, matching_lessons
from tfgrpo_agents.agents.injection import Placement, inject_experiences
from tfgrpo_agents.agents.middleware import (
    ExperienceMiddleware,
    LessonsAtDecisionMiddleware,
)
from tfgrpo_agents.agents.react import ReActState, build_react_agent
from tfgrpo_agents.agents.sampling import SamplingMiddleware, sampling_settings

__all__ = [
    "ExperienceMiddleware",
    "LessonDelivery",
    "LessonsAtDecisionMiddleware",
    "Placement",
    "ReActState",
    "SamplingMiddleware",
    "build_react_agent",
    "extract_final_answer",
    "inject_experiences",
    "is_set_aside",
    "matching_lessons",
    "message_text",
    "sampling_settings",
]
