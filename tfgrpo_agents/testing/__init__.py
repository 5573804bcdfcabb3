"""Test support that users can use too: a scripted OpenAI-compatible chat-completions server on
127.0.0.1, for testing an agent or a learning run the way it will be called (``base_url``)."""

from tfgrpo_agents.testing.openai_stub import OpenAIStub, completion

__all__ = ["OpenAIStub", "completion"]
