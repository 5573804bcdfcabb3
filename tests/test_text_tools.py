"""Tool calls written as text by small local models become real tool calls — only valid ones."""

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool

from tests.fakes import scripted
from tfgrpo_agents.agents import build_react_agent
from tfgrpo_agents.models.text_tools import (
    TextToolCallingModel,
    parse_text_tool_calls,
    tool_specs,
)


@tool
def web_search(query: str) -> str:
    """Search the web."""
    return f"results for {query}"


@tool
def web_browse(url: str, goal: str = "") -> str:
    """Open a page."""
    return f"page {url}"


SPECS = tool_specs([web_search, web_browse])


@pytest.mark.parametrize(
    "text",
    [
        '```json\n{"name": "web_search", "arguments": {"query": "python 3.11"}}\n```',
        '{"name": "web_search", "arguments": {"query": "python 3.11"}}',
        'I will search for it. {"name": "web_search", "arguments": {"query": "python 3.11"}}',
        '{{"name": "web_search", "arguments": {"query": "python 3.11"}}}',
        '<tool_call>{"name": "web_search", "arguments": {"query": "python 3.11"}}</tool_call>',
        '{"name": "web_search", "arguments": "{\\"query\\": \\"python 3.11\\"}"}',
        '{"type": "function", "function": {"name": "web_search", "arguments": {"query": "python 3.11"}}}',
    ],
)
def test_recovers_the_formats_small_models_write(text):
    calls = parse_text_tool_calls(text, SPECS)
    assert [(c["name"], c["args"]) for c in calls] == [("web_search", {"query": "python 3.11"})]


def test_invalid_escape_in_arguments_is_repaired():
    calls = parse_text_tool_calls('{"name": "web_search", "arguments": {"query": "guido\\\'s pep"}}', SPECS)
    assert calls[0]["args"] == {"query": "guido's pep"}


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "google", "arguments": {"query": "x"}}',                      # not a bound tool
        '{"name": "web_search", "arguments": {"query": {"type": "string"}}}',   # the schema copied as arguments
        '{"name": "web_search", "arguments": {"q": "x"}}',                      # wrong argument name
        '{"name": "web_browse", "arguments": {"goal": "x"}}',                   # required argument missing
        "The answer is 42.",
        '{"answer": 42}',
    ],
)
def test_rejects_what_is_not_a_valid_call(text):
    assert parse_text_tool_calls(text, SPECS) == []


def test_conversation_is_replayed_as_text():
    model = TextToolCallingModel(inner=scripted("x")).bind_tools([web_search, web_browse])
    messages = model.to_text_messages([
        SystemMessage("You answer questions."), HumanMessage("Q?"),
        AIMessage("", tool_calls=[{"name": "web_search", "args": {"query": "q"}, "id": "c1", "type": "tool_call"}]),
        ToolMessage("hits", tool_call_id="c1"),
    ])
    assert messages[0].text.startswith("You answer questions.") and "- web_search: Search the web." in messages[0].text
    assert '"name": "web_search"' in messages[2].text and not messages[2].tool_calls
    assert isinstance(messages[3], HumanMessage) and messages[3].text == "Result of web_search:\nhits"


def test_react_episode_with_a_text_calling_model():
    inner = scripted('```json\n{"name": "web_search", "arguments": {"query": "release date"}}\n```',
                     "Final answer: 2022")
    agent = build_react_agent(TextToolCallingModel(inner=inner), [web_search, web_browse], system_prompt="Answer.")
    result = agent.invoke({"messages": [HumanMessage("When was it released?")]})
    tool_messages = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert tool_messages[0].content.startswith("results for release date")
    assert result["final_answer"] == "2022"
    second = inner.calls[1]["messages"]
    assert inner.calls[0]["tools"] == (), "the endpoint never sees OpenAI tools"
    assert second[-1].text.startswith("Result of web_search:\nresults for release date")


@pytest.mark.parametrize("use_async", [False, True])
def test_usage_is_counted_once_through_the_wrapper(use_async):
    import asyncio

    from langchain_core.messages import AIMessage as AI

    from tfgrpo_agents.learning import TrajectoryCollector

    reply = AI("hello", usage_metadata={"input_tokens": 10, "output_tokens": 2, "total_tokens": 12})
    collector = TrajectoryCollector()
    model = TextToolCallingModel(inner=scripted(reply))
    if use_async:
        asyncio.run(model.ainvoke("hi", {"callbacks": [collector]}))
    else:
        model.invoke("hi", {"callbacks": [collector]})
    assert [(u.input, u.output, u.calls) for u in collector.llm_calls] == [(10, 2, 1)]


def test_usage_is_counted_once_inside_an_async_agent():
    """Inside a graph node the inner call used to be a sibling of the outer one, and was counted too."""
    import asyncio

    from langchain_core.messages import AIMessage as AI

    from tfgrpo_agents.learning import TrajectoryCollector

    usage = {"input_tokens": 10, "output_tokens": 2, "total_tokens": 12}
    inner = scripted(AI('{"name": "web_search", "arguments": {"query": "q"}}', usage_metadata=usage),
                     AI("2022", usage_metadata=usage))
    agent = build_react_agent(TextToolCallingModel(inner=inner), [web_search], system_prompt="s", max_steps=3)
    collector = TrajectoryCollector()
    asyncio.run(agent.ainvoke({"messages": [HumanMessage("when?")]}, {"callbacks": [collector]}))
    assert [(u.input, u.output) for u in collector.llm_calls] == [(10, 2), (10, 2)]


