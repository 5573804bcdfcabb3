"""Groups whose every attempt failed, compared with where the reference answer is
(``LearnSettings.look_up_failures``): the learner knows the answer, and searching for it with the
agent's own search tool tells where it is written. On the 1.5B web runs the kinds the oracle library
gains most on were 0 of 6 in every step, so they never had a group to learn from (BENCHMARKS.md §1q)."""

import json
import subprocess
import sys

import pytest

from tests.scripted_world import WorldChatModel, make_tasks, openai_reply
from tfgrpo_agents.agents import build_react_agent
from tfgrpo_agents.learning import (
    LearnSettings,
    MathGrader,
    ReflectionSettings,
    Task,
    TrainingFreeGRPO,
    Trajectory,
)
from tfgrpo_agents.learning.evidence import group_contrast, look_up_reference
from tfgrpo_agents.testing import OpenAIStub
from tfgrpo_agents.tools import python_exec_tool
from tfgrpo_agents.tools.search import format_hits
from tfgrpo_agents.tools.search_index import SearchHit

DAMAGE = Task(id="d", question="What is the current damage of the Harbor Bow in Quartz Legends?", answer="43")
ITEM = SearchHit(url="http://game/items/harbor-bow.html", title="Harbor Bow", snippet="Harbor Bow Base damage: 35.")
PATCH = SearchHit(url="http://game/patches/3.8.html", title="Patch 3.8", snippet="Harbor Bow: damage changed to 43.")


def test_the_answer_is_looked_up_on_a_page_not_in_the_echoed_query():
    queries = []

    def search(query):
        queries.append(query)
        return format_hits(query, [ITEM, PATCH])

    found = look_up_reference(search, DAMAGE)
    assert queries == [f"{DAMAGE.question} 43"], "the question and its answer, searched together"
    assert found and "damage changed to 43" in found
    wrong = Trajectory(task_id="d", sample=0, question=DAMAGE.question, final_answer="35", reward=0.0)
    contrast = group_contrast(DAMAGE, [wrong], found)
    assert contrast.startswith("Every attempt failed. The correct answer «43», looked up afterwards with a search "
                               "for it, is on the search hit for the page «Patch 3.8» (/patches/3.8.html)")
    # the search tool repeats the query, which holds the answer: that is no page
    assert look_up_reference(lambda query: format_hits(query, [ITEM]), DAMAGE) is None
    assert look_up_reference(lambda query: format_hits(query, []), DAMAGE) is None


SUMS_PAGE = "1. Sum table | Adder\n   URL: http://adder/tables/sums.html\n   Sum: {answer}."


def learn(run_dir, search, look_up=True, teacher=None, reflection=None):
    model, tool = WorldChatModel(), python_exec_tool()
    settings = LearnSettings(name="l", domain="math", group_size=2, epochs=1, batch_size=2, seed=7, max_steps=4,
                             concurrency=3, look_up_failures=look_up, reflection=reflection or ReflectionSettings())
    learner = TrainingFreeGRPO(
        agent_factory=lambda library: build_react_agent(model, [tool], system_prompt="Add.", experiences=library,
                                                        max_steps=4),
        teacher=teacher or model, run_dir=run_dir, settings=settings, grader=MathGrader(), search=search)
    tasks = [Task.model_validate(t) for t in make_tasks(["wrong", "right"])]
    return learner, learner.fit(tasks), tasks


def groups_of(run_dir):
    return {g["task_id"]: g for g in json.loads((run_dir / "steps" / "step-0001" / "groups.json").read_text())}


