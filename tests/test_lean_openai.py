"""LeanChatOpenAI sends byte-identical chat requests without the OpenAI SDK's request transform."""

import asyncio
import json

import httpx2
import openai.resources.chat.completions.completions as sdk_completions
import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from tfgrpo_agents.models.lean_openai import LeanChatOpenAI

REPLY = {"id": "c1", "object": "chat.completion", "created": 1, "model": "m",
         "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Final answer: 4"}}],
         "usage": {"prompt_tokens": 11, "completion_tokens": 3, "total_tokens": 14}}
CONVERSATION = [SystemMessage("Use the tool."), HumanMessage("What is 2 + 2?"),
                AIMessage("", tool_calls=[{"name": "add", "args": {"a": 2, "b": 2}, "id": "call_1"}]),
                ToolMessage("4", tool_call_id="call_1", name="add")]


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@pytest.fixture
def transforms(monkeypatch):
    """How often the SDK's create ran its request transform."""
    calls = []
    original = sdk_completions.async_maybe_transform

    async def counting(*args, **kwargs):
        calls.append(1)
        return await original(*args, **kwargs)

    monkeypatch.setattr(sdk_completions, "async_maybe_transform", counting)
    return calls


def requests_of(model_class, prepare, transforms, times=3):
    """The bytes and headers of ``times`` identical calls on one model, and the transforms each cost."""
    captured, costs = [], []

    def handler(request):
        headers = {k: v for k, v in request.headers.items() if k.lower() != "x-stainless-read-timeout"}
        captured.append((request.content, headers))
        return httpx2.Response(200, json=REPLY)

    async def run():
        client = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
        model = prepare(model_class(model="m", api_key="k", base_url="http://stub.test/v1", http_async_client=client,
                                    max_retries=0))
        replies = []
        for _ in range(times):
            before = len(transforms)
            replies.append(await model.ainvoke(CONVERSATION))
            costs.append(len(transforms) - before)
        return replies

    return captured, costs, asyncio.run(run())


@pytest.mark.parametrize("prepare", [
    lambda m: m,
    lambda m: m.bind(temperature=0.7, seed=12345, stop=["\n\n"], max_tokens=64),
    lambda m: m.bind_tools([add], tool_choice="auto"),
    lambda m: m.bind(user="u-1", logit_bias={"50256": -100}, top_p=0.9, presence_penalty=0.5, n=1),
], ids=["plain", "sampling", "tools", "more options"])
def test_requests_are_byte_identical_and_skip_the_transform_after_the_first(prepare, transforms):
    usual, usual_costs, usual_replies = requests_of(ChatOpenAI, prepare, transforms)
    lean, lean_costs, lean_replies = requests_of(LeanChatOpenAI, prepare, transforms)
    assert usual_costs == [1, 1, 1] and lean_costs == [1, 0, 0]  # the first of a shape learns the key order
    assert lean == usual and json.loads(lean[1][0])["messages"][3]["role"] == "tool"
    assert [r.content for r in lean_replies] == [r.content for r in usual_replies] == ["Final answer: 4"] * 3
    assert lean_replies[2].usage_metadata == usual_replies[2].usage_metadata


def test_a_value_that_is_not_plain_json_goes_through_the_sdk(transforms):
    lean, costs, _ = requests_of(LeanChatOpenAI, lambda m: m.bind(logit_bias={50256: -100}), transforms)
    assert costs == [1, 1, 1] and json.loads(lean[2][0])["logit_bias"] == {"50256": -100}
