"""How a learner's per-rollout sampling (temperature, seed) reaches any agent's model calls.

A group of G rollouts only carries signal if its rollouts differ, so the learner sends each one
its own temperature and seed in the run's config, under ``configurable["tfgrpo_sampling"]``
(and, for older agents of ours, ``configurable["model_kwargs"]``). Who reads it:

* ``create_agent`` apps: :class:`ExperienceMiddleware` applies it to every model call (as
  ``model_settings``, which the chat model is bound with); an app that injects no library adds
  :class:`SamplingMiddleware` instead;
* a custom ``StateGraph``: call :func:`sampling_settings` on the node's ``config`` and pass the
  result to the model (``model.bind(**sampling_settings(config))``);
* the package's ReAct agent reads it itself.

Outside a learning or evaluation run the key is absent and nothing changes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.runnables import RunnableConfig

SAMPLING_KEY = "tfgrpo_sampling"
LEGACY_KEY = "model_kwargs"


def sampling_configurable(temperature: float | None, seed: int | None) -> dict[str, Any]:
    """The ``configurable`` entries that carry one rollout's sampling."""
    settings = {key: value for key, value in (("temperature", temperature), ("seed", seed)) if value is not None}
    return {SAMPLING_KEY: settings, LEGACY_KEY: dict(settings)}


def sampling_settings(config: Mapping[str, Any] | RunnableConfig | None = None) -> dict[str, Any]:
    """The model arguments (``temperature``, ``seed``) the current run asks for; ``{}`` outside a rollout.

    Without ``config``, the config of the running LangGraph node or Runnable is used.
    """
    if config is None:
        try:
            from langgraph.config import get_config

            config = get_config()
        except RuntimeError:  # not inside a runnable
            return {}
    configurable = (config or {}).get("configurable") or {}
    return dict(configurable.get(SAMPLING_KEY) or configurable.get(LEGACY_KEY) or {})


def with_sampling(request: ModelRequest) -> ModelRequest:
    """``request`` with the run's sampling merged into its model settings (the run wins)."""
    settings = sampling_settings()
    if not settings:
        return request
    return request.override(model_settings={**request.model_settings, **settings})


class SamplingMiddleware(AgentMiddleware):
    """Apply the learner's per-rollout temperature and seed to a ``create_agent`` app's model calls.

    Only needed by apps without :class:`ExperienceMiddleware`, which does the same.
    """

    def wrap_model_call(self, request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]) -> Any:
        return handler(with_sampling(request))

    async def awrap_model_call(
        self, request: ModelRequest, handler: Callable[[ModelRequest], Awaitable[ModelResponse]]
    ) -> Any:
        return await handler(with_sampling(request))
