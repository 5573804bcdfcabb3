"""Reply caps: a chat model whose ``max_tokens`` is lowered for one stage of work."""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel


def capped(model: BaseChatModel, max_tokens: int | None) -> BaseChatModel:
    """``model`` with its reply cap lowered to ``max_tokens``, where it has one to set.

    Chat models with a ``max_tokens`` field (ChatOpenAI and most providers) are copied, sharing their
    HTTP clients; a wrapper (the text tool-call adapter) gets its inner model capped; others are used
    as they are.
    """
    if max_tokens is None:
        return model
    if "max_tokens" not in type(model).model_fields:
        inner = {name: value for name in type(model).model_fields
                 if isinstance(value := getattr(model, name, None), BaseChatModel)}
        return model.model_copy(update={name: capped(value, max_tokens) for name, value in inner.items()}) \
            if inner else model
    current = getattr(model, "max_tokens", None)
    if current is not None and current <= max_tokens:
        return model
    return model.model_copy(update={"max_tokens": max_tokens})
