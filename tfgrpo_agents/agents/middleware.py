"""``ExperienceMiddleware``: experience injection for ``langchain.agents.create_agent`` apps."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse

from tfgrpo_agents.agents.injection import Placement, inject_experiences
from tfgrpo_agents.experience import (
    DEFAULT_HEADER,
    SourceLike,
    as_source,
    render_experiences,
)


class ExperienceMiddleware(AgentMiddleware):
    """Inject the current experience library into every model call.

    The library is read from its source on each call, so an app picks up a newly learned
    library (a rewritten JSON file, an updated store) without rebuilding the agent::

        agent = create_agent(model, tools, system_prompt="...",
                             middleware=[ExperienceMiddleware("library.json")])
    """

    def __init__(
        self,
        experiences: SourceLike,
        *,
        placement: Placement | str = Placement.SYSTEM,
        header: str = DEFAULT_HEADER,
    ) -> None:
        super().__init__()
        self.source = as_source(experiences)
        self.placement = Placement(placement)
        self.header = header

    def _with_experiences(self, request: ModelRequest) -> ModelRequest:
        block = render_experiences(self.source.current(), header=self.header)
        system_message, messages = inject_experiences(
            request.system_message, request.messages, block, self.placement
        )
        return request.override(system_message=system_message, messages=messages)

    def wrap_model_call(
        self, request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]
    ) -> ModelResponse:
        return handler(self._with_experiences(request))

    async def awrap_model_call(
        self, request: ModelRequest, handler: Callable[[ModelRequest], Awaitable[ModelResponse]]
    ) -> Any:
        return await handler(self._with_experiences(request))
