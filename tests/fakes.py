"""Deterministic stand-ins for chat models, used by the pipeline tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from pydantic import Field


class ScriptedChatModel(GenericFakeChatModel):
    """Replies with the scripted messages in order and records every call it receives.

    ``calls`` is shared by the copies ``bind_tools`` returns, and each entry notes which tools
    were bound, so tests can assert on exactly what the model was shown.
    """

    calls: list[dict[str, Any]] = Field(default_factory=list)
    bound_tools: tuple[str, ...] = ()
    bound_choice: Any = None

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:
        names = tuple(getattr(t, "name", None) or t.get("name") or t["function"]["name"] for t in tools)
        model = self.model_copy(update={"bound_tools": names, "bound_choice": kwargs.get("tool_choice")})
        settings = {k: v for k, v in kwargs.items() if k != "tool_choice"}  # as real models bind them
        return model.bind(**settings) if settings else model

    def _generate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs: Any):
        self.calls.append({"messages": list(messages), "tools": self.bound_tools, "tool_choice": self.bound_choice})
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


def scripted(*replies: AIMessage | str) -> ScriptedChatModel:
    return ScriptedChatModel(messages=iter(replies))


def tool_call(name: str, args: dict[str, Any], call_id: str = "call_1", content: str = "") -> AIMessage:
    return AIMessage(content=content, tool_calls=[{"name": name, "args": args, "id": call_id, "type": "tool_call"}])

