"""The examples run as users would run them, against a scripted OpenAI-compatible server."""

import os
import subprocess
import sys
from pathlib import Path

from tfgrpo_agents.testing import OpenAIStub

ROOT = Path(__file__).resolve().parent.parent


def test_plug_into_create_agent_example_injects_the_saved_library():
    with OpenAIStub(["March 3"]) as stub:
        env = {**os.environ, "OPENAI_BASE_URL": stub.base_url, "OPENAI_API_KEY": "test"}
        out = subprocess.run([sys.executable, str(ROOT / "examples" / "plug_into_create_agent.py")],
                             env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "March 3"
    system = stub.requests[0]["messages"][0]
    assert system["role"] == "system"
    assert system["content"].startswith("You answer questions about websites.")
    assert "[G0] When a question asks for a deadline or date" in system["content"]


def shop_reply(body: dict) -> dict:
    """The policy and teacher behind examples/your_own_agent.py: right when the rollout's seed is even."""
    import re

    from tests.scripted_world import teacher_reply
    from tfgrpo_agents.testing import completion

    texts = [m.get("content") or "" for m in body["messages"]]
    prompt = next((t for t in texts if "[stage:" in t), None)
    if prompt is not None:
        return completion(teacher_reply(prompt))
    question = next(m["content"] for m in body["messages"] if m["role"] == "user")
    item, currency = re.search(r"a (\w+) cost in (\w+)", question).groups()
    results = [m["content"] for m in body["messages"] if m["role"] == "tool"]
    if not results:
        return completion(tool_calls=[{"name": "lookup_price", "args": {"item": item}}])
    usd = float(re.search(r"(\d+) USD", results[0]).group(1))
    if len(results) == 1 and (body.get("seed") or 0) % 2 == 0:
        return completion(tool_calls=[{"name": "convert_currency", "args": {"amount_usd": usd, "currency": currency}}])
    if len(results) == 1:
        return completion(f"It costs {usd:g}.\nFinal answer: {usd:g}")
    converted = re.search(r"= ([\d.]+)", results[1]).group(1)
    return completion(f"Final answer: {converted}")


def test_your_own_agent_example_learns_with_distinct_sampling(tmp_path):
    with OpenAIStub(reply_fn=shop_reply) as stub:
        env = {**os.environ, "OPENAI_BASE_URL": stub.base_url, "OPENAI_API_KEY": "test"}
        out = subprocess.run([sys.executable, str(ROOT / "examples" / "your_own_agent.py"), "--out", str(tmp_path / "run")],
                             env=env, capture_output=True, text=True, timeout=300)
        requests = list(stub.requests)
    assert out.returncode == 0, out.stderr[-3000:]
    policy = [r for r in requests if not any("[stage:" in (m.get("content") or "") for m in r["messages"])]
    first_calls = [r for r in policy if len(r["messages"]) == 2]  # system + question: one per rollout
    pairs = {(r.get("temperature"), r.get("seed")) for r in first_calls if r.get("seed") is not None}
    assert len(pairs) >= 3 and {t for t, _ in pairs} == {0.7}, "each rollout got its own seed at 0.7"
    assert "[G0]" in out.stdout, "a lesson was learned and injected"
    assert "Final answer: 10" in out.stdout, "the app answers with the learned library afterwards"
