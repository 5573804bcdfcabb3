"""``ExperienceMiddleware``: experience injection for ``langchain.agents.create_agent`` apps."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

from langchain.agents.middleware import (
    AgentMiddleware,
    ModelRequest,
    ModelResponse,
    hook_config,
)
from langchain_core.messages import AIMessage, AnyMessage, SystemMessage, ToolMessage

from tfgrpo_agents.agents.answers import message_text
from tfgrpo_agents.agents.delivery import (
    LessonDelivery,
    matching_lessons,
    opening_call,
    question_of,
    restatement,
)
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

    ``delivery`` (:class:`~tfgrpo_agents.agents.delivery.LessonDelivery`) shows a task only the lessons
    that match it, restates them under tool results, or checks them once before the final answer.
    With ``restate`` or ``answer_check`` the instance is a :class:`LessonsAtDecisionMiddleware`, which
    adds the tool and after-model hooks; without them the agent's graph gains no node.
    """

    def __new__(cls, *args: Any, delivery: LessonDelivery | None = None, **kwargs: Any) -> ExperienceMiddleware:
        if cls is ExperienceMiddleware and delivery is not None and (delivery.restate or delivery.checks_answer):
            cls = LessonsAtDecisionMiddleware
        return super().__new__(cls)

    def __init__(
        self,
        experiences: SourceLike,
        *,
        placement: Placement | str = Placement.SYSTEM,
        header: str = DEFAULT_HEADER,
        name: str | None = None,
        delivery: LessonDelivery | None = None,
    ) -> None:
        super().__init__()
        self.source = as_source(experiences)
        self.placement = Placement(placement)
        self.header = header
        self.delivery = delivery or LessonDelivery()
        # create_agent refuses two middleware of one name; each instance gets its own.
        self._name = f"ExperienceMiddleware[{name}]" if name else f"ExperienceMiddleware#{next(_numbers)}"

    @property
    def name(self) -> str:
        return self._name

    def _with_experiences(self, request: ModelRequest, library: ExperienceLibrary) -> ModelRequest:
        shown = matching_lessons(library.experiences, question_of(request.messages), self.delivery.limit) \
            if self.delivery.relevant_only else library
        block = render_experiences(shown, header=self.header)
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


def _messages(state: Any) -> list[AnyMessage]:
    """The conversation of an agent state given as a dict (create_agent's) or as an object."""
    found = state.get("messages") if isinstance(state, dict) else getattr(state, "messages", None)
    return list(found or [])


class LessonsAtDecisionMiddleware(ExperienceMiddleware):
    """:class:`ExperienceMiddleware` that also says the matching lessons where the model decides:
    under each tool result (``restate``) and once before a final answer (``answer_check``).
    Build it as ``ExperienceMiddleware(source, delivery=LessonDelivery(restate=True))``."""

    def _matching(self, library: ExperienceLibrary, messages: list[AnyMessage]) -> list:
        return matching_lessons(library.experiences, question_of(messages), self.delivery.limit)

    def _opened(self, request: ModelRequest, response: Any) -> Any:
        """The reply to a check that repeated it instead of opening the page it named, as the call that
        opens it (:func:`~tfgrpo_agents.agents.delivery.opening_call`); other replies as they came."""
        replies = response.result if isinstance(response, ModelResponse) else [response]
        last = replies[-1] if replies else None
        opening = opening_call(request.messages, last, request.tools) \
            if self.delivery.suggest_page and isinstance(last, AIMessage) else None
        if opening is None:
            return response
        opening = opening.model_copy(update={"usage_metadata": last.usage_metadata, "id": last.id,
                                             "response_metadata": last.response_metadata})
        if isinstance(response, ModelResponse):
            return dataclasses.replace(response, result=[*replies[:-1], opening])
        return opening

    def wrap_model_call(
        self, request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]
    ) -> ModelResponse:
        return self._opened(request, super().wrap_model_call(request, handler))

    async def awrap_model_call(
        self, request: ModelRequest, handler: Callable[[ModelRequest], Awaitable[ModelResponse]]
    ) -> Any:
        return self._opened(request, await super().awrap_model_call(request, handler))

    def _restated(self, result: Any, library: ExperienceLibrary, state: Any) -> Any:
        if not self.delivery.restate or not isinstance(result, ToolMessage):
            return result
        messages = _messages(state)
        matched = self._matching(library, messages)
        footer = restatement(matched, self.delivery.page_for(matched, [*messages, result]))
        return result.model_copy(update={"content": f"{message_text(result)}{footer}"}) if footer else result

    def wrap_tool_call(self, request: Any, handler: Callable[[Any], Any]) -> Any:
        return self._restated(handler(request), self.source.current(), request.state)

    async def awrap_tool_call(self, request: Any, handler: Callable[[Any], Awaitable[Any]]) -> Any:
        result = await handler(request)
        return self._restated(result, await read_source(self.source), request.state)

    def _check(self, state: Any, library: ExperienceLibrary) -> dict[str, Any] | None:
        messages = _messages(state)
        last = messages[-1] if messages else None
        if not self.delivery.checks_answer or not isinstance(last, AIMessage) or last.tool_calls \
                or not str(last.text).strip():
            return None
        check = self.delivery.check_for(self._matching(library, messages), messages)
        return None if check is None else {"messages": [check], "jump_to": "model"}

    @hook_config(can_jump_to=["model"])
    def after_model(self, state: Any, runtime: Any) -> dict[str, Any] | None:
        return self._check(state, self.source.current())

    @hook_config(can_jump_to=["model"])
    async def aafter_model(self, state: Any, runtime: Any) -> dict[str, Any] | None:
        return self._check(state, await read_source(self.source))
