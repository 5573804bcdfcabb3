"""Synchronous entry points share one event loop, so a pooled OpenAI client survives between runs."""

from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from tfgrpo_agents._async import run_sync
from tfgrpo_agents.agents import build_react_agent
from tfgrpo_agents.evaluation import EvalConfig, EvalSettings, evaluate
from tfgrpo_agents.learning import ExactMatchGrader, Task
from tfgrpo_agents.testing import OpenAIStub, completion


@tool
def lookup(key: str) -> str:
    """Look a key up."""
    return "42"


def reply(body: dict) -> dict:
    if body["messages"][-1]["role"] == "tool":
        return completion("42")
    return completion(tool_calls=[{"name": "lookup", "args": {"key": "k"}}])


def test_two_runs_in_a_row_reuse_the_loop_and_the_pooled_client(tmp_path):
    with OpenAIStub(reply_fn=reply) as stub:
        model = ChatOpenAI(model="stub-model", base_url=stub.base_url, api_key="x", max_retries=0)
        agent = build_react_agent(model, [lookup], system_prompt="Use the tool.", max_steps=3)
        tasks = [Task(id=f"t{i}", question=f"q{i}", answer="42") for i in range(4)]
        settings = EvalSettings(k=1, concurrency=4, retries=0)
        for run in ("first", "second"):  # with asyncio.run each time, the second failed: "Event loop is closed"
            _, trajectories = run_sync(evaluate(lambda lib, placement: agent, EvalConfig(name=run), tasks,
                                                ExactMatchGrader(), settings, tmp_path))
            assert [t.error for t in trajectories] == [None] * 4
            assert [t.reward for t in trajectories] == [1.0] * 4
        assert len(stub.requests) == 16, "the model nodes ran async: every rollout made its two calls"
