"""The ReAct agent the learning loop runs: a LangGraph ``StateGraph`` with a model node and a tool node."""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Sequence
from typing import Annotated, Any, TypedDict

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.tools import BaseTool
# LangGraph's own node runnable, as ``langchain.agents.create_agent`` uses it: the signature is read once,
# not on every call, and no second chain run nests inside the node's own run
from langgraph._internal._runnable import RunnableCallable
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode
from langgraph.types import Checkpointer

from tfgrpo_agents.agents.answers import extract_final_answer, is_set_aside, message_text, set_aside
from tfgrpo_agents.agents.delivery import (
    ANSWER_CHECK_NAME,
    LessonDelivery,
    matching_lessons,
    opening_call,
    question_of,
    restatement,
)
from tfgrpo_agents.agents.injection import Placement, inject_experiences
from tfgrpo_agents.agents.sampling import sampling_settings
from tfgrpo_agents.experience import (
    DEFAULT_HEADER,
    SourceLike,
    as_source,
    read_source,
    render_experiences,
)
from tfgrpo_agents.prompts import (
    FORCE_FINAL_ANSWER,
    REPEATED_CALL,
    TOOL_RESULT_FOOTER,
    USE_A_TOOL_FIRST,
)


class ReActState(TypedDict, total=False):
    """Graph state. ``steps`` counts model calls; ``forced_final`` marks an answer forced at the step limit."""

    messages: Annotated[list[AnyMessage], add_messages]
    steps: int
    forced_final: bool
    final_answer: str


Step = Generator[tuple[Runnable | None, Any, dict[str, Any]], Any, dict[str, Any]]
"""A node's body: yields ``(runnable, input, kwargs)`` to have it called, or ``(None, source, {})`` to
have an experience source read, and gets the result back."""


def _node(step: Callable[[ReActState, RunnableConfig], Step], name: str) -> RunnableCallable:
    """A graph node running ``step`` with ``invoke`` when the graph is invoked, ``ainvoke`` when awaited
    (untraced itself: LangGraph already records the node as a run)."""

    def call(runnable: Runnable | None, value: Any, config: RunnableConfig, kwargs: dict[str, Any]) -> Any:
        return value.current() if runnable is None else runnable.invoke(value, config, **kwargs)

    async def acall(runnable: Runnable | None, value: Any, config: RunnableConfig, kwargs: dict[str, Any]) -> Any:
        return await read_source(value) if runnable is None else await runnable.ainvoke(value, config, **kwargs)

    def run(state: ReActState, config: RunnableConfig) -> dict[str, Any]:
        steps = step(state, config)
        try:
            runnable, value, kwargs = next(steps)
            while True:
                runnable, value, kwargs = steps.send(call(runnable, value, config, kwargs))
        except StopIteration as done:
            return done.value

    async def arun(state: ReActState, config: RunnableConfig) -> dict[str, Any]:
        steps = step(state, config)
        try:
            runnable, value, kwargs = next(steps)
            while True:
                runnable, value, kwargs = steps.send(await acall(runnable, value, config, kwargs))
        except StopIteration as done:
            return done.value

    return RunnableCallable(run, arun, name=name, trace=False)


def _answer_of(reply: AIMessage) -> str:
    return extract_final_answer(message_text(reply))


def _is_bare_answer(reply: AIMessage, most_words: int = 12) -> bool:
    """A reply that only states an answer: one short line, no reasoning to write code from."""
    text = message_text(reply).strip()
    return bool(text) and "\n" not in text and len(text.split()) <= most_words


def _call_key(call: dict[str, Any]) -> str:
    return call["name"] + json.dumps(call.get("args") or {}, sort_keys=True, default=str)


