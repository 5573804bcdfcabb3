"""Learning on a user's own agent: create_agent apps and custom StateGraphs, as users write them."""

import json
import operator
import re
from typing import Annotated, Any, TypedDict
from uuid import UUID

import pytest
from langchain.agents import create_agent
from langchain.agents.middleware import ModelCallLimitMiddleware, wrap_tool_call
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from pydantic import BaseModel

from tests.scripted_world import WorldChatModel, make_tasks
from tfgrpo_agents.agents import ExperienceMiddleware, sampling_settings
from tfgrpo_agents.core.contract import AgentContract
from tfgrpo_agents.core.rollout import RolloutSettings, run_rollout
from tfgrpo_agents.learning import (
    LearnSettings,
    MathGrader,
    Task,
    TrainingFreeGRPO,
    read_trajectories,
)

KINDS = ["right", "wrong", "mixed", "mixed", "mixed", "right"]
TASKS = [Task.model_validate(t) for t in make_tasks(KINDS)]


@tool
def python_exec(code: str) -> str:
    """Run Python code and return what it prints."""
    a, b = map(int, re.search(r"(\d+) \+ (\d+)", code).groups())
    return str(a + b)


def settings(**overrides) -> LearnSettings:
    return LearnSettings(**{"group_size": 3, "epochs": 1, "batch_size": 3, "seed": 7, "max_steps": 4,
                            "concurrency": 1, "model_id": "m", **overrides})


def learn(tmp_path, factory, **kwargs):
    model = kwargs.pop("teacher", None) or WorldChatModel()
    learner = TrainingFreeGRPO(agent_factory=factory, teacher=model, run_dir=tmp_path / "run",
                               settings=kwargs.pop("learn_settings", settings()),
                               grader=kwargs.pop("grader", MathGrader()), **kwargs)
    return learner, learner.fit(TASKS).library


def trajectories(learner, step=1):
    return read_trajectories(learner.run_dir.step_dir(step) / "trajectories.jsonl")


def test_a_create_agent_app_with_a_sync_only_middleware_learns(tmp_path):
    calls = []

    @wrap_tool_call
    def audit(request, handler):  # sync only: has no async implementation
        calls.append(request.tool_call["name"])
        return handler(request)

    def factory(library):
        return create_agent(WorldChatModel(), tools=[python_exec],
                            middleware=[ExperienceMiddleware(library), audit])

    learner, library = learn(tmp_path, factory)
    assert calls and library.texts(), "the sync middleware ran and lessons were learned"
    assert not any(t.failed for t in trajectories(learner))
    seeds = {t.sampling_seen["seed"] for t in trajectories(learner)}
    assert len(seeds) == 9, "every rollout reached the model with its own seed"


class Conversation(TypedDict, total=False):
    conversation: Annotated[list[BaseMessage], add_messages]
    reply: Any
    calls: Annotated[int, operator.add]


def custom_graph(model, answer_as=str):
    """A hand-written tool loop whose messages live under 'conversation'."""
    def agent(state: Conversation, config):
        reply = model.bind(**sampling_settings(config)).invoke(state["conversation"])
        update: dict[str, Any] = {"conversation": [reply], "calls": 1}
        if not reply.tool_calls:
            value = re.search(r"Final answer: (\S+)", reply.text).group(1)
            update["reply"] = answer_as(value)
        return update

    def tools(state: Conversation):
        last = state["conversation"][-1]
        return {"conversation": [ToolMessage(python_exec.invoke(c["args"]), tool_call_id=c["id"])
                                 for c in last.tool_calls]}

    graph = StateGraph(Conversation)
    graph.add_node("agent", agent)
    graph.add_node("tools", tools)
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", lambda s: "tools" if s["conversation"][-1].tool_calls else END)
    graph.add_edge("tools", "agent")
    return graph.compile()


def test_a_custom_graph_with_messages_under_another_key_learns(tmp_path):
    model = WorldChatModel()
    learner, library = learn(
        tmp_path, lambda library: custom_graph(model),
        input_mapper=lambda task: {"conversation": [HumanMessage(task.question)]},
        output_mapper=lambda state: state["reply"])
    recorded = trajectories(learner)
    assert library.texts() and not any(t.failed for t in recorded)
    assert all(t.tool_calls and t.tool_calls[0].name == "python_exec" for t in recorded)
    assert {t.reward for t in recorded} == {0.0, 1.0}


class Answer(BaseModel):
    value: int


