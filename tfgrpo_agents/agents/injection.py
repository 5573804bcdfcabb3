"""Put the rendered experience block where the model will read it."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from langchain_core.messages import AnyMessage, HumanMessage, SystemMessage


class Placement(StrEnum):
    """Where experiences go.

    ``system`` (default) appends them to the system prompt, which keeps the varying part of the
    conversation last and the prompt prefix cacheable. ``user`` appends them to the first user
    message, the placement used in the paper; it is kept for ablations.
    """

    SYSTEM = "system"
    USER = "user"


def _append_text(content: str | list, block: str) -> str | list:
    if isinstance(content, str):
        return f"{content}\n\n{block}" if content else block
    return [*content, {"type": "text", "text": block}]


def inject_experiences(
    system_message: SystemMessage | None,
    messages: Sequence[AnyMessage],
    block: str,
    placement: Placement | str = Placement.SYSTEM,
) -> tuple[SystemMessage | None, list[AnyMessage]]:
    """Return new (system message, messages) carrying ``block``; inputs are not modified.

    An empty block changes nothing. With ``user`` placement and no user message yet, the block
    falls back to the system prompt rather than being dropped.
    """
    messages = list(messages)
    if not block:
        return system_message, messages
    placement = Placement(placement)
    if placement is Placement.USER:
        for index, message in enumerate(messages):
            if isinstance(message, HumanMessage):
                messages[index] = message.model_copy(update={"content": _append_text(message.content, block)})
                return system_message, messages
    if system_message is None:
        return SystemMessage(content=block), messages
    return system_message.model_copy(update={"content": _append_text(system_message.content, block)}), messages