def build_react_agent(
    model: BaseChatModel,
    tools: Sequence[BaseTool],
    *,
    system_prompt: str = "",
    experiences: SourceLike = None,
    placement: Placement | str = Placement.SYSTEM,
    max_steps: int = 8,
    header: str = DEFAULT_HEADER,
    loop_guard: bool = True,
    tool_result_footer: bool = True,
    tool_first: bool = False,
    forget_guess: bool = False,
    first_call: str | None = None,
    reason_reminder: str | None = None,
    delivery: LessonDelivery | None = None,
    checkpointer: Checkpointer = None,
    name: str = "react_agent",
):
    """Compile a ReAct agent: ``agent`` ⇄ ``tools`` until the model answers (its reply's final answer is
    extracted in the same step).

    The experience library is rendered on every model call (so a changing source is picked up)
    and placed per ``placement``. After ``max_steps`` model calls, or after an empty reply, the
    model gets one more call without tools and an instruction to answer, so every episode ends
    with an answer. ``loop_guard`` answers a repeated identical tool call with a note instead of
    running it again; ``tool_result_footer`` ends every tool result with the question and "reply
    with just the answer, or call one different tool" (for small models this one line did as
    much as a handful of learned experiences). ``tool_first`` answers a first reply that has no
    tool call (small models narrate a plan and stop) with one reminder to use a tool. With
    ``forget_guess`` the reminder is asked without that reply, and later calls never see it: a
    small model that answered from memory before looking repeats its guess after reading the
    right value (BENCHMARKS.md §1f). The reply stays in the state, set aside,
    so the trace and the teacher still see it. Keep it off where the first reply is useful
    reasoning (math: the code is written from it). ``first_call`` (``"required"``, or a tool's name)
    binds the first model call with that ``tool_choice``, so the server decodes a call and nothing
    else: where a first reply without a call would be set aside anyway, the plan a small model
    narrates before its call is generation time spent for nothing (on CPU, most of a rollout's).
    ``reason_reminder``, for agents that reason before their first call: a first reply that is a bare
    answer (a few words, no call) is set aside and the model is asked this instead, so a guess is not
    what the code is then written from (lessons about the final answer's format made the 1.5B math
    agent answer at once, BENCHMARKS.md §1m).
    ``delivery`` chooses which lessons a task sees
    and where they are said again (:mod:`tfgrpo_agents.agents.delivery`).
    Invoke with ``{"messages": [HumanMessage(question)]}``; the result holds ``final_answer``.
    The run's sampling (``sampling_settings(config)``: the learner's per-rollout temperature and
    seed) is passed to every model call of that run.
    """
    if max_steps < 1:
        raise ValueError("max_steps must be at least 1")
    source = as_source(experiences)
    placement = Placement(placement)
    delivery = delivery or LessonDelivery()
    tool_model = model.bind_tools(list(tools)) if tools else model
    if first_call not in (None, "required") and first_call not in {t.name for t in tools}:
        raise ValueError(f"first_call names {first_call!r}, which is not one of the agent's tools")
    first_model = model.bind_tools(list(tools), tool_choice=first_call) if tools and first_call else tool_model
    base_system = SystemMessage(content=system_prompt) if system_prompt else None

    # Each node is written once, as a generator that yields (runnable, input, kwargs) and gets the
    # result back; a sync and an async driver run it. Async matters: LangGraph runs sync nodes in a
    # small thread pool, which capped concurrent rollouts at a handful of model calls in flight.
    def agent(state: ReActState, config: RunnableConfig) -> Step:
        steps = state.get("steps", 0)
        # Per-run model arguments (temperature, seed…) travel in the config, so one compiled agent
        # serves every rollout of a group.
        model_kwargs = sampling_settings(config)
        library = yield None, source, {}
        matched = matching_lessons(library.experiences, question_of(state["messages"]), delivery.limit) \
            if delivery.selects else []
        block = render_experiences(matched if delivery.relevant_only else library, header=header)
        visible = [m for m in state["messages"] if not is_set_aside(m)]
        system, messages = inject_experiences(base_system, visible, block, placement)
        prompt = ([system] if system else []) + messages
        if steps < max_steps or not tools:
            first = not any(isinstance(m, ToolMessage) for m in state["messages"])
            response = yield (first_model if first else tool_model), prompt, model_kwargs
            guessed: list[AnyMessage] = []  # a bare first answer and the request to reason, set aside
            if reason_reminder and tools and first and not response.tool_calls and _is_bare_answer(response):
                ask = HumanMessage(content=reason_reminder)
                guessed = [set_aside(response), set_aside(ask)]
                response = yield tool_model, [*prompt, ask], model_kwargs
            if tool_first and tools and not response.tool_calls and first:
                reminder = HumanMessage(content=USE_A_TOOL_FIRST)
                seen = [reminder] if forget_guess else [response, reminder]
                retry = yield tool_model, [*prompt, *seen], model_kwargs
                if retry.tool_calls:
                    kept = [set_aside(response), set_aside(reminder)] if forget_guess else [response, reminder]
                    return {"messages": [*guessed, *kept, retry], "steps": steps + 1}
            opening = opening_call(state["messages"], response, tools) if delivery.suggest_page else None
            if opening is not None:  # the check repeated instead of followed: the reply set aside, the page opened
                return {"messages": [set_aside(response), opening], "steps": steps + 1}
            if response.tool_calls:
                return {"messages": [*guessed, response], "steps": steps + 1}
            if str(response.text).strip():
                check = delivery.check_for(matched, state["messages"]) if tools and steps + 1 < max_steps else None
                if check is not None:  # the answer held back stays in sight (BENCHMARKS.md §1o: set aside, it
                    # left the 1.5B agent with two dates and a python tool, and it computed the days between)
                    return {"messages": [*guessed, response, check], "steps": steps + 1}
                return {"messages": [*guessed, response], "steps": steps + 1, "final_answer": _answer_of(response)}
        response = yield model, [*prompt, HumanMessage(content=FORCE_FINAL_ANSWER)], model_kwargs
        if getattr(response, "tool_calls", None):
            # The model ignored the instruction; keep its words, drop the calls.
            response = AIMessage(content=response.content, id=response.id,
                                 response_metadata=response.response_metadata,
                                 usage_metadata=response.usage_metadata)
        return {"messages": [response], "steps": steps + 1, "forced_final": True, "final_answer": _answer_of(response)}

    tool_node = ToolNode(list(tools), handle_tool_errors=True) if tools else None

    def run_tools(state: ReActState, config: RunnableConfig) -> Step:
        messages = state["messages"]
        last = messages[-1]
        done = {_call_key(c) for m in messages[:-1] if isinstance(m, AIMessage) for c in m.tool_calls}
        fresh, results = [], []
        for call in last.tool_calls:
            if loop_guard and _call_key(call) in done:
                results.append(ToolMessage(REPEATED_CALL.format(name=call["name"]), tool_call_id=call["id"],
                                           name=call["name"]))
            else:
                fresh.append(call)
            done.add(_call_key(call))
        if fresh:
            ran = yield tool_node, {"messages": [*messages[:-1], last.model_copy(update={"tool_calls": fresh})]}, {}
            results = list(ran["messages"]) + results
        question = question_of(messages)
        footer = ""
        if delivery.restate:
            library = yield None, source, {}
            matched = matching_lessons(library.experiences, question, delivery.limit)
            footer += restatement(matched, delivery.page_for(matched, [*messages, *results]))
        if tool_result_footer:
            footer += TOOL_RESULT_FOOTER.format(question=question)
        if footer:
            results = [r.model_copy(update={"content": f"{message_text(r)}{footer}"}) for r in results]
        return {"messages": results}

    def route(state: ReActState) -> str:
        last = state["messages"][-1]
        if isinstance(last, AIMessage) and last.tool_calls and not state.get("forced_final"):
            return "tools"
        if isinstance(last, HumanMessage) and last.name == ANSWER_CHECK_NAME:
            return "agent"  # an answer held back for the lesson check: one more step
        return END  # the agent node wrote the final answer with the reply (no superstep of its own)

    graph = StateGraph(ReActState)
    graph.add_node("agent", _node(agent, "agent"))
    graph.add_edge(START, "agent")
    if tools:
        graph.add_node("tools", _node(run_tools, "tools"))
        graph.add_conditional_edges("agent", route, {"tools": "tools", "agent": "agent", END: END})
        graph.add_edge("tools", "agent")
    else:
        graph.add_edge("agent", END)
    return graph.compile(checkpointer=checkpointer, name=name)