def test_a_structured_answer_is_stored_as_json_and_graded(tmp_path):
    model = WorldChatModel()

    def grade(task, answer):
        return float(json.loads(answer)["value"] == int(task.answer))

    learner, library = learn(tmp_path, lambda library: custom_graph(model, lambda v: Answer(value=int(v))),
                             input_mapper=lambda task: {"conversation": [HumanMessage(task.question)]},
                             output_mapper=lambda state: state["reply"], grader=grade)
    recorded = trajectories(learner)
    assert all(json.loads(t.final_answer).keys() == {"value"} for t in recorded)
    assert library.texts()
    again = TrainingFreeGRPO(agent_factory=lambda library: custom_graph(model), teacher=model,
                             run_dir=tmp_path / "run", settings=settings(), grader=grade).fit(TASKS).library
    assert again.texts() == library.texts(), "the run directory resumes"


def test_a_raising_tool_is_in_the_trace_and_reaches_the_teacher(tmp_path):
    count = {"n": 0}

    @tool("python_exec")
    def flaky(code: str) -> str:
        """Run Python code and return what it prints."""
        count["n"] += 1
        if count["n"] % 3 == 1:
            raise ValueError("the sandbox lost its interpreter")
        return python_exec.invoke({"code": code})

    teacher = WorldChatModel(teacher_prompts=[])
    learner, _ = learn(tmp_path, lambda library: create_agent(WorldChatModel(), tools=[flaky],
                                                              middleware=[ExperienceMiddleware(library)]),
                       teacher=teacher)
    raised = [t for t in trajectories(learner) if t.failed]
    assert raised and all(t.failure == "error" and "lost its interpreter" in t.error for t in raised)
    assert all(t.messages and t.tool_calls for t in raised), "the trace up to the error is kept"
    assert all(t.attempts == 1 for t in raised), "a raising tool is not retried"
    assert any("lost its interpreter" in prompt for prompt in teacher.teacher_prompts)


def looping_graph():
    class State(TypedDict):
        messages: Annotated[list[BaseMessage], add_messages]

    def agent(state):
        return {"messages": [AIMessage("", tool_calls=[{"name": "python_exec", "args": {"code": "print(1 + 1)"},
                                                          "id": f"c{len(state['messages'])}", "type": "tool_call"}])]}

    def tools(state):
        return {"messages": [ToolMessage("2", tool_call_id=state["messages"][-1].tool_calls[0]["id"])]}

    graph = StateGraph(State)
    graph.add_node("agent", agent)
    graph.add_node("tools", tools)
    graph.add_edge(START, "agent")
    graph.add_edge("agent", "tools")
    graph.add_edge("tools", "agent")
    return graph.compile()


def rollout(agent, **kwargs):
    from tfgrpo_agents._async import run_sync

    return run_sync(run_rollout(agent, TASKS[0], 0, seed=1, settings=RolloutSettings(max_steps=2, retry_wait_s=0),
                                contract=AgentContract(**kwargs)))


def test_a_recursion_limit_reads_step_limit_with_its_trace():
    trajectory = rollout(looping_graph())
    assert not trajectory.failed and trajectory.failure == "step_limit"
    assert len(trajectory.tool_calls) >= 4 and trajectory.final_answer is None
    assert "GraphRecursionError" in trajectory.error


def test_a_call_limit_middleware_stop_is_a_step_limit_not_an_answer():
    class AlwaysCalls(WorldChatModel):
        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            from langchain_core.outputs import ChatGeneration, ChatResult
            call = {"name": "python_exec", "args": {"code": "print(1 + 2)"}, "id": f"c{len(messages)}",
                    "type": "tool_call"}
            return ChatResult(generations=[ChatGeneration(message=AIMessage("", tool_calls=[call]))])

    agent = create_agent(AlwaysCalls(), tools=[python_exec],
                         middleware=[ModelCallLimitMiddleware(run_limit=2, exit_behavior="end")])
    trajectory = rollout(agent)
    assert trajectory.failure == "step_limit" and trajectory.final_answer is None
    assert len(trajectory.tool_calls) == 2


class RunTree(BaseCallbackHandler):
    """Records every chain run with its parent, name, tags and metadata (no network)."""

    def __init__(self):
        self.runs: dict[UUID, dict[str, Any]] = {}

    def on_chain_start(self, serialized, inputs, *, run_id, parent_run_id=None, tags=None, metadata=None, **kw):
        self.runs[run_id] = {"parent": parent_run_id, "name": kw.get("name") or (serialized or {}).get("name"),
                             "tags": tags or [], "metadata": metadata or {}}

    def on_chat_model_start(self, serialized, messages, *, run_id, parent_run_id=None, metadata=None, **kw):
        self.runs[run_id] = {"parent": parent_run_id, "name": "chat_model", "tags": [], "metadata": metadata or {}}

    def root_of(self, run_id):
        while self.runs[run_id]["parent"] in self.runs:
            run_id = self.runs[run_id]["parent"]
        return run_id