def test_a_group_that_all_failed_is_compared_with_where_the_answer_is(tmp_path):
    searched = []

    def search(query):
        searched.append(query)
        return f"Results for {query!r}:\n" + SUMS_PAGE.format(answer=query.rsplit(" ", 1)[1])

    teacher = WorldChatModel(teacher_prompts=[])
    learner, result, tasks = learn(tmp_path / "run", search, teacher=teacher)
    groups = groups_of(tmp_path / "run")
    assert groups["t0"] == {"task_id": "t0", "mean_reward": 0.0, "kept": True,
                            "reason": "all failed; the answer looked up afterwards"}
    assert groups["t1"]["reason"] == "all succeeded", "a group that all succeeded is not looked up"
    assert searched == ["[wrong] What is 0 + 3? 3"]
    advantage = next(p for p in teacher.teacher_prompts if "[stage: advantage]" in p)
    assert "Every attempt failed; the correct answer was looked up afterwards" in advantage
    assert "is on the search hit for the page «Sum table» (/tables/sums.html), after the label «Sum»" in advantage
    assert result.reports[0].groups_with_signal == 1 and len(result.library) == 1

    again = learner.fit(tasks)  # resumed: the look-up is read back, not searched again
    assert searched == ["[wrong] What is 0 + 3? 3"] and again.library.texts() == result.library.texts()


def test_without_the_answer_found_or_the_setting_the_group_is_skipped_as_in_the_paper(tmp_path):
    _, result, _ = learn(tmp_path / "nowhere", lambda query: "No results.")
    assert groups_of(tmp_path / "nowhere")["t0"]["reason"] == "all failed" and len(result.library) == 0

    def broken(query):
        raise OSError("the search backend is down")

    _, result, _ = learn(tmp_path / "broken", broken)
    assert groups_of(tmp_path / "broken")["t0"]["reason"] == "all failed" and len(result.library) == 0

    _, result, _ = learn(tmp_path / "off", lambda query: pytest.fail("searched with the setting off"), look_up=False)
    assert groups_of(tmp_path / "off")["t0"]["reason"] == "all failed"


def test_the_setting_needs_a_search_function(tmp_path):
    with pytest.raises(ValueError, match="look_up_failures needs search="):
        learn(tmp_path / "run", None)


def test_the_cli_refuses_the_setting_for_an_agent_without_a_search_tool(tmp_path):
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(json.dumps(t) + "\n" for t in make_tasks(["wrong", "right"])))
    with OpenAIStub(reply_fn=openai_reply) as stub:
        done = subprocess.run(
            [sys.executable, "-m", "tfgrpo_agents.cli", "learn", "--tasks", str(tasks), "--agent", "math",
             "--model", "gpt-4o-mini", "--base-url", stub.base_url, "--look-up-failures",
             "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=180)
    assert done.returncode != 0
    assert ("--look-up-failures looks answers up with the agent's web_search tool; the math agent has none"
            in done.stderr)


def test_when_every_lesson_of_the_teacher_is_refused_the_evidence_states_one(tmp_path):
    """The 1.5B teacher, shown the patch note, wrote the wrong attempts' label three times over
    (BENCHMARKS.md §1r); with ``evidence_lessons`` the group still gives the lesson its evidence states."""
    def search(query):
        return f"Results for {query!r}:\n" + SUMS_PAGE.format(answer=query.rsplit(" ", 1)[1])

    def quotes_the_wrong_answer(prompt):  # the wrong attempts answered 4 for 0 + 3: refused every time
        return '{"lessons": ["When asked to add numbers, answer 4."]}' if "[stage: advantage]" in prompt else None

    teacher = WorldChatModel(teacher_prompts=[], teacher_override=quotes_the_wrong_answer)
    _, result, _ = learn(tmp_path / "off", search, teacher=teacher)
    assert len(result.library) == 0, "the setting off: a group whose lessons are all refused gives none"
    assert sum("[stage: advantage]" in p for p in teacher.teacher_prompts) == 3, "asked, then re-asked twice"

    _, result, _ = learn(tmp_path / "on", search, teacher=teacher,
                         reflection=ReflectionSettings(evidence_lessons=True))
    # ("What" is read as a name: the scripted question's first word is its "[wrong]" tag)
    assert result.library.texts() == ['When asked "[wrong] X is X + X?", answer with the value after "Sum" on '
                                      'the page "Sum table".']
