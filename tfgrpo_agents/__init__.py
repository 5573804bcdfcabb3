"""Training-Free GRPO for tool-using LangGraph agents.

The package root stays light: names are imported lazily so ``import tfgrpo_agents``
does not pull in LangChain until something is actually used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Experience": "tfgrpo_agents.experience",
    "ExperienceOp": "tfgrpo_agents.experience",
    "ExperienceLibrary": "tfgrpo_agents.experience",
    "OpKind": "tfgrpo_agents.experience",
    "load_library": "tfgrpo_agents.experience",
    "save_library": "tfgrpo_agents.experience",
    "render_experiences": "tfgrpo_agents.experience",
    "ExperienceMiddleware": "tfgrpo_agents.agents",
    "Placement": "tfgrpo_agents.agents",
    "LessonDelivery": "tfgrpo_agents.agents",
    "build_react_agent": "tfgrpo_agents.agents",
    "SamplingMiddleware": "tfgrpo_agents.agents",
    "sampling_settings": "tfgrpo_agents.agents",
    "TrainingFreeGRPO": "tfgrpo_agents.learning",
    "LearnSettings": "tfgrpo_agents.learning",
    "ValidationSettings": "tfgrpo_agents.learning",
    "Task": "tfgrpo_agents.learning",
    "load_tasks": "tfgrpo_agents.learning",
    "load_recorded": "tfgrpo_agents.learning",
    "compare": "tfgrpo_agents.evaluation",
    "evaluate": "tfgrpo_agents.evaluation",
    "EvalConfig": "tfgrpo_agents.evaluation",
    "EvalSettings": "tfgrpo_agents.evaluation",
    "TfgrpoError": "tfgrpo_agents.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tfgrpo_agents' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
