"""The bring-your-own-agent contract: what the learner needs of an agent, and how it runs one.

``agent_factory(library)`` may return any compiled LangGraph graph (``create_agent``, a custom
``StateGraph``, ours) or any Runnable. The learner

* builds its input with ``input_mapper(task)`` (default ``{"messages": [HumanMessage(question)]}``);
* reads the answer with ``output_mapper(state)`` (default: the state's ``final_answer``, else the
  text of its last message); a structured answer (a pydantic model, a dict) is stored as JSON;
* finds the messages under ``messages_key``, or, by default, in whichever state value is a list
  of messages;
* streams the run's states, so when the agent raises, hits its recursion limit or a call-limit
  middleware, the trace up to that point is kept and the failure is named honestly;
* runs an agent that only works synchronously (sync-only middleware or tools) in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections.abc import Callable, Mapping
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage
from langgraph.errors import GraphRecursionError
from pydantic import BaseModel, ConfigDict

from tfgrpo_agents.agents import extract_final_answer, message_text
from tfgrpo_agents.core.tasks import Task

_LIMIT_MESSAGES = ("Model call limits exceeded:", "Tool call limit reached:", "call limit reached:")
_LIMIT_ERRORS = ("ModelCallLimitExceededError", "ToolCallLimitExceededError")


def task_prompt(task: Task) -> str:
    """What the agent is asked: the question, and the website to start from when the task has one."""
    return f"{task.question}\nWebsite: {task.root_url}" if task.root_url else task.question


class AgentRunError(Exception):
    """The agent raised; ``state`` holds the last state it reached (its messages are the trace)."""

    def __init__(self, cause: BaseException, state: Mapping[str, Any] | None) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.state = dict(state or {})


def is_step_limit(exc: BaseException) -> bool:
    return isinstance(exc, GraphRecursionError) or type(exc).__name__ in _LIMIT_ERRORS


def answer_text(answer: Any) -> str | None:
    """An answer as stored text: structured answers as JSON."""
    if answer is None or isinstance(answer, str):
        return answer
    if isinstance(answer, BaseModel):
        return answer.model_dump_json()
    try:
        return json.dumps(answer, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(answer)


class AgentContract(BaseModel):
    """How the learner talks to one agent (see the module docstring)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    input_mapper: Callable[[Task], Any] | None = None
    output_mapper: Callable[[Mapping[str, Any]], Any] | None = None
    messages_key: str | None = None
    sync: bool | None = None  # None: async, switching to a worker thread if the agent has no async path

    def input_for(self, task: Task) -> Any:
        if self.input_mapper is not None:
            return self.input_mapper(task)
        return {"messages": [HumanMessage(task_prompt(task))]}

    def messages_of(self, state: Any) -> list[BaseMessage]:
        if not isinstance(state, Mapping):
            return []
        if self.messages_key is not None:
            return list(state.get(self.messages_key) or [])
        for value in state.values():
            if isinstance(value, list) and value and all(isinstance(m, BaseMessage) for m in value):
                return list(value)
        return []

    def answer_of(self, state: Any) -> str | None:
        if self.output_mapper is not None:
            return answer_text(self.output_mapper(state))
        if not isinstance(state, Mapping):
            return answer_text(state)
        if state.get("final_answer") is not None:
            return answer_text(state["final_answer"])
        if state.get("structured_response") is not None:
            return answer_text(state["structured_response"])
        messages = self.messages_of(state)
        return extract_final_answer(message_text(messages[-1])) if messages else None

    def hit_call_limit(self, state: Any) -> bool:
        """A call-limit middleware ended the run (its message is then not an answer)."""
        messages = self.messages_of(state)
        return bool(messages) and message_text(messages[-1]).strip().startswith(_LIMIT_MESSAGES)

    async def run(self, agent: Any, task: Task, config: dict[str, Any], progress: dict[str, Any]) -> Any:
        """The agent's final state; raises :class:`AgentRunError` carrying the last state reached.

        ``progress["state"]`` follows the run, so a caller that gives up at a timeout still has the trace.
        """
        payload = self.input_for(task)
        if self.sync is not True:
            try:
                return await _fresh_task(_stream_async(agent, payload, config, progress))
            except AgentRunError as exc:
                if not _needs_sync(exc.cause) or self.sync is False:
                    raise
                self.sync = True  # this agent has sync-only parts: every later rollout runs in a thread
                progress.clear()
        return await _in_fresh_thread(_stream_sync, agent, payload, config, progress)


def _needs_sync(exc: BaseException) -> bool:
    return isinstance(exc, NotImplementedError) and "synchronous" in str(exc).lower()


def _streams(agent: Any) -> bool:
    from langgraph.pregel import Pregel

    return isinstance(agent, Pregel)


async def _stream_async(agent: Any, payload: Any, config: dict[str, Any], progress: dict[str, Any]) -> Any:
    try:
        if _streams(agent):
            async for state in agent.astream(payload, config, stream_mode="values"):
                progress["state"] = state
            return progress.get("state")
        return await agent.ainvoke(payload, config)
    except (asyncio.CancelledError, KeyboardInterrupt):
        raise
    except BaseException as exc:
        raise AgentRunError(exc, progress.get("state")) from exc


def _stream_sync(agent: Any, payload: Any, config: dict[str, Any], progress: dict[str, Any]) -> Any:
    try:
        if _streams(agent):
            for state in agent.stream(payload, config, stream_mode="values"):
                progress["state"] = state
            return progress.get("state")
        return agent.invoke(payload, config)
    except BaseException as exc:
        raise AgentRunError(exc, progress.get("state")) from exc


async def _fresh_task(coroutine: Any) -> Any:
    """Run in a fresh context, never as a subgraph of whatever graph is calling.

    LangGraph hands a running graph's checkpointer to graphs invoked inside it; an agent would
    then be checkpointed under the caller's thread, resumed on restart and, on a retry, continue
    its failed conversation. Each rollout must start clean (tracing is passed on explicitly, in
    the config's callbacks).
    """
    return await asyncio.get_running_loop().create_task(coroutine, context=contextvars.Context())


async def _in_fresh_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """A sync agent in the loop's thread pool (it cannot be stopped at a timeout: it finishes there)."""
    context = contextvars.Context()
    return await asyncio.get_running_loop().run_in_executor(None, lambda: context.run(fn, *args))
