"""Small text helpers shared by every layer (no dependencies on the rest of the package)."""

from __future__ import annotations

import re

_TOKEN_PATTERN = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate of the token count (words and punctuation marks).

    Close to BPE counts for English prose and deterministic, so budgets do not depend on
    which model's tokenizer happens to be installed.
    """
    return len(_TOKEN_PATTERN.findall(text))
