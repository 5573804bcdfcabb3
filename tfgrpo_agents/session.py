"""One experiment set-up, shared by the CLI, the demo and the benches.

An :class:`Experiment` holds what every learning or evaluation command builds the same way: the
domain preset (or a user's agent factory), the policy and teacher chat models, the domain's tools
(open while the experiment is), the grader, and the one agent builder
``agent(library, placement)``. :func:`chat_model` makes chat models for any OpenAI-compatible
endpoint, or starts the embedded model once per process.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from pydantic import BaseModel, Field

from tfgrpo_agents._async import run_sync
from tfgrpo_agents.agents import LessonDelivery, Placement
from tfgrpo_agents.core.runner import RolloutRunner
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

__all__ = ["Experiment", "ExperimentSpec", "ModelRecipe", "chat_model", "stop_local_models"]


class ModelRecipe(BaseModel):
    """How to make a chat model (see :func:`chat_model`): a recipe, so a worker process can make it too."""

    model: str
    base_url: str | None = None
    temperature: float = 0.0
    timeout: float = 120.0
    max_retries: int = 3
    requests_per_second: float | None = None

    @property
    def embedded(self) -> bool:
        """The embedded model, started by (and serving) this process only."""
        from tfgrpo_agents.models.local_model import LOCAL_MODELS

        return self.model in LOCAL_MODELS and self.base_url is None

    def build(self) -> BaseChatModel:
        return chat_model(self.model, self.base_url, temperature=self.temperature, timeout=self.timeout,
                          max_retries=self.max_retries, requests_per_second=self.requests_per_second)


class ExperimentSpec(BaseModel):
    """An :class:`Experiment` as data: what the CLI builds, and what rollout worker processes rebuild."""

    domain: str
    policy: ModelRecipe
    teacher: ModelRecipe | None = None
    grader: str | None = None
    tool_options: dict[str, Any] = Field(default_factory=dict)
    max_steps: int = 8
    placement: Placement = Placement.SYSTEM

    def build(self) -> Experiment:
        policy = self.policy.build()
        teacher = self.teacher.build() if self.teacher else None
        return Experiment(self.domain, policy, teacher, grader=self.grader, tool_options=self.tool_options,
                          max_steps=self.max_steps, placement=self.placement, spec=self)

class Experiment:
    """A domain preset (``math``, ``web``, ``qa`` or ``package.module:factory``) with its models,
    tools and grader; use it as a context manager so the tools (a local site server) are closed.

    ``tool_options`` go to the domain's tools (``site``, ``public_url``); ``grader`` is a name
    (``math``, ``exact``, ``short``, ``judge``, ``package.module:function``), a grader or a function,
    and defaults to the domain's.
    """

    def __init__(self, domain: Domain | str, policy: BaseChatModel, teacher: BaseChatModel | None = None, *,
                 grader: Grader | Callable[..., Any] | str | None = None, tool_options: dict[str, Any] | None = None,
                 max_steps: int = 8, placement: Placement | str = Placement.SYSTEM,
                 spec: ExperimentSpec | None = None) -> None:
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
        self.spec = spec  # set when built from a spec: then its rollouts can run in worker processes
        self._closers: list[Callable[[], None]] = []

    def __enter__(self) -> Experiment:
        self.tools, self._close = self.domain.make_tools(self.tool_options)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._close()
        self.tools, self._close = [], (lambda: None)
        for close in self._closers:
            close()
        self._closers.clear()

    def closing(self, close: Callable[[], None]) -> None:
        """Run ``close`` when the experiment closes (a rollout runner's worker processes)."""
        self._closers.append(close)

    def agent(self, library: Any = None, placement: Placement | str | None = None,
              delivery: LessonDelivery | None = None) -> Any:
        """The one agent builder: this domain's agent with ``library`` injected (``delivery``: which
        lessons a task sees and where they are said again)."""
        return self.domain.build_agent(self.policy, self.tools, experiences=library,
                                       placement=placement or self.placement, max_steps=self.max_steps,
                                       delivery=delivery)

    def learner(self, settings: LearnSettings, run_dir: str | os.PathLike[str], **options: Any) -> TrainingFreeGRPO:
        """A learner for this set-up (``options``: ``prices``, ``on_event``, ``input_mapper``, …); with
        ``settings.look_up_failures`` it looks answers up with the agent's own search tool."""
        if settings.look_up_failures and "search" not in options:
            options["search"] = self.search_function()
        return TrainingFreeGRPO(agent_factory=lambda library: self.agent(library, settings.placement,
                                                                         settings.delivery),
                                teacher=self.teacher, grader=self.grader if settings.ground_truth else None,
                                run_dir=run_dir, settings=settings, **options)

    def search_tool(self) -> BaseTool | None:
        """The agent's ``web_search`` tool, once the tools are opened."""
        return next((t for t in self.tools if t.name == "web_search"), None)

    def search_function(self) -> Callable[[str], str]:
        """The agent's search tool as a function of the query (what ``look_up_failures`` searches with);
        the tool is found when it is called, so the learner may be built before the tools are opened."""
        def search(query: str) -> str:
            tool = self.search_tool()
            if tool is None:
                raise ValueError(f"look_up_failures needs a web_search tool; the {self.domain.name} agent has "
                                 f"{', '.join(t.name for t in self.tools) or 'no tools'}")
            return str(tool.invoke({"query": query}))

        return search

    def agent_digest(self) -> str:
        """A fingerprint of the agent set-up (domain, prompt, scaffold, tools, step limit, model): an
        evaluation never takes recorded rollouts of another set-up for this one's."""
        inner = getattr(self.policy, "inner", self.policy)
        model = getattr(inner, "model_name", None) or getattr(inner, "model", None) or type(inner).__name__
        parts = [self.domain.name, self.domain.prompt_for(self.tools), f"tool_first={self.domain.tool_first}",
                 f"forget_guess={self.domain.forget_guess}", ",".join(sorted(t.name for t in self.tools)),
                 f"max_steps={self.max_steps}", str(model)]
        if self.domain.first_call:  # named only when set: the records made before it stay valid
            parts.append(f"first_call={self.domain.first_call}")
        if self.domain.reason_reminder:
            parts.append(f"reason_reminder={self.domain.reason_reminder}")
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]

    def _stamped(self, settings: Any) -> Any:
        """The settings with this set-up's digest, unless the caller named one."""
        if settings.agent_digest is None:
            return settings.model_copy(update={"agent_digest": self.agent_digest()})
        return settings

    async def aevaluate(self, config: Any, tasks: Sequence[Task], settings: Any, out_dir: str | Path,
                        on_rollout: Callable[[], None] | None = None, runner: RolloutRunner | None = None) -> Any:
        """One configuration (see :func:`~tfgrpo_agents.evaluation.evaluate`), its rollouts stamped with this
        set-up's digest: a later :meth:`compare` of the same arm reads them back instead of running them again."""
        from tfgrpo_agents.evaluation import evaluate

        return await evaluate(self.agent, config, tasks, self.grader, self._stamped(settings), out_dir, on_rollout,
                              runner=runner)

    async def acompare(self, configs: Sequence[Any], tasks: Sequence[Task], settings: Any, out_dir: str | Path,
                       on_rollout: Callable[[], None] | None = None, runner: RolloutRunner | None = None) -> Any:
        """Every configuration on the same tasks, the first as the baseline (see :func:`~tfgrpo_agents.evaluation.compare`)."""
        from tfgrpo_agents.evaluation import compare

        return await compare(self.agent, configs, tasks, self.grader, self._stamped(settings), out_dir, on_rollout,
                             runner=runner)

    def compare(self, *args: Any, **kwargs: Any) -> Any:
        return run_sync(self.acompare(*args, **kwargs))

    async def acurve(self, library_path: str | Path, tasks: Sequence[Task], settings: Any, out_dir: str | Path,
                     steps: Sequence[int] | None = None, on_rollout: Callable[[], None] | None = None,
                     runner: RolloutRunner | None = None) -> Any:
        from tfgrpo_agents.evaluation import learning_curve

        return await learning_curve(self.agent, library_path, tasks, self.grader, self._stamped(settings), out_dir,
                                    steps=steps, on_rollout=on_rollout, runner=runner)
