"""Our ReAct graph: tool calls to a final answer, step limit, tool errors, injection."""

import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import tool

from tests.fakes import scripted, tool_call
from tfgrpo_agents.agents import (
    Placement,
    build_react_agent,
    extract_final_answer,
    is_set_aside,
)
from tfgrpo_agents.experience import ExperienceLibrary
from tfgrpo_agents.learning.domains import DOMAINS
from tfgrpo_agents.prompts import FORCE_FINAL_ANSWER, USE_A_TOOL_FIRST


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def fetch(url: str) -> str:
    """Fetch a page."""
    raise ConnectionError(f"cannot reach {url}")


def ask(agent, question="What is 2 + 3?"):
    return agent.invoke({"messages": [HumanMessage(question)]})


def test_tool_call_then_final_answer():
    model = scripted(tool_call("add", {"a": 2, "b": 3}), "The sum is computed.\nFinal answer: 5")
    agent = build_react_agent(model, [add], system_prompt="Use tools.")
    result = ask(agent)
    tool_messages = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert [m.content for m in tool_messages] == [
        "5\n\nQuestion: What is 2 + 3?\nReply with just the answer, or call one different tool."]
    assert result["final_answer"] == "5"
    assert result["steps"] == 2 and not result.get("forced_final")
    assert model.calls[0]["tools"] == ("add",)
    assert isinstance(model.calls[1]["messages"][-1], ToolMessage), "the model sees the tool result"


def test_step_limit_forces_an_answer_without_tools():
    replies = [tool_call("add", {"a": i, "b": 1}, call_id=f"c{i}") for i in range(3)] + ["Answer: 3"]
    model = scripted(*replies)
    agent = build_react_agent(model, [add], max_steps=3)
    result = ask(agent)
    assert result["forced_final"] is True
    assert result["final_answer"] == "3"
    assert len(model.calls) == 4
    last_call = model.calls[-1]
    assert last_call["tools"] == (), "the forced final turn has no tools bound"
    assert last_call["messages"][-1].text == FORCE_FINAL_ANSWER


def test_forced_turn_that_still_calls_a_tool_ends_anyway():
    model = scripted(tool_call("add", {"a": 1, "b": 1}), tool_call("add", {"a": 1, "b": 1}, content="maybe 2"))
    result = ask(build_react_agent(model, [add], max_steps=1))
    assert result["final_answer"] == "maybe 2"
    assert not result["messages"][-1].tool_calls


def test_tool_errors_become_messages_and_the_run_goes_on():
    model = scripted(tool_call("fetch", {"url": "http://x.invalid"}), "Final answer: unknown")
    result = ask(build_react_agent(model, [fetch]), "Fetch it")
    error = next(m for m in result["messages"] if isinstance(m, ToolMessage))
    assert error.status == "error" and "cannot reach http://x.invalid" in error.content
    assert result["final_answer"] == "unknown"


@pytest.mark.parametrize("placement", [Placement.SYSTEM, Placement.USER])
def test_experiences_reach_the_model_on_every_call(placement):
    library = ExperienceLibrary.from_texts(["Use the add tool for sums."])
    model = scripted(tool_call("add", {"a": 2, "b": 3}), "Final answer: 5")
    ask(build_react_agent(model, [add], system_prompt="Base.", experiences=library, placement=placement))
    for call in model.calls:
        system, question = call["messages"][0], call["messages"][1]
        target = system if placement is Placement.SYSTEM else question
        other = question if placement is Placement.SYSTEM else system
        assert "[G0] Use the add tool for sums." in target.text
        assert "[G0]" not in other.text


def test_agent_without_tools_answers_directly():
    model = scripted("<answer>42</answer>")
    result = ask(build_react_agent(model, [], system_prompt="Base."))
    assert result["final_answer"] == "42" and len(model.calls) == 1


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Final answer: **March 3, 2025**", "March 3, 2025"),
        ("I think... Answer: 12\nBecause reasons", "12"),
        ("so the result is \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
        ("<answer> Alice </answer>", "Alice"),
        ('"Paris"', "Paris"),
        ("  plain reply  ", "plain reply"),
    ],
)
def test_extract_final_answer(reply, expected):
    assert extract_final_answer(reply) == expected


def test_max_steps_must_be_positive():
    with pytest.raises(ValueError):
        build_react_agent(scripted("x"), [add], max_steps=0)


