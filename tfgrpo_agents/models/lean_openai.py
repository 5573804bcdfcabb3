"""``LeanChatOpenAI``: ChatOpenAI without the OpenAI SDK's request transform where it changes nothing.

The SDK walks every request's parameters against its TypedDicts before sending them (aliases,
dates, files, omitted values); for chat requests built by langchain-openai from plain JSON values
that walk returns what it was given, yet it is the largest single CPU cost of a rollout step. This
client sends such requests as they are, and anything else (a value that is not plain JSON, a stream)
through the SDK's own path. The bodies are byte-identical (``tests/test_lean_openai.py``).
"""

from __future__ import annotations

from typing import Any

from langchain_openai import ChatOpenAI
from pydantic import model_validator

_OPTION_KEYS = ("extra_headers", "extra_query", "extra_body", "timeout")


def _plain(value: Any, depth: int = 0) -> bool:
    """Only JSON's own types, all the way down (what the transform leaves as it is)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if depth > 64:
        return False
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v, depth + 1) for v in value)
    return False


class _LeanCompletions:
    """The SDK's ``chat.completions`` resource with a ``create`` that skips the transform for plain params.

    The SDK also fixes the order of the body's keys; the first request of each shape (its set of
    keys) goes through the SDK, which is watched to learn that order, and later ones are sent in it,
    so the bytes match.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._orders: dict[frozenset[str], tuple[str, ...]] = {}
        sdk_post = self._sdk_post = inner._post

        async def watched_post(path: str, *args: Any, body: Any = None, **kwargs: Any) -> Any:
            if isinstance(body, dict):
                self._orders.setdefault(frozenset(body), tuple(body))
            return await sdk_post(path, *args, body=body, **kwargs)

        inner._post = watched_post  # the SDK's own requests teach the key order
    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def create(self, **params: Any) -> Any:
        body = {k: v for k, v in params.items() if k not in _OPTION_KEYS}
        order = self._orders.get(frozenset(body))
        if params.get("stream") or order is None or not _plain(body):
            return await self._inner.create(**params)
        body = {key: body[key] for key in order}
        from openai._base_client import make_request_options
        from openai.types.chat import ChatCompletion

        options = make_request_options(**{k: params[k] for k in _OPTION_KEYS if k in params},
                                       security={"bearer_auth": True})
        return await self._sdk_post("/chat/completions", body=body, options=options, cast_to=ChatCompletion,
                                       stream=False)

    @property
    def with_raw_response(self) -> Any:
        from openai._legacy_response import async_to_raw_response_wrapper

        lean = self

        class _Raw:
            create = staticmethod(async_to_raw_response_wrapper(lean.create))

            def __getattr__(self, name: str) -> Any:
                return getattr(lean._inner.with_raw_response, name)

        return _Raw()


class LeanChatOpenAI(ChatOpenAI):
    """``ChatOpenAI`` whose async chat calls skip the SDK's no-op request transform (see the module)."""

    @model_validator(mode="after")
    def _lean_async_client(self) -> LeanChatOpenAI:
        if self.async_client is not None and not isinstance(self.async_client, _LeanCompletions):
            self.async_client = _LeanCompletions(self.async_client)
        return self
