"""Run one rollout of an agent on a task and record it as a :class:`Trajectory`.

Shared by the learning loop and the evaluation harness, so both measure the same thing.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import logging
import time
from typing import Any

from langchain_core.messages import HumanMessage
from pydantic import BaseModel, Field

from tfgrpo_agents.agents import extract_final_answer, message_text
from tfgrpo_agents.learning.tasks import Task
from tfgrpo_agents.learning.trajectory import (
    Trajectory,
    TrajectoryCollector,
    serialize_messages,
)

logger = logging.getLogger(__name__)


class RolloutSettings(BaseModel):
    temperature: float = 0.7
    max_steps: int = 8
    timeout_s: float = Field(default=300.0, gt=0)
    retries: int = Field(default=1, ge=0)
    model_id: str | None = None


class RolloutsFailedError(RuntimeError):
    """Every rollout of a step failed to reach the model: nothing can be learned or measured."""


TRANSIENT_FAILURES = ("api_error",)  # not cached: a resume after the endpoint is fixed runs them again


def check_reached_model(trajectories: list[Trajectory], what: str) -> None:
    """Raise :class:`RolloutsFailedError` when not one of ``trajectories`` reached the model."""
    if trajectories and all(t.failed and t.failure in TRANSIENT_FAILURES for t in trajectories):
        first = trajectories[0]
        raise RolloutsFailedError(
            f"all {len(trajectories)} rollouts of {what} failed before the model answered ({first.error}); "
            "check the endpoint (--base-url), the model name and the API key")


def rollout_seed(seed: int, step: int, task_id: str, sample: int) -> int:
    """A per-rollout seed, stable across runs (a CRC would be linear: its low bits repeat across samples)."""
    digest = hashlib.sha256(f"{seed}:{step}:{task_id}:{sample}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def classify_error(exc: BaseException) -> str:
    """``timeout``, ``api_error`` (the endpoint: connection, HTTP status, rate limit) or ``error``.

    Provider errors are often re-raised as subclasses (langchain-openai's ``OpenAIConnectionError``
    derives from ``openai.APIConnectionError``), so the whole class hierarchy is looked at.
    """
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "timeout"
    for cls in type(exc).__mro__:
        if cls.__module__.startswith(("openai", "httpx", "httpcore", "anthropic")) or "API" in cls.__name__:
            return "api_error"
    return "error"


def task_prompt(task: Task) -> str:
    """What the agent is asked: the question, and the website to start from when the task has one."""
    return f"{task.question}\nWebsite: {task.root_url}" if task.root_url else task.question


async def _detached(agent: Any, question: str, config: dict[str, Any]) -> dict[str, Any]:
    """Run the agent in a fresh context, never as a subgraph of whatever graph is calling.

    LangGraph hands a running graph's checkpointer to graphs invoked inside it; an agent would
    then be checkpointed under the caller's thread, resumed on restart and, on a retry, continue
    its failed conversation. Each rollout must start clean.
    """
    coroutine = agent.ainvoke({"messages": [HumanMessage(question)]}, config)
    return await asyncio.get_running_loop().create_task(coroutine, context=contextvars.Context())


async def run_rollout(agent: Any, task: Task, sample: int, *, seed: int, settings: RolloutSettings,
                      library_step: int | None = None, library_digest: str | None = None) -> Trajectory:
    """One attempt at ``task`` (retried on errors); failures are recorded, never raised."""
    base = Trajectory(task_id=task.id, sample=sample, question=task.question, reference=task.answer,
                      model_id=settings.model_id, temperature=settings.temperature, library_step=library_step,
                      library_digest=library_digest)
    error: BaseException | None = None
    start = time.monotonic()
    for attempt in range(1, settings.retries + 2):
        collector = TrajectoryCollector()
        config = {"callbacks": [collector], "recursion_limit": 4 * settings.max_steps + 10,
                  "configurable": {"model_kwargs": {"temperature": settings.temperature, "seed": seed}}}
        try:
            result = await asyncio.wait_for(_detached(agent, task_prompt(task), config), timeout=settings.timeout_s)
        except Exception as exc:  # recorded below; a failed rollout is never dropped
            error = exc
            logger.info("rollout %s/%s attempt %d failed: %s", task.id, sample, attempt, exc)
            continue
        messages = result.get("messages", [])
        answer = result.get("final_answer")
        if answer is None and messages:
            answer = extract_final_answer(message_text(messages[-1]))
        return base.model_copy(update={
            "messages": serialize_messages(messages), "tool_calls": collector.tool_calls(messages),
            "llm_calls": collector.llm_calls, "final_answer": answer,
            "forced_final": bool(result.get("forced_final")),
            "failure": "step_limit" if result.get("forced_final") else None,
            "wall_time_s": round(time.monotonic() - start, 3), "attempts": attempt,
        })
    assert error is not None
    return base.model_copy(update={
        "failed": True, "failure": classify_error(error), "error": f"{type(error).__name__}: {error}"[:500],
        "wall_time_s": round(time.monotonic() - start, 3), "attempts": settings.retries + 1,
    })
