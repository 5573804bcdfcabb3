"""Serving on LangGraph Server: a learner graph that publishes into the server's store, and
rollouts against an agent the server runs (``RemoteGraph``)."""

from tfgrpo_agents.serving.learner import (
    LearnerError,
    LearnerState,
    LearnOutcome,
    LearnRequest,
    build_learner_graph,
)
from tfgrpo_agents.serving.remote import RemoteAgent, remote_agent_factory

__all__ = ["LearnOutcome", "LearnRequest", "LearnerError", "LearnerState", "RemoteAgent", "build_learner_graph",
           "remote_agent_factory"]