def test_one_trace_tree_per_learning_step(tmp_path):
    tree = RunTree()
    model = WorldChatModel()
    learner = TrainingFreeGRPO(
        agent_factory=lambda library: create_agent(model, tools=[python_exec],
                                                   middleware=[ExperienceMiddleware(library)]),
        teacher=model, run_dir=tmp_path / "run", settings=settings(batch_size=3), grader=MathGrader())
    learner.fit(TASKS, config={"callbacks": [tree], "tags": ["my-app"], "metadata": {"user": "u1"}})
    roots = [rid for rid, run in tree.runs.items() if run["parent"] is None]
    assert sorted(tree.runs[r]["name"] for r in roots) == ["tfgrpo step 1", "tfgrpo step 2"]
    rollouts = [rid for rid, run in tree.runs.items() if str(run["name"]).startswith("rollout ")]
    assert len(rollouts) == 18
    for rid in rollouts:
        meta = tree.runs[rid]["metadata"]
        assert {"task_id", "sample", "step", "library_digest", "user"} <= meta.keys()
        assert tree.runs[tree.root_of(rid)]["name"] == f"tfgrpo step {meta['step']}"
        assert "my-app" in tree.runs[rid]["tags"]
    models = [rid for rid, run in tree.runs.items() if run["name"] == "chat_model"]
    assert all(tree.runs[tree.root_of(rid)]["name"].startswith("tfgrpo step") for rid in models), \
        "policy and teacher calls nest under their step"


def test_an_agent_that_fails_every_rollout_stops_the_run_loudly_and_resumes_once_fixed(tmp_path):
    from tfgrpo_agents.learning import RolloutsFailedError

    model = WorldChatModel()
    broken = TrainingFreeGRPO(agent_factory=lambda library: custom_graph(model), teacher=model,
                              run_dir=tmp_path / "run", settings=settings(), grader=MathGrader())
    with pytest.raises(RolloutsFailedError, match="check the agent"):
        broken.fit(TASKS)  # no input_mapper: the graph gets 'messages', which it does not read
    fixed, library = learn(tmp_path, lambda library: custom_graph(model),
                           input_mapper=lambda task: {"conversation": [HumanMessage(task.question)]},
                           output_mapper=lambda state: state["reply"])
    assert library.texts() and not any(t.failed for t in trajectories(fixed))


def test_fit_works_inside_a_running_event_loop(tmp_path):
    """As in a Jupyter cell, where a loop is already running in the thread."""
    import asyncio

    model = WorldChatModel()
    learner = TrainingFreeGRPO(
        agent_factory=lambda library: create_agent(model, tools=[python_exec],
                                                   middleware=[ExperienceMiddleware(library)]),
        teacher=model, run_dir=tmp_path / "run", settings=settings(epochs=1, batch_size=6), grader=MathGrader())

    async def cell():
        return learner.fit(TASKS).library

    assert asyncio.run(cell()).texts()


def test_progress_events_are_typed(tmp_path):
    from tfgrpo_agents.learning import events

    seen = []
    model = WorldChatModel()
    learner = TrainingFreeGRPO(
        agent_factory=lambda library: create_agent(model, tools=[python_exec], middleware=[ExperienceMiddleware(library)]),
        teacher=model, run_dir=tmp_path / "run", settings=settings(epochs=1, batch_size=6), grader=MathGrader(),
        on_event=seen.append)
    result = learner.fit(TASKS)
    assert isinstance(seen[0], events.RunStarted) and seen[0].rollouts_per_step == [18]
    assert sum(isinstance(e, events.RolloutFinished) for e in seen) == 18
    assert any(isinstance(e, events.TeacherCallFinished) and e.stage == "advantage" for e in seen)
    finished = [e for e in seen if isinstance(e, events.StepFinished)]
    assert len(finished) == 1 and finished[0].report == result.reports[0]
    assert {e.kind for e in seen} >= {"run", "step", "rollout", "select", "teacher", "step_done"}
    resumed = []
    TrainingFreeGRPO(agent_factory=learner.agent_factory, teacher=model, run_dir=tmp_path / "run",
                     settings=learner.settings, grader=MathGrader(), on_event=resumed.append).fit(TASKS)
    assert [type(e) for e in resumed] == [events.RunStarted, events.StepSkipped]
