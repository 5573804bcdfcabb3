"""Tool calling for models that write their calls as text (small local models behind any
OpenAI-compatible endpoint: llama.cpp, Ollama, LM Studio, vLLM).

Such models pick the right tool but write ```json {"name": …, "arguments": {…}}```, bare JSON,
JSON after a sentence, ``<tool_call>`` blocks or ``{{…}}`` brace noise instead of OpenAI
``tool_calls`` — and some servers' own tool parsers return empty replies once tool turns are in
the conversation. :class:`TextToolCallingModel` wraps any chat model and keeps the protocol on the
client: tools are described in the system prompt, earlier calls and results are replayed as
plain turns, and the reply is parsed into real ``tool_calls`` — only when the name is a bound
tool's and the arguments fit its schema (a model that copies the schema is not calling a tool).
A reply with no such call but a ```python block is a call of the bound code tool (one whose only
argument is a string ``code``): a small model told to reason and then run code writes its code that way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import json_repair
from langchain_core.callbacks import CallbackManager
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict

from tfgrpo_agents.prompts import TEXT_TOOL_RESULT, TEXT_TOOLS_INSTRUCTIONS

_FENCE = re.compile(r"```(?:json|tool_call)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.DOTALL | re.IGNORECASE)
_CODE_FENCE = re.compile(r"```(?:python|py)[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
_TYPES = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "array": list, "object": dict}


def tool_specs(tools: Sequence[BaseTool | dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI function specs (name, description, JSON-schema parameters) of the bound tools."""
    return [convert_to_openai_tool(tool)["function"] for tool in tools]


def _json_candidates(text: str) -> list[str]:
    """Places a call may hide in: tags, fences, then every balanced ``{…}`` in the text."""
    found = [m.group(1) for m in _TAG.finditer(text)] + [m.group(1) for m in _FENCE.finditer(text)]
    depth, start = 0, None
    for index, char in enumerate(text):
        if char == "{":
            if depth == 0:
                start = index
            depth += 1
        elif char == "}" and depth:
            depth -= 1
            if depth == 0 and start is not None:
                found.append(text[start:index + 1])
    return found


def _fits(arguments: Any, schema: dict[str, Any]) -> bool:
    """Arguments are an object with the required keys and values of the declared JSON types."""
    if not isinstance(arguments, dict):
        return False
    properties = schema.get("properties", {})
    if any(key not in arguments for key in schema.get("required", [])):
        return False
    for key, value in arguments.items():
        if key not in properties:
            return False
        expected = _TYPES.get(properties[key].get("type", ""))
        if isinstance(value, dict) and "type" in value and expected is not dict:
            return False  # the model copied the schema instead of filling it in
        if expected is not None and not isinstance(value, expected):
            return False
    return True


