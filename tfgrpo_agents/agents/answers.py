"""Pull the final answer out of a model's last message."""

from __future__ import annotations

import re

from langchain_core.messages import BaseMessage

SET_ASIDE = "tfgrpo_set_aside"  # additional_kwargs flag: kept in the trace, left out of later prompts

_BOXED = re.compile(r"\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}")
_MARKER = re.compile(r"(?:final answer|answer)\s*[:：]\s*", re.IGNORECASE)
_TAG = re.compile(r"<answer>(.*?)</answer>", re.IGNORECASE | re.DOTALL)


def message_text(message: BaseMessage) -> str:
    """Text of a message whether its content is a string or a list of content blocks."""
    return str(message.text)


def set_aside(message: BaseMessage) -> BaseMessage:
    """The message flagged to stay in the state (the trace, the teacher) but out of later prompts."""
    return message.model_copy(update={"additional_kwargs": {**message.additional_kwargs, SET_ASIDE: True}})


def is_set_aside(message: BaseMessage) -> bool:
    return bool(message.additional_kwargs.get(SET_ASIDE))


def extract_final_answer(text: str) -> str:
    """The answer part of a reply.

    In order: the last ``<answer>…</answer>``, the last ``\\boxed{…}``, the text after the last
    "Final answer:" / "Answer:" marker (its first line), else the whole reply. Markdown emphasis
    and surrounding quotes are stripped.
    """
    text = text.strip()
    for pattern in (_TAG, _BOXED):
        found = pattern.findall(text)
        if found:
            return _clean(found[-1])
    markers = list(_MARKER.finditer(text))
    if markers:
        rest = text[markers[-1].end():].strip()
        first_line = rest.splitlines()[0] if rest else ""
        return _clean(first_line)
    return _clean(text)


def _clean(answer: str) -> str:
    answer = answer.strip().strip("*_`").strip()
    if len(answer) >= 2 and answer[0] == answer[-1] and answer[0] in "\"'":
        answer = answer[1:-1].strip()
    return answer
