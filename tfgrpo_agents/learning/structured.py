"""Ask a teacher model for JSON that fits a pydantic schema, tolerantly and with bounded retries.

Small local teachers wrap JSON in fences, add prose, use invalid escapes or stray braces; a parser
that gives up on those wastes the call. Order of attempts: the endpoint's own structured output
(when a method is configured), then a tolerant parse (json-repair) of the raw text, then a re-ask
that says what was wrong.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import json_repair
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel, ValidationError

from tfgrpo_agents._text import clean_text
from tfgrpo_agents.errors import TfgrpoError
from tfgrpo_agents.prompts import FIX_JSON_PROMPT

logger = logging.getLogger(__name__)

Schema = TypeVar("Schema", bound=BaseModel)
Method = Literal["text", "json_mode", "json_schema", "function_calling"]


class StructuredCallError(TfgrpoError):
    """The teacher never produced a usable reply within the allowed attempts."""


def parse_tolerantly(text: str, schema: type[Schema], *, list_field: str | None = None,
                     line_item: Callable[[str], bool] | None = None) -> Schema:
    """Parse ``text`` into ``schema``: fences, prose around the JSON, bad escapes are all repaired.

    A bare JSON list is accepted for schemas with a single list field (``list_field``); so are plain
    lines of text that ``line_item`` recognises as items, when the field holds strings.
    """
    try:
        data = json_repair.loads(text or "")
    except RecursionError as exc:  # "[[[[…": json-repair recurses once per bracket
        raise ValueError("the reply nests brackets too deeply to be JSON; write one flat JSON object") from exc
    if isinstance(data, list) and list_field:
        data = {list_field: data}
    if not isinstance(data, dict) and list_field and line_item and _holds_strings(schema, list_field):
        # A small model asked for {"lessons": [...]} sometimes writes the sentences as plain lines.
        lines = [_LIST_MARK.sub("", line).strip().strip('"') for line in (text or "").splitlines()]
        items = [line for line in lines if line and line_item(line)]
        data = {list_field: items} if items else None
    if not isinstance(data, dict):
        raise ValueError("no JSON object found in the reply")
    return schema.model_validate(data)


_LIST_MARK = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")


def _holds_strings(schema: type[BaseModel], field: str) -> bool:
    info = schema.model_fields.get(field)
    return info is not None and info.annotation == list[str]


def call_structured(
    model: BaseChatModel,
    prompt: str,
    schema: type[Schema],
    *,
    method: Method = "text",
    retries: int = 2,
    config: RunnableConfig | None = None,
    list_field: str | None = None,
    validate: Callable[[Schema], str | None] | None = None,
    line_item: Callable[[str], bool] | None = None,
) -> tuple[Schema, str]:
    """The parsed reply and its raw text. ``validate`` may return a problem to re-ask about.

    Raises :class:`StructuredCallError` after ``retries`` re-asks.
    """
    messages: list[BaseMessage] = [HumanMessage(prompt)]
    problem = "no attempt made"
    for attempt in range(retries + 1):
        raw_text, parsed, truncated = _ask(model, messages, schema, method, config)
        try:
            result = parsed if parsed is not None else parse_tolerantly(raw_text, schema, list_field=list_field,
                                                                             line_item=line_item)
            if truncated and list_field:
                # A reply cut at the token limit (a small model repeating itself) ends in a half-written
                # item that the repair closed; the items before it are whole.
                setattr(result, list_field, getattr(result, list_field)[:-1])
            problem = validate(result) if validate else None
            if problem is None:
                return result, raw_text
        except (ValueError, ValidationError) as exc:
            problem = _short(exc)
        logger.info("teacher reply unusable (attempt %d/%d): %s; it began: %r", attempt + 1, retries + 1, problem,
                    (raw_text or "")[:300])
        messages = [*messages, AIMessage(raw_text or "(empty)"), HumanMessage(FIX_JSON_PROMPT.format(problem=problem))]
    raise StructuredCallError(f"no usable reply after {retries + 1} attempts; last problem: {problem}")


def _ask(model: BaseChatModel, messages: list[BaseMessage], schema: type[Schema], method: Method,
         config: RunnableConfig | None) -> tuple[str, Schema | None, bool]:
    """The reply's text, its parsed form when the endpoint parsed it, and whether it hit the token limit."""
    if method != "text":
        try:
            structured = model.with_structured_output(schema, method=method, include_raw=True)
            out: dict[str, Any] = structured.invoke(messages, config)
            raw = out.get("raw")
            return (clean_text(str(raw.text)) if raw is not None else ""), out.get("parsed"), _truncated(raw)
        except NotImplementedError:
            logger.info("model has no structured output; parsing text replies instead")
    reply = model.invoke(messages, config)
    return clean_text(str(reply.text)), None, _truncated(reply)


def _truncated(reply: BaseMessage | None) -> bool:
    return reply is not None and reply.response_metadata.get("finish_reason") == "length"


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(exc)
