"""The graphs `langgraph.json` serves: the shop agent reading its library from the server's store,
a learner that learns for it and publishes each step into that store, and the agent's twin that a
learner elsewhere drives through RemoteGraph (`tfgrpo_agents.serving.remote_agent_factory`).

    pip install -e ".[server]"
    OPENAI_BASE_URL=... OPENAI_API_KEY=... OPENAI_MODEL=... langgraph dev --config langgraph.json

Send the learner ``{"request": {"tasks": [...], "agent": "your_own_agent:make_agent", "model": "..."}}``;
every agent run after a step is published answers with the new lessons (read per model call, cached
by version, so an unchanged library costs one small read).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # the server loads this file by path; your_own_agent sits beside it

from your_own_agent import make_agent  # noqa: E402

from tfgrpo_agents.experience import RequestSource, StoreSource  # noqa: E402
from tfgrpo_agents.serving import build_learner_graph  # noqa: E402

SHOP_NAMESPACE = ("tfgrpo", "shop")

agent = make_agent(StoreSource(namespace=SHOP_NAMESPACE))
# The same app for a learner's RemoteGraph rollouts: each run may carry its step's library
# (RequestSource); it lets the caller set the lessons block, so it is not for end users.
agent_rollouts = make_agent(RequestSource(StoreSource(namespace=SHOP_NAMESPACE)))
learner = build_learner_graph(namespace=SHOP_NAMESPACE, python_path=[str(HERE)])