@tool
def python_exec(code: str) -> str:
    """Run Python code and return what it prints."""
    return "ran"


def test_reasoning_then_a_python_block_is_a_call_of_the_code_tool():
    specs = tool_specs([web_search, python_exec])
    reply = ("Each year he gains 10 - 2 = 8 trees, so after 10 years 50 + 80 = 130; 30% die.\n"
             "```python\ntrees = 50 + (10 - 2) * 10\n```\nand then\n```py\nprint(trees * 0.7)\n```")
    calls = parse_text_tool_calls(reply, specs)
    assert [(c["name"], c["args"]) for c in calls] == [("python_exec", {"code": "trees = 50 + (10 - 2) * 10\nprint(trees * 0.7)"})]
    json_call = 'Let me compute.\n```json\n{"name": "python_exec", "arguments": {"code": "print(1)"}}\n```'
    assert [c["args"] for c in parse_text_tool_calls(json_call, specs)] == [{"code": "print(1)"}], "a JSON call wins"
    assert parse_text_tool_calls(reply, SPECS) == [], "no code tool bound: the block is just text"
    assert parse_text_tool_calls("The answer is 91.\n```\n91\n```", specs) == [], "a fence that is not Python"


def test_a_react_episode_runs_the_code_the_model_reasoned_into():
    inner = scripted("Quantities: 50 trees, +8 a year.\n```python\nprint((50 + 8 * 10) * 0.7)\n```", "91")
    agent = build_react_agent(TextToolCallingModel(inner=inner), [python_exec], system_prompt="Solve it.", max_steps=4)
    result = agent.invoke({"messages": [HumanMessage("How many trees?")]})
    tool_turns = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert result["final_answer"] == "91" and len(tool_turns) == 1 and tool_turns[0].text.startswith("ran")


def test_a_required_call_is_asked_of_the_server_as_a_schema_only_a_call_fits():
    import jsonschema

    from tfgrpo_agents.models.text_tools import call_schema

    forced = call_schema(SPECS)
    schema = forced["json_schema"]["schema"]
    jsonschema.validate({"name": "web_search", "arguments": {"query": "python 3.11"}}, schema)
    jsonschema.validate({"name": "web_browse", "arguments": {"url": "http://x/", "goal": "date"}}, schema)
    for wrong in ({"name": "web_search", "arguments": {}},  # a required argument missing
                  {"name": "web_fetch", "arguments": {"query": "x"}},  # not a bound tool
                  {"name": "web_search", "arguments": {"query": "x", "extra": 1}},
                  "I will search for it first."):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(wrong, schema)
    only_browse = call_schema(SPECS, "web_browse")["json_schema"]["schema"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"name": "web_search", "arguments": {"query": "x"}}, only_browse)
    with pytest.raises(ValueError, match="not a bound tool"):
        call_schema(SPECS, "web_fetch")


def test_the_first_call_is_required_over_http_and_later_calls_are_free():
    """``first_call`` reaches an OpenAI-compatible server as a ``response_format`` on the first
    request only; the reply written to it is read as the call."""
    from tfgrpo_agents.models.lean_openai import LeanChatOpenAI
    from tfgrpo_agents.testing import OpenAIStub

    replies = ['{"name": "web_search", "arguments": {"query": "release date"}}', "2022"]
    with OpenAIStub(replies) as stub:
        inner = LeanChatOpenAI(model="m", base_url=stub.base_url, api_key="x", max_retries=0)
        agent = build_react_agent(TextToolCallingModel(inner=inner), [web_search, web_browse],
                                  system_prompt="Answer.", tool_first=True, first_call="required")
        result = agent.invoke({"messages": [HumanMessage("When was it released?")]})
    first, second = stub.requests
    assert first["response_format"]["type"] == "json_schema"
    options = first["response_format"]["json_schema"]["schema"]["anyOf"]
    assert [o["properties"]["name"]["const"] for o in options] == ["web_search", "web_browse"]
    assert "response_format" not in second and "tools" not in first
    assert result["final_answer"] == "2022"
    assert [m.tool_calls[0]["name"] for m in result["messages"] if isinstance(m, AIMessage) and m.tool_calls] == \
        ["web_search"]


def test_tool_choice_auto_and_none_leave_the_reply_free():
    model = TextToolCallingModel(inner=scripted("hi"))
    assert model.bind_tools([web_search], tool_choice="auto").required_call is None
    assert model.bind_tools([web_search], tool_choice="none").required_call is None
    named = model.bind_tools([web_search, web_browse], tool_choice={"type": "function", "function": {"name": "web_browse"}})
    assert named.required_call["json_schema"]["schema"]["properties"]["name"] == {"const": "web_browse"}
