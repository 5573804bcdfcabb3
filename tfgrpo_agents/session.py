"""One experiment set-up, shared by the CLI, the demo and the benches.

An :class:`Experiment` holds what every learning or evaluation command builds the same way: the
domain preset (or a user's agent factory), the policy and teacher chat models, the domain's tools
(open while the experiment is), the grader, and the one agent builder
``agent(library, placement)``. :func:`chat_model` makes chat models for any OpenAI-compatible
endpoint, or starts the embedded model once per process.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel

from tfgrpo_agents._async import run_sync
from tfgrpo_agents.agents import Placement
from tfgrpo_agents.learning import (
    Grader,
    LearnSettings,
    Task,
    TrainingFreeGRPO,
    as_grader,
    grader_for,
)
from tfgrpo_agents.learning.domains import Domain, domain_for
from tfgrpo_agents.models.factory import chat_model, stop_local_models

__all__ = ["Experiment", "chat_model", "stop_local_models"]

class Experiment:
    """A domain preset (``math``, ``web``, ``qa`` or ``package.module:factory``) with its models,
    tools and grader; use it as a context manager so the tools (a local site server) are closed.

    ``tool_options`` go to the domain's tools (``site``, ``public_url``); ``grader`` is a name
    (``math``, ``exact``, ``short``, ``judge``, ``package.module:function``), a grader or a function,
    and defaults to the domain's.
    """

    def __init__(self, domain: Domain | str, policy: BaseChatModel, teacher: BaseChatModel | None = None, *,
                 grader: Grader | Callable[..., Any] | str | None = None, tool_options: dict[str, Any] | None = None,
                 max_steps: int = 8, placement: Placement | str = Placement.SYSTEM) -> None:
        self.domain = domain_for(domain) if isinstance(domain, str) else domain
        self.policy = policy
        self.teacher = teacher or policy
        self.max_steps = max_steps
        self.placement = Placement(placement)
        self.tool_options = dict(tool_options or {})
        chosen = grader if grader is not None else self.domain.grader
        self.grader = grader_for(chosen, judge=self.teacher) if isinstance(chosen, str) else as_grader(chosen)
        self.tools: list[Any] = []
        self._close: Callable[[], None] = lambda: None

    def __enter__(self) -> Experiment:
        self.tools, self._close = self.domain.make_tools(self.tool_options)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._close()
        self.tools, self._close = [], (lambda: None)

    def agent(self, library: Any = None, placement: Placement | str | None = None) -> Any:
        """The one agent builder: this domain's agent with ``library`` injected."""
        return self.domain.build_agent(self.policy, self.tools, experiences=library,
                                       placement=placement or self.placement, max_steps=self.max_steps)

    def learner(self, settings: LearnSettings, run_dir: str | os.PathLike[str], **options: Any) -> TrainingFreeGRPO:
        """A learner for this set-up (``options``: ``prices``, ``on_event``, ``input_mapper``, …)."""
        return TrainingFreeGRPO(agent_factory=lambda library: self.agent(library, settings.placement),
                                teacher=self.teacher, grader=self.grader if settings.ground_truth else None,
                                run_dir=run_dir, settings=settings, **options)

    async def acompare(self, configs: Sequence[Any], tasks: Sequence[Task], settings: Any, out_dir: str | Path,
                       on_rollout: Callable[[], None] | None = None) -> Any:
        """Every configuration on the same tasks, the first as the baseline (see :func:`~tfgrpo_agents.evaluation.compare`)."""
        from tfgrpo_agents.evaluation import compare

        return await compare(self.agent, configs, tasks, self.grader, settings, out_dir, on_rollout)

    def compare(self, *args: Any, **kwargs: Any) -> Any:
        return run_sync(self.acompare(*args, **kwargs))

    async def acurve(self, library_path: str | Path, tasks: Sequence[Task], settings: Any, out_dir: str | Path,
                     steps: Sequence[int] | None = None, on_rollout: Callable[[], None] | None = None) -> Any:
        from tfgrpo_agents.evaluation import learning_curve

        return await learning_curve(self.agent, library_path, tasks, self.grader, settings, out_dir, steps=steps,
                                    on_rollout=on_rollout)
