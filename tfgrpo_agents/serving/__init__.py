"""Serving on LangGraph Server: a learner graph that publishes into the server's store, and
rollouts against an agent the server runs (``RemoteGraph``)."""

from tfgrpo_agents.serving.learner import (
    LearnerError,
    LearnerState,
    LearnOutcome,
    LearnRequest,
    build_learner_graph,
)

__all__ = ["LearnOutcome", "LearnRequest", "LearnerError", "LearnerState", "build_learner_graph"]