def test_loop_guard_does_not_rerun_a_repeated_call():
    calls = []

    @tool
    def search(query: str) -> str:
        """Search."""
        calls.append(query)
        return f"hits for {query}"

    model = scripted(tool_call("search", {"query": "x"}, call_id="a"), tool_call("search", {"query": "x"}, call_id="b"),
                     tool_call("search", {"query": "y"}, call_id="c"), "Final answer: done")
    result = ask(build_react_agent(model, [search], tool_result_footer=False), "Find x")
    tool_messages = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert calls == ["x", "y"], "the identical second call was not executed"
    assert tool_messages[1].content.startswith("You already called search with these arguments")
    assert tool_messages[2].content == "hits for y"


def test_empty_reply_gets_one_forced_answer_turn():
    model = scripted("", "Final answer: 7")
    result = ask(build_react_agent(model, [add]))
    assert result["final_answer"] == "7" and result["forced_final"] is True
    assert model.calls[1]["tools"] == () and model.calls[1]["messages"][-1].text == FORCE_FINAL_ANSWER


def test_tool_first_reminds_a_model_that_narrates_instead_of_calling():
    model = scripted("First I will open the site, then look for the date.", tool_call("add", {"a": 1, "b": 2}),
                     "Final answer: 3")
    result = ask(build_react_agent(model, [add], tool_first=True, tool_result_footer=False))
    assert result["final_answer"] == "3"
    assert model.calls[1]["messages"][-1].text.startswith("You have not used a tool yet.")
    assert [m.content for m in result["messages"] if isinstance(m, ToolMessage)] == ["3"]


def test_forget_guess_asks_again_without_the_answer_written_from_memory():
    model = scripted("The answer is 7.", tool_call("add", {"a": 1, "b": 2}), "Final answer: 3")
    result = ask(build_react_agent(model, [add], tool_first=True, forget_guess=True, tool_result_footer=False))
    assert result["final_answer"] == "3"
    retry, after_tool = model.calls[1]["messages"], model.calls[2]["messages"]
    assert [m.text for m in retry] == ["What is 2 + 3?", USE_A_TOOL_FIRST], "the retry does not see its guess"
    assert all("7" not in m.text for m in after_tool), "nor does any later call"
    set_aside = [m.text for m in result["messages"] if is_set_aside(m)]
    assert set_aside == ["The answer is 7.", USE_A_TOOL_FIRST], "the trace keeps it, marked"


def test_forget_guess_keeps_the_first_reply_when_the_retry_calls_no_tool_either():
    model = scripted("It is 5.", "Still 5.")
    result = ask(build_react_agent(model, [add], tool_first=True, forget_guess=True))
    assert result["final_answer"] == "It is 5."
    assert not any(is_set_aside(m) for m in result["messages"])


def test_the_web_domain_forgets_a_guess_and_math_keeps_its_reasoning():
    for domain, retry_sees_reply in (("web", False), ("math", True)):
        model = scripted("Reasoning: 2 + 3 = 5.", tool_call("add", {"a": 2, "b": 3}), "5")
        DOMAINS[domain].build_agent(model, [add]).invoke({"messages": [HumanMessage("What is 2 + 3?")]})
        retry_texts = [m.text for m in model.calls[1]["messages"]]
        assert ("Reasoning: 2 + 3 = 5." in retry_texts) is retry_sees_reply, domain


def test_a_bare_first_answer_is_set_aside_and_the_reasoning_asked_for():
    """Observed with the 1.5B math agent and an answer-format lesson: it answered "50" at once, was told
    to call a tool "without describing steps", and printed its guess."""
    reason = "Reason first, then call add."
    model = scripted("50", "We need 2 + 3:\nthe sum of both.", tool_call("add", {"a": 2, "b": 3}), "5")
    result = ask(build_react_agent(model, [add], tool_first=True, reason_reminder=reason, tool_result_footer=False))
    assert result["final_answer"] == "5"
    assert [m.text for m in model.calls[1]["messages"]] == ["What is 2 + 3?", reason], "asked without its guess"
    assert [m.text for m in model.calls[2]["messages"]] == [
        "What is 2 + 3?", "We need 2 + 3:\nthe sum of both.", USE_A_TOOL_FIRST], "then reminded, reasoning kept"
    assert all("50" not in m.text for m in model.calls[3]["messages"])
    assert [m.text for m in result["messages"] if is_set_aside(m)] == ["50", reason]

    # reasoning at once (several lines) goes the usual way; so does a bare answer without the option
    model = scripted("We need 2 + 3:\nthe sum.", tool_call("add", {"a": 2, "b": 3}), "5")
    ask(build_react_agent(model, [add], tool_first=True, reason_reminder=reason))
    assert model.calls[1]["messages"][-1].text == USE_A_TOOL_FIRST
    model = scripted("50", tool_call("add", {"a": 2, "b": 3}), "5")
    ask(build_react_agent(model, [add], tool_first=True))
    assert [m.text for m in model.calls[1]["messages"]] == ["What is 2 + 3?", "50", USE_A_TOOL_FIRST]
    assert DOMAINS["math-reason"].reason_reminder and not DOMAINS["math"].reason_reminder


