"""`langgraph dev` serving langgraph.json on loopback: the served agent reads its library from the
server's store, and the served learner (learning in a child process) publishes each step there;
the next request to the agent shows the new lessons."""

import json
import sys
from pathlib import Path

import pytest

from tests.test_examples import shop_reply
from tfgrpo_agents.testing import OpenAIStub

pytest.importorskip("langgraph_api", reason="langgraph dev needs the server extra: pip install -e '.[server]'")

from langgraph_sdk import get_sync_client  # noqa: E402

from tfgrpo_agents.testing.langgraph_dev import LangGraphDev  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "What does a lamp cost in GBP?"


def shop_tasks() -> list[dict]:
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        from your_own_agent import tasks
    finally:
        sys.path.remove(str(ROOT / "examples"))
    return [t.model_dump(mode="json") for t in tasks()]


def system_prompt_of_last_question(stub) -> str:
    asked = [r for r in stub.requests if any(m.get("content") == QUESTION for m in r["messages"])]
    return next(m["content"] for m in asked[-1]["messages"] if m["role"] == "system")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("served")
    with OpenAIStub(reply_fn=shop_reply) as stub:
        env = {"OPENAI_BASE_URL": stub.base_url, "OPENAI_API_KEY": "test", "OPENAI_MODEL": "m"}
        with LangGraphDev(ROOT / "langgraph.json", workdir, env=env) as server:
            yield stub, get_sync_client(url=server.url), server


def test_the_served_agent_answers_with_the_lessons_the_served_learner_published(served):
    stub, client, server = served
    ask = {"messages": [{"role": "user", "content": QUESTION}]}
    before = client.runs.wait(None, "agent", input=ask)
    assert "Final answer" in before["messages"][-1]["content"], server.log[-3000:]
    assert "lesson" not in system_prompt_of_last_question(stub).lower()

    request = {"tasks": shop_tasks(), "agent": "your_own_agent:make_agent", "model": "m",
               "base_url": stub.base_url, "grader": "your_own_agent:reward", "group_size": 3, "epochs": 1,
               "batch_size": 2, "run_name": "shop-1"}
    chunks = list(client.runs.stream(None, "learner", input={"request": request}, stream_mode=["custom", "values"]))
    published = [c.data for c in chunks if c.event == "custom"]
    final = [c.data for c in chunks if c.event == "values"][-1]
    assert "outcome" in final, json.dumps([c.data for c in chunks])[-3000:] + server.log[-3000:]
    outcome = final["outcome"]
    assert outcome["published"] == [1, 2] and [p["step"] for p in published] == [1, 2]
    assert outcome["experiences"] and outcome["library_step"] == 2

    current = client.store.get_item(["tfgrpo", "shop", "library"], "current")
    assert [e["text"] for e in current["value"]["library"]["experiences"]] == outcome["experiences"]
    client.runs.wait(None, "agent", input=ask)
    prompt = system_prompt_of_last_question(stub)
    assert all(text in prompt for text in outcome["experiences"])


def test_a_failing_learn_request_reports_the_reason(served):
    stub, client, server = served
    request = {"tasks": shop_tasks(), "agent": "no_such_module:make", "model": "m", "base_url": stub.base_url,
               "run_name": "broken"}
    thread = client.threads.create()
    run = client.runs.create(thread["thread_id"], "learner", input={"request": request})
    client.runs.join(thread["thread_id"], run["run_id"])
    status = client.runs.get(thread["thread_id"], run["run_id"])
    assert status["status"] == "error"
    state = client.threads.get(thread["thread_id"])
    assert "no_such_module" in json.dumps(state.get("error") or state), json.dumps(state)[-2000:]


def test_a_local_learner_drives_the_served_agent_through_remote_graph(served, tmp_path):
    from langchain_openai import ChatOpenAI

    from tfgrpo_agents.learning import (
        LearnSettings,
        Task,
        TrainingFreeGRPO,
        read_trajectories,
    )
    from tfgrpo_agents.serving import remote_agent_factory

    stub, client, server = served
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        from your_own_agent import reward
    finally:
        sys.path.remove(str(ROOT / "examples"))
    teacher = ChatOpenAI(model="m", base_url=stub.base_url, api_key="test", temperature=0)
    learner = TrainingFreeGRPO(agent_factory=remote_agent_factory(server.url, "agent_rollouts"), teacher=teacher,
                               grader=reward, run_dir=tmp_path / "run",
                               settings=LearnSettings(group_size=3, epochs=1, batch_size=2, concurrency=3,
                                                      domain="shop", model_id="m"))
    result = learner.fit([Task.model_validate(t) for t in shop_tasks()])
    assert [r.step for r in result.reports] == [1, 2] and result.library.experiences
    first = read_trajectories(tmp_path / "run" / "steps" / "step-0001" / "trajectories.jsonl")
    assert len(first) == 6 and not any(t.failed for t in first)
    assert all(t.tool_calls and t.tool_calls[0].name == "lookup_price" for t in first)
    assert len({t.reward for t in first}) > 1  # the group's rollouts differ: the sampling reached the server
    step_one = result.library.at_step(1).texts()
    second = read_trajectories(tmp_path / "run" / "steps" / "step-0002" / "trajectories.jsonl")
    served_prompts = [next(m["content"] for m in r["messages"] if m["role"] == "system") for r in stub.requests
                      if any(m.get("content") in {t.question for t in second} for m in r["messages"])]
    assert served_prompts and all(text in prompt for prompt in served_prompts for text in step_one)
