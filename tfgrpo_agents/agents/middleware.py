"""``ExperienceMiddleware``: experience injection for ``langchain.agents.create_agent`` apps."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.messages import AnyMessage, SystemMessage

from tfgrpo_agents.agents.injection import Placement, inject_experiences
from tfgrpo_agents.agents.sampling import with_sampling
from tfgrpo_agents.experience import (
    DEFAULT_HEADER,
    ExperienceLibrary,
    SourceLike,
    as_source,
    read_source,
    render_experiences,
)

_numbers = itertools.count(1)


class _InjectedRequest(ModelRequest):
    """A request that keeps its experience blocks when an inner middleware rewrites the prompt.

    ``@dynamic_prompt`` and similar middleware replace the system message with ``override``;
    placed after an :class:`ExperienceMiddleware`, they would silently drop its block. Every
    override of this request puts the blocks back where they are missing.
    """

    blocks: tuple[tuple[str, Placement], ...] = ()

    def override(self, **overrides: Any) -> ModelRequest:
        new = super().override(**overrides)
        object.__setattr__(new, "blocks", self.blocks)
        if {"system_message", "system_prompt", "messages"} & overrides.keys():
            system, messages = _reinject(new.system_message, new.messages, self.blocks)
            new = ModelRequest.override(new, system_message=system, messages=messages)
            object.__setattr__(new, "blocks", self.blocks)
        return new


def _shows(system: SystemMessage | None, messages: list[AnyMessage], block: str) -> bool:
    texts = [str(system.text)] if system is not None else []
    return any(block in text for text in texts + [str(m.text) for m in messages])


def _reinject(system: SystemMessage | None, messages: list[AnyMessage],
              blocks: tuple[tuple[str, Placement], ...]) -> tuple[SystemMessage | None, list[AnyMessage]]:
    for block, placement in blocks:
        if block and not _shows(system, messages, block):
            system, messages = inject_experiences(system, messages, block, placement)
    return system, list(messages)


class ExperienceMiddleware(AgentMiddleware):
    """Inject the current experience library into every model call.

    The library is read from its source on each call, so an app picks up a newly learned
    library (a rewritten JSON file, an updated store) without rebuilding the agent::

        agent = create_agent(model, tools, system_prompt="...",
                             middleware=[ExperienceMiddleware("library.json")])

    It works in any position among other prompt middleware (a ``@dynamic_prompt`` after it
    keeps the block), several instances can coexist (a general and a domain library: each adds
    its own block; give them ``name=`` for readable traces), and during a learning or evaluation
    run it applies the rollout's temperature and seed to the model call (see
    :mod:`tfgrpo_agents.agents.sampling`).
    """

    def __init__(
        self,
        experiences: SourceLike,
        *,
        placement: Placement | str = Placement.SYSTEM,
        header: str = DEFAULT_HEADER,
        name: str | None = None,
    ) -> None:
        super().__init__()
        self.source = as_source(experiences)
        self.placement = Placement(placement)
        self.header = header
        # create_agent refuses two middleware of one name; each instance gets its own.
        self._name = f"ExperienceMiddleware[{name}]" if name else f"ExperienceMiddleware#{next(_numbers)}"

    @property
    def name(self) -> str:
        return self._name

    def _with_experiences(self, request: ModelRequest, library: ExperienceLibrary) -> ModelRequest:
        block = render_experiences(library, header=self.header)
        request = with_sampling(request)
        blocks = (*getattr(request, "blocks", ()), (block, self.placement))
        system, messages = _reinject(request.system_message, request.messages, blocks)
        fields = {f.name: getattr(request, f.name) for f in dataclasses.fields(request) if f.init}
        injected = _InjectedRequest(**{**fields, "system_message": system, "messages": messages})
        object.__setattr__(injected, "blocks", blocks)
        return injected

    def wrap_model_call(
        self, request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]
    ) -> ModelResponse:
        return handler(self._with_experiences(request, self.source.current()))

    async def awrap_model_call(
        self, request: ModelRequest, handler: Callable[[ModelRequest], Awaitable[ModelResponse]]
    ) -> Any:
        # The async path of the source: an async store (AsyncPostgresStore, the server's) cannot be read
        # synchronously from inside its own event loop.
        return await handler(self._with_experiences(request, await read_source(self.source)))