def test_without_tool_first_a_narrated_reply_is_the_answer():
    model = scripted("I would use the add tool.")
    assert ask(build_react_agent(model, [add]))["final_answer"] == "I would use the add tool."


def test_the_teacher_still_reads_the_guess_that_was_set_aside():
    from langchain_core.messages import messages_to_dict

    from tfgrpo_agents.learning import Trajectory
    from tfgrpo_agents.learning.reflection import render_transcript

    model = scripted("Guido van Rossum.", tool_call("add", {"a": 1, "b": 2}), "3")
    result = ask(build_react_agent(model, [add], tool_first=True, forget_guess=True))
    trace = Trajectory(task_id="t", sample=0, question="q", messages=messages_to_dict(result["messages"]))
    lines = render_transcript(trace).splitlines()
    assert lines[0] == "1. answered before using a tool (set aside, asked again): Guido van Rossum."
    assert lines[1].startswith('2. called add({"a": 1, "b": 2})')


def test_each_node_step_is_one_run_in_the_trace():
    """A node is recorded once, as LangGraph's own run, and the model call nests directly under it."""
    from langchain_core.callbacks import BaseCallbackHandler

    class Runs(BaseCallbackHandler):
        def __init__(self):
            self.runs = {}

        def on_chain_start(self, serialized, inputs, *, run_id, parent_run_id=None, **kw):
            self.runs[run_id] = (kw.get("name"), parent_run_id)

        def on_chat_model_start(self, serialized, messages, *, run_id, parent_run_id=None, **kw):
            self.runs[run_id] = ("chat_model", parent_run_id)

    runs = Runs()
    model = scripted(tool_call("add", {"a": 2, "b": 3}), "Final answer: 5")
    agent = build_react_agent(model, [add])
    agent.invoke({"messages": [HumanMessage("What is 2 + 3?")]}, {"callbacks": [runs]})
    names = [name for name, _ in runs.runs.values()]
    assert names.count("agent") == 2 and names.count("tools") == 1, names
    for name, parent in runs.runs.values():
        if name == "chat_model":
            assert runs.runs[parent][0] == "agent", "the model call's parent is the agent step itself"


def test_first_call_binds_only_the_first_model_call_to_that_tool():
    model = scripted(tool_call("add", {"a": 2, "b": 3}), "Final answer: 5")
    result = ask(build_react_agent(model, [add], first_call="add"))
    assert [c["tool_choice"] for c in model.calls] == ["add", None]
    assert result["final_answer"] == "5"
    with pytest.raises(ValueError, match="not one of the agent's tools"):
        build_react_agent(model, [add], first_call="web_search")


def test_the_web_set_up_searches_first_and_falls_back_to_any_tool_without_search():
    from langchain_core.tools import tool as make_tool

    @make_tool
    def web_search(query: str) -> str:
        """Search."""
        return "hits"

    @make_tool
    def web_browse(url: str) -> str:
        """Open."""
        return "page"

    for tools, expected in (([web_search, web_browse], "web_search"), ([web_browse], "required")):
        model = scripted(tool_call(tools[0].name, {"query": "x"} if tools[0] is web_search else {"url": "u"}), "done")
        ask(DOMAINS["web"].build_agent(model, tools))
        assert model.calls[0]["tool_choice"] == expected
    math_model = scripted("Final answer: 5")
    ask(DOMAINS["math"].build_agent(math_model, [add]))
    assert math_model.calls[0]["tool_choice"] is None, "math reasons first: its first reply stays free"
