"""Run one rollout of an agent on a task and record it as a :class:`Trajectory`.

Shared by the learning loop and the evaluation harness, so both measure the same thing.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel, Field
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from tfgrpo_agents.agents.sampling import sampling_configurable
from tfgrpo_agents.core.contract import AgentContract, AgentRunError, is_step_limit
from tfgrpo_agents.core.contract import (
    task_prompt as task_prompt,  # re-exported for the benches
)
from tfgrpo_agents.core.tasks import Task
from tfgrpo_agents.core.trajectory import (
    Trajectory,
    TrajectoryCollector,
    serialize_messages,
)
from tfgrpo_agents.errors import TfgrpoError

logger = logging.getLogger(__name__)


class RolloutSettings(BaseModel):
    temperature: float = 0.7
    max_steps: int = 8
    timeout_s: float = Field(default=300.0, gt=0)
    retries: int = Field(default=1, ge=0)
    retry_wait_s: float = Field(default=1.0, ge=0)  # first backoff; doubled each retry, with jitter
    model_id: str | None = None


class RolloutsFailedError(TfgrpoError, RuntimeError):
    """Every rollout of a step (or an arm) failed: nothing can be learned or measured from it."""


TRANSIENT_FAILURES = ("api_error",)  # not cached: a resume after the endpoint is fixed runs them again


def worth_caching(trajectory: Trajectory) -> bool:
    """A finished rollout is cached; one that never reached the model is run again on resume."""
    return trajectory.failure not in TRANSIENT_FAILURES


def check_not_all_failed(trajectories: list[Trajectory], what: str) -> None:
    """Raise :class:`RolloutsFailedError` when every one of ``trajectories`` failed: nothing to learn or measure.

    The message says whether the endpoint never answered or the agent itself failed (a state shape
    it does not accept, a tool that always raises), with the first error.
    """
    if not trajectories or not all(t.failed for t in trajectories):
        return
    first = trajectories[0]
    if all(t.failure in TRANSIENT_FAILURES for t in trajectories):
        raise RolloutsFailedError(
            f"all {len(trajectories)} rollouts of {what} failed before the model answered ({first.error}); "
            "check the endpoint (--base-url), the model name and the API key")
    raise RolloutsFailedError(
        f"all {len(trajectories)} rollouts of {what} failed ({first.failure}: {first.error}); check the agent: "
        "its input (input_mapper), where its messages are (messages_key) and its tools")


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


def is_transient(exc: BaseException) -> bool:
    """Worth another attempt: timeouts, connection errors, 429 and 5xx; never a raising tool or a bad request."""
    kind = classify_error(exc)
    if kind == "timeout":
        return True
    if kind != "api_error":
        return False
    status = getattr(exc, "status_code", None) or getattr(getattr(exc, "response", None), "status_code", None)
    return status is None or status in (408, 409, 429) or status >= 500


def with_handler(callbacks: Any, handler: Any) -> Any:
    """A config's callbacks (a list, or a parent run's manager: its children) with ``handler`` added."""
    if handler is None:
        return callbacks
    if callbacks is None:
        return [handler]
    if isinstance(callbacks, list):
        return [*callbacks, handler]
    manager = callbacks.copy()
    manager.add_handler(handler, inherit=True)
    return manager


def child_config(parent: RunnableConfig | None, handler: Any, run_name: str | None,
                 metadata: dict[str, Any], tags: Sequence[str] = ()) -> dict[str, Any]:
    """A config whose runs nest under ``parent``'s run, with ``handler`` added and tags and metadata merged."""
    parent = parent or {}
    child: dict[str, Any] = {"callbacks": with_handler(parent.get("callbacks"), handler),
                             "tags": [*(parent.get("tags") or []), *tags],
                             "metadata": {**(parent.get("metadata") or {}), **metadata}}
    if run_name:
        child["run_name"] = run_name
    return child