def parse_text_tool_calls(text: str, specs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tool calls written as text, kept only when they match a bound tool's name and schema."""
    by_name = {spec["name"]: spec for spec in specs}
    calls: list[dict[str, Any]] = []
    seen: set[str] = set()
    for candidate in _json_candidates(text):
        data = json_repair.loads(candidate)  # repairs fences, bad escapes and {{…}} brace noise
        for item in data if isinstance(data, list) else [data]:
            if not isinstance(item, dict):
                continue
            if "function" in item and isinstance(item["function"], dict):  # OpenAI-shaped
                item = item["function"]
            name = item.get("name") or item.get("tool")
            arguments = item.get("arguments", item.get("args", item.get("parameters", {})))
            if isinstance(arguments, str):
                arguments = json_repair.loads(arguments) or {}
            spec = by_name.get(name)
            if spec is None or not _fits(arguments, spec.get("parameters", {})):
                continue
            key = name + json.dumps(arguments, sort_keys=True)
            if key not in seen:
                seen.add(key)
                calls.append(_tool_call(name, arguments, len(calls), key))
    return calls or _code_block_call(text, specs)


def _tool_call(name: str, arguments: dict[str, Any], index: int, key: str) -> dict[str, Any]:
    return {"name": name, "args": arguments, "id": f"call_{index}_{abs(hash(key)) % 10**8}", "type": "tool_call"}


def _code_block_call(text: str, specs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reply's ```python blocks, joined, as one call of the only bound tool that takes just ``code``."""
    coders = [spec for spec in specs if set(spec.get("parameters", {}).get("properties", {})) == {"code"}
              and spec["parameters"]["properties"]["code"].get("type") == "string"]
    code = "\n".join(block.strip() for block in _CODE_FENCE.findall(text) if block.strip())
    if len(coders) != 1 or not code:
        return []
    name = coders[0]["name"]
    return [_tool_call(name, {"code": code}, 0, name + code)]


def call_schema(specs: Sequence[dict[str, Any]], name: str | None = None) -> dict[str, Any]:
    """A JSON schema that only a call of one of ``specs`` (or of the tool ``name``) satisfies, as a
    ``response_format``: servers that constrain decoding to it (llama.cpp, vLLM, Ollama, OpenAI) make
    the reply that call and nothing else."""
    chosen = [spec for spec in specs if name is None or spec["name"] == name]
    if not chosen:
        raise ValueError(f"tool_choice names {name!r}, which is not a bound tool")
    options = [{"type": "object", "additionalProperties": False, "required": ["name", "arguments"],
                "properties": {"name": {"const": spec["name"]},
                               "arguments": {"type": "object", "properties": {}, **spec.get("parameters", {}),
                                             "additionalProperties": False}}}
               for spec in chosen]
    return {"type": "json_schema",
            "json_schema": {"name": "tool_call",
                            "schema": options[0] if len(options) == 1 else {"anyOf": options}}}


def _render_tools(specs: Sequence[dict[str, Any]]) -> str:
    lines = []
    for spec in specs:
        parameters = spec.get("parameters", {}).get("properties", {})
        args = ", ".join(f'"{name}": <{p.get("type", "value")}>' for name, p in parameters.items())
        lines.append(f"- {spec['name']}: {spec.get('description', '').strip()} Arguments: {{{args}}}")
    return "\n".join(lines)


class TextToolCallingModel(BaseChatModel):
    """Wrap ``inner`` so tool calls travel as text both ways (see the module docstring).

    ``bind_tools`` returns a copy that knows the tools; without tools it is a pass-through.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: BaseChatModel
    specs: list[dict[str, Any]] = []
    required_call: dict[str, Any] | None = None  # the response_format that forces a call (tool_choice)

    @property
    def _llm_type(self) -> str:
        return f"text-tools({getattr(self.inner, '_llm_type', 'chat')})"

    def bind_tools(self, tools: Sequence[BaseTool | dict[str, Any]], *, tool_choice: Any = None,
                   **kwargs: Any) -> Any:
        """This adapter with ``tools`` described in its prompt; other model arguments (a rollout's
        temperature and seed, passed by ``create_agent`` as ``model_settings``) are bound as usual.
        ``tool_choice`` ``"required"``/``"any"`` or a tool's name asks the server to decode only a call
        (:func:`call_schema` as the ``response_format``); ``"auto"``/``"none"``, ``parallel_tool_calls``
        and ``strict`` do not apply to calls written as text."""
        specs = tool_specs(tools)
        if isinstance(tool_choice, dict):  # OpenAI's {"type": "function", "function": {"name": …}}
            tool_choice = tool_choice.get("function", {}).get("name") or tool_choice.get("name")
        forced = None
        if isinstance(tool_choice, str) and tool_choice not in ("auto", "none"):
            forced = call_schema(specs, None if tool_choice in ("required", "any") else tool_choice)
        model = self.model_copy(update={"specs": specs, "required_call": forced})
        settings = {k: v for k, v in kwargs.items() if k not in ("parallel_tool_calls", "strict")}
        return model.bind(**settings) if settings else model

    def to_text_messages(self, messages: Sequence[BaseMessage]) -> list[BaseMessage]:
        """The conversation with tools described in the system prompt and tool turns as text."""
        out: list[BaseMessage] = []
        instructions = TEXT_TOOLS_INSTRUCTIONS.format(tools=_render_tools(self.specs)) if self.specs else ""
        names = {}
        for message in messages:
            if isinstance(message, SystemMessage):
                text = str(message.text)
                out.append(SystemMessage(f"{text}\n\n{instructions}" if instructions and text else text or instructions))
                instructions = ""
            elif isinstance(message, AIMessage) and message.tool_calls:
                calls = [{"name": c["name"], "arguments": c["args"]} for c in message.tool_calls]
                names.update({c["id"]: c["name"] for c in message.tool_calls})
                # Only the call: the original text usually holds the same JSON after a narrated plan, and
                # replaying that narration made the 1.5B model keep narrating instead of reading results.
                body = json.dumps(calls[0] if len(calls) == 1 else calls, ensure_ascii=False)
                out.append(AIMessage(f"```json\n{body}\n```"))
            elif isinstance(message, ToolMessage):
                out.append(HumanMessage(TEXT_TOOL_RESULT.format(name=names.get(message.tool_call_id, message.name or "tool"),
                                                                result=str(message.text))))
            else:
                out.append(message)
        if instructions:
            out.insert(0, SystemMessage(instructions))
        return out

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        reply = self.inner.invoke(self.to_text_messages(messages), self._child(run_manager), stop=stop,
                                  **self._forcing(kwargs))
        return ChatResult(generations=[ChatGeneration(message=self._recover(reply))])

    async def _agenerate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                         **kwargs: Any) -> ChatResult:
        reply = await self.inner.ainvoke(self.to_text_messages(messages), self._child(run_manager), stop=stop,
                                         **self._forcing(kwargs))
        return ChatResult(generations=[ChatGeneration(message=self._recover(reply))])

    def _forcing(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {"response_format": self.required_call, **kwargs} if self.required_call else kwargs

    @staticmethod
    def _child(run_manager: Any) -> dict[str, Any] | None:
        """Run the inner model as a child of this call, so callbacks see one model call, not two."""
        if run_manager is None:
            return None
        return {"callbacks": CallbackManager(handlers=run_manager.inheritable_handlers,
                                            inheritable_handlers=run_manager.inheritable_handlers,
                                            parent_run_id=run_manager.run_id)}

    def _recover(self, reply: BaseMessage) -> AIMessage:
        text = str(reply.text)
        calls = list(getattr(reply, "tool_calls", None) or []) or (parse_text_tool_calls(text, self.specs)
                                                                  if self.specs else [])
        return AIMessage(content=text, tool_calls=calls, response_metadata=getattr(reply, "response_metadata", {}),
                         usage_metadata=getattr(reply, "usage_metadata", None), id=reply.id)
