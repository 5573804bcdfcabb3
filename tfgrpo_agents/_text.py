"""Small text helpers shared by every layer (no dependencies on the rest of the package)."""

from __future__ import annotations

import re

# Scripts written without spaces (CJK ideographs, kana, hangul): one token a character.
_UNSPACED = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN_PATTERN = re.compile(rf"[{_UNSPACED}]|[^\W{_UNSPACED}]+|[^\w\s]", re.UNICODE)
_UNSPACED_CHAR = re.compile(f"[{_UNSPACED}]")
_CHARS_PER_TOKEN = 6  # a run of letters longer than this costs one token per this many characters


def _cost(piece: str) -> int:
    return max(1, -(-len(piece) // _CHARS_PER_TOKEN))


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate of the token count (words, punctuation, unspaced characters).

    Close to BPE counts for English prose and deterministic, so budgets do not depend on
    which model's tokenizer happens to be installed. Long runs of letters and text without
    spaces cost what they would cost a tokenizer, so no input slips under a budget.
    """
    return sum(_cost(match.group()) for match in _TOKEN_PATTERN.finditer(text))


def clip_to_tokens(text: str, budget: int) -> str:
    """The longest head of ``text`` that fits ``budget`` estimated tokens (whole text if it fits)."""
    used = 0
    for match in _TOKEN_PATTERN.finditer(text):
        cost = _cost(match.group())
        if used + cost > budget:
            keep = max(0, budget - used) * _CHARS_PER_TOKEN if cost > 1 else 0
            return text[: match.start() + min(keep, len(match.group()))].rstrip()
        used += cost
    return text


def word_count(text: str) -> int:
    """Words, counting each unspaced character and each 15 letters of an over-long word as one."""
    total = 0
    for word in text.split():
        unspaced = len(_UNSPACED_CHAR.findall(word))
        rest = len(word) - unspaced
        total += unspaced + (max(1, -(-rest // 15)) if rest else 0)
    return total


def clean_text(text: str) -> str:
    """``text`` without lone surrogates and control characters (tabs and newlines kept).

    A lone surrogate cannot be encoded as UTF-8, so one in a model reply would make every later
    save of that text fail.
    """
    if text.isprintable():
        return text
    text = text.encode("utf-8", errors="replace").decode("utf-8")
    return "".join(ch if ch.isprintable() or ch in "\t\n\r" else (" " if ch.isspace() else "") for ch in text)