def rollout_config(collector: TrajectoryCollector, settings: RolloutSettings, seed: int, task: Task, sample: int,
                   parent: RunnableConfig | None, metadata: dict[str, Any]) -> dict[str, Any]:
    """The agent's config: the parent's callbacks (one trace tree), the collector, sampling, names."""
    return {**child_config(parent, collector, f"rollout {task.id}/{sample}",
                           {"task_id": task.id, "sample": sample, "seed": seed, **metadata}, tags=["tfgrpo:rollout"]),
            "recursion_limit": 4 * settings.max_steps + 10,
            "configurable": sampling_configurable(settings.temperature, seed)}


async def run_rollout(agent: Any, task: Task, sample: int, *, seed: int, settings: RolloutSettings,
                      library_step: int | None = None, library_digest: str | None = None,
                      contract: AgentContract | None = None, config: RunnableConfig | None = None) -> Trajectory:
    """One attempt at ``task``; transient failures are retried with backoff; failures are recorded, never raised.

    The trace is kept whatever happened: messages up to a raising tool, a recursion limit
    (``step_limit``) or a call-limit middleware's stop (``step_limit``) are recorded as they were.
    """
    contract = contract or AgentContract()
    base = Trajectory(task_id=task.id, sample=sample, question=task.question, reference=task.answer,
                      model_id=settings.model_id, temperature=settings.temperature, library_step=library_step,
                      library_digest=library_digest)
    start = time.monotonic()
    attempts = 0
    last: dict[str, Any] = {}

    async def attempt() -> Trajectory:
        nonlocal attempts
        attempts += 1
        collector = TrajectoryCollector()
        progress: dict[str, Any] = {}
        last.update(collector=collector, progress=progress)
        run_config = rollout_config(collector, settings, seed, task, sample, config,
                                    {"library_step": library_step, "library_digest": library_digest})
        try:
            state = await asyncio.wait_for(contract.run(agent, task, run_config, progress), timeout=settings.timeout_s)
        except AgentRunError as exc:
            if is_step_limit(exc.cause):
                return _recorded(base, contract, exc.state, collector, failure="step_limit",
                                 error=f"{type(exc.cause).__name__}: {exc.cause}")
            raise exc.cause from exc
        limited = contract.hit_call_limit(state)
        return _recorded(base, contract, state, collector, failure="step_limit" if limited else None,
                         answer=None if limited else ...)

    try:
        async for retrying in AsyncRetrying(
                stop=stop_after_attempt(settings.retries + 1), reraise=True,
                wait=wait_exponential(multiplier=settings.retry_wait_s, max=30) + wait_random(0, settings.retry_wait_s),
                retry=retry_if_exception(is_transient)):
            with retrying:
                trajectory = await attempt()
    except Exception as error:  # recorded; a failed rollout is never dropped
        logger.info("rollout %s/%s failed after %d attempt(s): %s", task.id, sample, attempts, error)
        partial = _recorded(base, contract, last.get("progress", {}).get("state"), last.get("collector"))
        return partial.model_copy(update={
            "failed": True, "failure": classify_error(error), "error": f"{type(error).__name__}: {error}"[:500],
            "final_answer": None, "wall_time_s": round(time.monotonic() - start, 3), "attempts": attempts})
    return trajectory.model_copy(update={"wall_time_s": round(time.monotonic() - start, 3), "attempts": attempts})


def _recorded(base: Trajectory, contract: AgentContract, state: Any, collector: TrajectoryCollector | None,
              failure: str | None = None, error: str | None = None, answer: Any = ...) -> Trajectory:
    """A trajectory from whatever state the agent reached (possibly none)."""
    messages = contract.messages_of(state) if state is not None else []
    if answer is ...:
        answer = contract.answer_of(state) if state is not None and failure is None else None
    forced = bool(isinstance(state, dict) and state.get("forced_final"))
    return base.model_copy(update={
        "messages": serialize_messages(messages),
        "tool_calls": collector.tool_calls(messages) if collector else [],
        "llm_calls": collector.llm_calls if collector else [],
        "sampling_seen": collector.sampling_seen if collector else None,
        "final_answer": answer, "forced_final": forced,
        "failure": failure or ("step_limit" if forced else None), "error": error,
    })
