"""Chat models for any OpenAI-compatible endpoint, or the embedded model started once per process."""

from __future__ import annotations

import atexit
import os
from typing import Any

from langchain_core.language_models import BaseChatModel

_LOCAL_SERVERS: dict[str, Any] = {}
_LIMITERS: dict[str, Any] = {}  # one rate limiter per endpoint, shared by the policy, the teacher and the judge


def chat_model(model: str, base_url: str | None = None, *, temperature: float = 0.0, timeout: float = 120.0,
               max_retries: int = 3, requests_per_second: float | None = None,
               max_tokens: int | None = None) -> BaseChatModel:
    """A chat model at an OpenAI-compatible endpoint (key from ``OPENAI_API_KEY``); ``local`` /
    ``local-0.5b`` without a ``base_url`` start the embedded model (once per process, stopped at exit).

    Raises :class:`~tfgrpo_agents.models.local_model.LocalModelError` when the embedded model
    cannot start.
    """
    from tfgrpo_agents.models.lean_openai import LeanChatOpenAI
    from tfgrpo_agents.models.local_model import LOCAL_MODELS, LlamaServer

    if model in LOCAL_MODELS and base_url is None:
        if model not in _LOCAL_SERVERS:
            _LOCAL_SERVERS[model] = LlamaServer.for_rollouts(model).start()
        extra = {"max_tokens": max_tokens} if max_tokens else {}
        return _LOCAL_SERVERS[model].chat_model(temperature=temperature, timeout=timeout, **extra)
    limiter = None
    if requests_per_second:
        from langchain_core.rate_limiters import InMemoryRateLimiter

        limiter = _LIMITERS.setdefault(base_url or "", InMemoryRateLimiter(
            requests_per_second=requests_per_second, max_bucket_size=max(1.0, requests_per_second)))
    return LeanChatOpenAI(model=model, base_url=base_url, temperature=temperature,
                          api_key=os.environ.get("OPENAI_API_KEY") or "not-needed", timeout=timeout,
                          max_retries=max_retries, rate_limiter=limiter, max_tokens=max_tokens)


def stop_local_models() -> None:
    """Stop every embedded model server this process started."""
    for server in list(_LOCAL_SERVERS.values()):
        server.stop()
    _LOCAL_SERVERS.clear()


atexit.register(stop_local_models)
