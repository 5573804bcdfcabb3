"""Rollouts against an agent served by LangGraph Server: the learner only orchestrates.

``remote_agent_factory(url, graph_id)`` is an ``agent_factory`` for :class:`TrainingFreeGRPO`:
each rollout is a stateless run of the served graph (``RemoteGraph``), carrying its temperature and
seed (``configurable["tfgrpo_sampling"]``) and the library of its learning step
(``configurable["tfgrpo_library"]``, read by a served ``RequestSource``). The messages come back as
LangChain messages, so the run directory records the same trajectories as local rollouts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from langchain_core.messages import BaseMessage, messages_from_dict
from langchain_core.runnables import RunnableConfig
from langgraph.pregel.remote import RemoteGraph

from tfgrpo_agents.experience import ExperienceLibrary, library_request

_LOCAL_KEYS = ("thread_id", "checkpoint_ns", "checkpoint_id", "checkpoint_map")  # never sent: a rollout has no thread


def _as_messages(value: Any) -> Any:
    """Server-side messages (dicts with a ``type``) as LangChain messages; anything else unchanged."""
    if isinstance(value, list) and value and all(isinstance(m, Mapping) and "type" in m for m in value):
        return messages_from_dict([{"type": m["type"], "data": dict(m)} for m in value])
    return value


def _local_state(state: Any) -> Any:
    if not isinstance(state, Mapping):
        return state
    return {key: _as_messages(value) for key, value in state.items()}


def _wire(payload: Any) -> Any:
    """Messages in the input as JSON the server accepts."""
    if isinstance(payload, Mapping):
        return {key: _wire(value) for key, value in payload.items()}
    if isinstance(payload, list):
        return [_wire(item) for item in payload]
    if isinstance(payload, BaseMessage):
        return payload.model_dump(mode="json")
    return payload


class RemoteAgent:
    """One learning step's view of a served agent: every run carries that step's library."""

    def __init__(self, graph: RemoteGraph, library: ExperienceLibrary | None) -> None:
        self.graph, self.library = graph, library

    def _config(self, config: RunnableConfig | None) -> RunnableConfig:
        config = dict(config or {})
        configurable = {k: v for k, v in (config.get("configurable") or {}).items() if k not in _LOCAL_KEYS}
        if self.library is not None:
            configurable.update(library_request(self.library))
        return {**config, "configurable": configurable}

    async def ainvoke(self, payload: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return _local_state(await self.graph.ainvoke(_wire(payload), self._config(config), **kwargs))

    def invoke(self, payload: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return _local_state(self.graph.invoke(_wire(payload), self._config(config), **kwargs))


def remote_agent_factory(url: str, graph_id: str, *, api_key: str | None = None,
                         headers: dict[str, str] | None = None) -> Callable[[ExperienceLibrary], RemoteAgent]:
    """An ``agent_factory`` whose agents are runs of ``graph_id`` on the LangGraph Server at ``url``.

    Serve that graph with ``ExperienceMiddleware(RequestSource(...))`` so it uses the library each
    rollout carries.
    """
    graph = RemoteGraph(graph_id, url=url, api_key=api_key, headers=headers)
    return lambda library: RemoteAgent(graph, library)
