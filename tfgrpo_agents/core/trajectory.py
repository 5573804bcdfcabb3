"""What a rollout did, recorded in full: messages, tool calls, token usage, answer, reward, failure.

The collector works for any LangGraph/LangChain agent: tool calls are read from the messages
(AI tool calls paired with their tool results by id), timings and token usage from callbacks.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ToolMessage,
    messages_from_dict,
    messages_to_dict,
)
from langchain_core.outputs import ChatGeneration, LLMResult
from pydantic import BaseModel, Field

from tfgrpo_agents._atomic import atomic_write_text
from tfgrpo_agents.agents.answers import extract_final_answer

FailureKind = Literal["timeout", "api_error", "step_limit", "error"]


class TokenUsage(BaseModel):
    input: int = 0
    output: int = 0
    cached: int = 0
    calls: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(input=self.input + other.input, output=self.output + other.output,
                          cached=self.cached + other.cached, calls=self.calls + other.calls)

    @property
    def total(self) -> int:
        return self.input + self.output

    @classmethod
    def sum(cls, usages: Iterable[TokenUsage]) -> TokenUsage:
        total = cls()
        for usage in usages:
            total = total + usage
        return total


def usage_of(message: BaseMessage) -> TokenUsage | None:
    """Token usage an API reported for one model reply (``None`` if it reported none)."""
    metadata = getattr(message, "usage_metadata", None)
    if metadata:
        cached = (metadata.get("input_token_details") or {}).get("cache_read", 0) or 0
        return TokenUsage(input=metadata.get("input_tokens", 0), output=metadata.get("output_tokens", 0),
                          cached=cached, calls=1)
    token_usage = (getattr(message, "response_metadata", None) or {}).get("token_usage")
    if token_usage:
        return TokenUsage(input=token_usage.get("prompt_tokens", 0), output=token_usage.get("completion_tokens", 0),
                          calls=1)
    return None


class ToolCallRecord(BaseModel):
    call_id: str | None = None
    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    output: str | None = None
    error: str | None = None
    latency_s: float | None = None


class Trajectory(BaseModel):
    """One rollout of one task."""

    task_id: str
    sample: int
    question: str
    reference: str | None = None
    messages: list[dict[str, Any]] = Field(default_factory=list)
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)
    llm_calls: list[TokenUsage] = Field(default_factory=list)
    final_answer: str | None = None
    forced_final: bool = False
    reward: float | None = None
    grader_reasoning: str | None = None
    model_id: str | None = None
    temperature: float | None = None
    library_step: int | None = None
    library_digest: str | None = None  # ExperienceLibrary.digest() of the library the agent was shown
    agent_digest: str | None = None  # the agent set-up it ran with (prompt, tools, limits), where the caller knows it
    sampling_seen: dict[str, Any] | None = None  # what the first model call was sent (temperature, seed)
    wall_time_s: float = 0.0
    failed: bool = False
    failure: FailureKind | None = None
    error: str | None = None
    attempts: int = 1

    @property
    def usage(self) -> TokenUsage:
        return TokenUsage.sum(self.llm_calls)

    def langchain_messages(self) -> list[BaseMessage]:
        return messages_from_dict(self.messages)


def tool_calls_from_messages(messages: Sequence[BaseMessage]) -> list[ToolCallRecord]:
    """Every tool call the model made, paired with its result (or error) by call id."""
    results = {m.tool_call_id: m for m in messages if isinstance(m, ToolMessage)}
    records = []
    for message in messages:
        if not isinstance(message, AIMessage):
            continue
        for call in message.tool_calls:
            result = results.get(call.get("id"))
            text = None if result is None else str(result.text)
            failed = result is not None and getattr(result, "status", "success") == "error"
            records.append(ToolCallRecord(call_id=call.get("id"), name=call["name"], args=dict(call.get("args") or {}),
                                          output=None if failed else text, error=text if failed else None))
    return records


class TrajectoryCollector(BaseCallbackHandler):
    """Callback handler recording per-call token usage and tool latencies of one rollout.

    Pass it in ``config["callbacks"]`` of any agent invocation, then call :meth:`build`.
    """

    run_inline = True

    def __init__(self) -> None:
        self.llm_calls: list[TokenUsage] = []
        self.sampling_seen: dict[str, Any] | None = None  # temperature and seed of the first model call
        self._llm_runs: set[UUID] = set()
        self._tool_started: dict[UUID, tuple[str, float]] = {}
        self._latencies: dict[str, list[float]] = defaultdict(list)
        self._lock = threading.Lock()

    def on_chat_model_start(self, serialized: dict[str, Any], messages: Any, *, run_id: UUID,
                            parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        params = kwargs.get("invocation_params") or {}
        with self._lock:
            self._llm_runs.add(run_id)
            if self.sampling_seen is None and parent_run_id not in self._llm_runs:
                self.sampling_seen = {"temperature": params.get("temperature"), "seed": params.get("seed")}

    def on_llm_start(self, serialized: dict[str, Any], prompts: Any, *, run_id: UUID, **kwargs: Any) -> None:
        with self._lock:
            self._llm_runs.add(run_id)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, parent_run_id: UUID | None = None,
                   **kwargs: Any) -> None:
        if parent_run_id in self._llm_runs:
            return  # a model wrapped by another model (e.g. TextToolCallingModel): counted once, at the outer
        usage = None
        for generations in response.generations:
            for generation in generations:
                if isinstance(generation, ChatGeneration):
                    usage = usage_of(generation.message) or usage
        if usage is None and response.llm_output and response.llm_output.get("token_usage"):
            raw = response.llm_output["token_usage"]
            usage = TokenUsage(input=raw.get("prompt_tokens", 0), output=raw.get("completion_tokens", 0), calls=1)
        with self._lock:
            self.llm_calls.append(usage or TokenUsage(calls=1))

    def on_tool_start(self, serialized: dict[str, Any], input_str: str, *, run_id: UUID, **kwargs: Any) -> None:
        name = (serialized or {}).get("name") or kwargs.get("name") or "tool"
        with self._lock:
            self._tool_started[run_id] = (name, time.monotonic())

    def _tool_done(self, run_id: UUID) -> None:
        with self._lock:
            started = self._tool_started.pop(run_id, None)
            if started:
                name, start = started
                self._latencies[name].append(time.monotonic() - start)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._tool_done(run_id)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._tool_done(run_id)

    def tool_calls(self, messages: Sequence[BaseMessage]) -> list[ToolCallRecord]:
        """Tool calls from the messages, with latencies from the callbacks matched in order per tool."""
        remaining = {name: list(values) for name, values in self._latencies.items()}
        records = tool_calls_from_messages(messages)
        for record in records:
            queue = remaining.get(record.name)
            if queue:
                record.latency_s = round(queue.pop(0), 4)
        return records


def write_trajectories(path: str | os.PathLike[str], trajectories: Iterable[Trajectory]) -> Path:
    """One JSON object per line, written atomically (inspect with ``jq``)."""
    return atomic_write_text(path, "".join(t.model_dump_json() + "\n" for t in trajectories))


def read_trajectories(path: str | os.PathLike[str]) -> list[Trajectory]:
    with open(path, encoding="utf-8") as handle:
        return [Trajectory.model_validate(json.loads(line)) for line in handle if line.strip()]


def trajectory_from_record(record: dict[str, Any], number: int = 0) -> Trajectory:
    """A recorded rollout from our own format or a plain one: ``task_id`` (or ``id``), ``question``,
    ``reference`` (or ``answer``), ``reward``, ``final_answer``, and ``messages`` either as LangChain
    message dicts or as chat messages (``{"role": "user", "content": ...}``, tool calls included),
    as LangSmith and most tracing tools export them."""
    from langchain_core.messages import convert_to_messages

    data = dict(record)
    data.setdefault("task_id", str(data.pop("id", f"task-{number}")))
    data.setdefault("sample", number)
    if "reference" not in data and "answer" in data:
        data["reference"] = None if data["answer"] is None else str(data.pop("answer"))
    messages = data.get("messages") or []
    if messages and isinstance(messages[0], dict) and "role" in messages[0]:
        converted = convert_to_messages(messages)
        data["messages"] = messages_to_dict(converted)
        data.setdefault("tool_calls", [r.model_dump() for r in tool_calls_from_messages(converted)])
        if data.get("final_answer") is None and converted:
            data["final_answer"] = extract_final_answer(str(converted[-1].text)) or None
    if "question" not in data:
        first_user = next((m for m in messages if isinstance(m, dict) and m.get("role") in ("user", "human")), None)
        data["question"] = str((first_user or {}).get("content") or "")
    return Trajectory.model_validate(data)


def load_recorded(path: str | os.PathLike[str]) -> list[Trajectory]:
    """Recorded rollouts from a ``.jsonl`` (one per line) or a ``.json`` list; errors name the line."""
    text = Path(path).read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        records = list(enumerate(json.loads(text), start=1))
    else:
        records = [(number, json.loads(line)) for number, line in enumerate(text.splitlines(), start=1)
                   if line.strip()]
    out = []
    for number, record in records:
        try:
            out.append(trajectory_from_record(record, number))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path} record {number}: {str(exc).splitlines()[0]}") from None
    return out


def serialize_messages(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    return messages_to_dict(list(messages))
