"""Rewards, tolerant structured output, the task loader, the collector, ablations and stage failures."""

import json

import pytest
from langchain.agents import create_agent
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool

from tests.fakes import scripted, tool_call
from tests.scripted_world import WorldChatModel, make_tasks
from tfgrpo_agents.agents import build_react_agent
from tfgrpo_agents.learning import (
    CallableGrader,
    ExactMatchGrader,
    LearnSettings,
    LLMJudgeGrader,
    MathGrader,
    ShortAnswerGrader,
    StructuredCallError,
    Task,
    TaskFileError,
    TrainingFreeGRPO,
    Trajectory,
    TrajectoryCollector,
    call_structured,
    load_tasks,
    parse_tolerantly,
)
from tfgrpo_agents.learning.reflection import Lessons
from tfgrpo_agents.tools import python_exec_tool

SHARED = __import__("pathlib").Path(__file__).resolve().parents[2] / "shared" / "data"


# ------------------------------------------------------------------ rewards
@pytest.mark.parametrize(
    ("reference", "answer", "reward"),
    [("18", "Final answer is 18", 1.0), ("0.5", "\\frac{1}{2}", 1.0), ("1234", "1,234", 1.0),
     ("18", "19", 0.0), ("204", "$204$ minutes", 1.0), ("3", None, 0.0), ("72", "about 72.0", 1.0)],
)
def test_math_grader(reference, answer, reward):
    assert MathGrader().grade(Task(id="x", question="q", answer=reference), answer).reward == reward


def test_exact_match_normalizes():
    grader = ExactMatchGrader()
    task = Task(id="x", question="q", answer="The Halvorsen Pavilion")
    assert grader.grade(task, "halvorsen pavilion.").reward == 1.0
    assert grader.grade(task, "Pavilion B").reward == 0.0


@pytest.mark.parametrize(
    ("reference", "answer", "reward"),
    [("3.1", "New in version 3.11.", 0.0), ("3.1", "Python 3.1", 1.0), ("3.10", "3.1", 0.0),
     ("isqrt", "math.isqrt() was added first", 1.0), ("Pablo Galindo Salgado", "Pablo Galindo-Salgado", 1.0),
     ("1000", "1,000 users", 1.0), ("Hettinger", "Hettingers", 0.0),
     ("3.8", "It was added in Python 3.8, see the math module page for the details of it", 0.0)],
)
def test_short_answer_grader_matches_whole_words(reference, answer, reward):
    assert ShortAnswerGrader().grade(Task(id="x", question="q", answer=reference), answer).reward == reward


def test_llm_judge_reads_the_verdict():
    judge = LLMJudgeGrader(scripted("Same facts.\nCORRECT", "It names another year.\nINCORRECT"))
    task = Task(id="x", question="When?", answer="2022")
    assert judge.grade(task, "in 2022").reward == 1.0
    incorrect = judge.grade(task, "2021")
    assert incorrect.reward == 0.0 and "another year" in incorrect.reasoning


def test_callable_grader():
    grader = CallableGrader(lambda task, answer: 0.5 if answer else 0.0)
    assert grader.grade(Task(id="x", question="q"), "a").reward == 0.5


# ------------------------------------------------------------------ structured output
@pytest.mark.parametrize(
    "text",
    ['```json\n{"lessons": ["A."]}\n```', 'Sure, here you go: {"lessons": ["A."]} Hope it helps.',
     '{{"lessons": ["A."]}}', '["A."]', '{"lessons": [{"text": "A."}]}'],
)
def test_tolerant_parser_accepts_what_small_models_write(text):
    assert parse_tolerantly(text, Lessons, list_field="lessons").lessons == ["A."]


def test_invalid_escape_is_repaired():
    assert parse_tolerantly('{"lessons": ["it\\\'s fine"]}', Lessons).lessons == ["it's fine"]


def test_call_structured_reasks_with_the_problem_then_succeeds():
    model = scripted("I cannot help with that", '{"lessons": ["When stuck, search again."]}')
    result, raw = call_structured(model, "Give lessons", Lessons, retries=2, list_field="lessons")
    assert result.lessons == ["When stuck, search again."]
    second_prompt = model.calls[1]["messages"]
    assert "could not be used" in second_prompt[-1].text and second_prompt[1].text == "I cannot help with that"


def test_call_structured_validation_failure_and_giving_up():
    model = scripted('{"lessons": ["' + "word " * 40 + '"]}', '{"lessons": ["short"]}')

    def short(result):
        return "too long" if any(len(x.split()) > 32 for x in result.lessons) else None

    assert call_structured(model, "p", Lessons, validate=short)[0].lessons == ["short"]
    with pytest.raises(StructuredCallError, match="no usable reply after 2 attempts"):
        call_structured(scripted("nope", "still nope"), "p", Lessons, retries=1)


# ------------------------------------------------------------------ task files
def test_loader_reads_the_shared_files_as_they_are():
    if not SHARED.exists():
        pytest.skip("shared data not present")
    gsm8k = load_tasks(SHARED / "math" / "gsm8k_test.jsonl")
    assert len(gsm8k) == 1319 and gsm8k[0].answer == "18" and "#### 18" in gsm8k[0].metadata["solution"]
    svamp = load_tasks(SHARED / "math" / "svamp_test.jsonl")
    assert svamp[0].answer == "145" and svamp[0].question.endswith("How big is each group of bananas?")
    assert load_tasks(SHARED / "math" / "aime25.jsonl")[0].answer == "70"
    web = load_tasks(SHARED / "web" / "webwalkerqa_main.json")
    assert len(web) == 680 and web[0].root_url == "https://ehaweb.org/" and web[0].metadata["info"]["Level"] == "medium"


@pytest.mark.parametrize(
    ("content", "message"),
    [('{"question": "a", "answer": "1"}\n{broken\n', "tasks.jsonl:2: not valid JSON"),
     ('{"question": "a"}\n{"answer": "2"}\n', "tasks.jsonl line 2: missing the question"),
     ('{"question": "a"}\n[1, 2]\n', "line 2: expected an object, got list"),
     ("\n\n", "holds no tasks")],
)
def test_loader_errors_name_the_line(tmp_path, content, message):
    path = tmp_path / "tasks.jsonl"
    path.write_text(content)
    with pytest.raises(TaskFileError, match=message):
        load_tasks(path)


def test_duplicate_ids_are_made_unique(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps([{"id": 1, "question": "a"}, {"id": 1, "question": "b"}]))
    assert [t.id for t in load_tasks(path)] == ["1", "1#2"]


# ------------------------------------------------------------------ collector on any agent
@tool
def lookup(term: str) -> str:
    """Look a term up."""
    return f"definition of {term}"


def test_collector_records_a_create_agent_run():
    model = scripted(tool_call("lookup", {"term": "GRPO"}), "GRPO is group relative policy optimization.")
    agent = create_agent(model, [lookup])
    collector = TrajectoryCollector()
    result = agent.invoke({"messages": [HumanMessage("What is GRPO?")]}, {"callbacks": [collector]})
    calls = collector.tool_calls(result["messages"])
    assert [(c.name, c.args, c.output) for c in calls] == [("lookup", {"term": "GRPO"}, "definition of GRPO")]
    assert calls[0].latency_s is not None and len(collector.llm_calls) == 2


# ------------------------------------------------------------------ ablations and failures
def _learner(tmp_path, model, **settings):
    tool = python_exec_tool()
    config = LearnSettings(group_size=settings.pop("group_size", 3), epochs=1, batch_size=3, seed=7, max_steps=4,
                           concurrency=3, **settings)
    return TrainingFreeGRPO(
        agent_factory=lambda library: build_react_agent(model, [tool], system_prompt="Add.", experiences=library),
        teacher=model, run_dir=tmp_path / "run", settings=config,
        grader=None if not config.ground_truth else MathGrader())


TASKS = [Task.model_validate(t) for t in make_tasks(["right", "wrong", "right"])]


def test_without_ground_truth_every_group_is_used_and_prompts_say_so(tmp_path):
    model = WorldChatModel(teacher_prompts=[])
    learner = _learner(tmp_path, model, ground_truth=False)
    learner.fit(TASKS)
    groups = json.loads((learner.run_dir.step_dir(1) / "groups.json").read_text())
    assert all(g["kept"] for g in groups), "no reward signal is needed without ground truth"
    summaries = [p for p in model.teacher_prompts if "[stage: summarize]" in p]
    assert len(summaries) == 9 and all("No reference answer is available" in p for p in summaries)
    assert all("Outcome:" not in p for p in summaries)
    advantage = [p for p in model.teacher_prompts if "[stage: advantage]" in p]
    assert advantage and all("No reference answer is known" in p for p in advantage)


def test_group_size_one_reflects_on_single_attempts(tmp_path):
    model = WorldChatModel(teacher_prompts=[])
    learner = _learner(tmp_path, model, group_size=1)
    library = learner.fit(TASKS).library
    advantage = [p for p in model.teacher_prompts if "[stage: advantage]" in p]
    assert len(advantage) == 3 and all("There is only one attempt" in p for p in advantage)
    assert library.texts()


def test_a_failing_stage_is_skipped_and_the_run_goes_on(tmp_path):
    def broken_advantage(prompt):
        return "I refuse to answer in JSON." if "[stage: advantage]" in prompt and "What is 1 + 4" in prompt else None

    model = WorldChatModel(teacher_prompts=[], teacher_override=broken_advantage)
    tasks = [Task.model_validate(t) for t in make_tasks(["mixed", "mixed", "mixed"])]
    learner = _learner(tmp_path, model, group_size=4)
    library = learner.fit(tasks).library
    report = json.loads((learner.run_dir.step_dir(1) / "report.json").read_text())
    failures = [f for f in report["stage_failures"] if f["stage"] == "advantages"]
    assert failures and failures[0]["task_id"] == "t1" and "no usable reply after 3 attempts" in failures[0]["error"]
    assert library.steps == [0, 1] and library.texts(), "the other groups still taught something"


def test_long_lessons_keep_their_first_sentence():
    from tfgrpo_agents.learning.reflection import ReflectionSettings, Reflector, shorten

    assert shorten("Open the Call for Papers page. " + "It lists every date. " * 20, 32) == \
        "Open the Call for Papers page."
    assert shorten("word " * 40, 32) is None
    long = "When a date is asked, open the Call for Papers page first. " + "Because " * 40
    teacher = scripted('{"lessons": ["' + long + '", "' + "x " * 50 + '"]}')
    attempt = (Trajectory(task_id="t", sample=0, question="q", reward=1.0), "summary")
    lessons = Reflector(teacher, ReflectionSettings()).advantage(
        Task(id="t", question="q", answer="a"), [attempt])
    assert lessons == ["When a date is asked, open the Call for Papers page first."]
    assert len(teacher.calls) == 1, "salvaged without a re-ask"


def test_grading_is_parallel_cached_and_meters_the_judge(tmp_path):
    from langchain_core.messages import AIMessage

    from tfgrpo_agents.core.grading import grade_trajectories
    from tfgrpo_agents.learning import RunDir, Trajectory

    usage = {"input_tokens": 50, "output_tokens": 4, "total_tokens": 54}
    judge = LLMJudgeGrader(scripted(AIMessage("CORRECT", usage_metadata=usage), AIMessage("INCORRECT", usage_metadata=usage)))
    task = Task(id="t", question="When?", answer="2022")
    trajectories = [Trajectory(task_id="t", sample=0, question="When?", final_answer="in 2022"),
                    Trajectory(task_id="t", sample=1, question="When?", final_answer="1999"),
                    Trajectory(task_id="t", sample=2, question="When?", failed=True, failure="timeout")]
    run_dir = RunDir(tmp_path / "run")
    graded, spent = grade_trajectories(trajectories, {"t": task}, judge, run_dir, concurrency=1)
    assert [t.reward for t in graded] == [1.0, 0.0, 0.0]
    assert "rollout failed (timeout)" in graded[2].grader_reasoning, "a failed rollout is not sent to the judge"
    assert (spent.input, spent.output) == (100, 8), "the judge's tokens are counted"
    again, spent_again = grade_trajectories(trajectories, {"t": task}, judge, run_dir, concurrency=2)
    assert [t.reward for t in again] == [1.0, 0.0, 0.0] and spent_again == spent, "answered from the cache"


def test_lessons_that_name_their_own_task_are_dropped_or_re_asked():
    from tfgrpo_agents.learning.reflection import Reflector

    questions = ["Sam buys 3 fireworks for the finale at $4 each. What is the total cost?",
                 "A shop sells pens at $2 each. What is the total cost of 5 pens?",
                 "Each box holds 6 apples. How many apples are in 4 boxes?",
                 "Tom reads 20 pages each day. How many pages does he read in a week?"]
    tasks = [Task(id=f"t{i}", question=q, answer="1") for i, q in enumerate(questions)]
    attempt = (Trajectory(task_id="t0", sample=0, question=questions[0], reward=1.0), "summary")

    mixed = scripted('{"lessons": ["Add the cost of the finale fireworks.", '
                     '"When a total cost is asked, multiply the price by each count."]}')
    reflector = Reflector(mixed)
    reflector.learn_vocabulary(tasks)
    assert reflector.advantage(tasks[0], [attempt]) == [
        "When a total cost is asked, multiply the price by each count."]
    assert len(mixed.calls) == 1, "the general lesson is kept without a re-ask"

    only_specific = scripted('{"lessons": ["Multiply 3 by $4 for the finale."]}',
                             '{"lessons": ["When a total cost is asked, multiply the price by each count."]}')
    reflector = Reflector(only_specific)
    reflector.learn_vocabulary(tasks)
    assert reflector.advantage(tasks[0], [attempt]) == [
        "When a total cost is asked, multiply the price by each count."]
    assert "names 'finale' from this task only" in str(only_specific.calls[1]), "its numbers were masked as N"


def test_copied_format_placeholders_are_re_asked_and_unknown_deletes_dropped():
    """Observed with the 1.5B teacher: it copied the reply format's example ops, text "..." and all."""
    from tfgrpo_agents.experience import ExperienceLibrary
    from tfgrpo_agents.learning.reflection import Reflector

    library = ExperienceLibrary.from_texts(["When a date is asked, open the Call for Papers page first."])
    teacher = scripted('{"operations": [{"op": "ADD", "text": "..."}, {"op": "DELETE", "id": "G5"}]}',
                       '{"operations": [{"op": "ADD", "text": "When a fee is asked, open the Registration page."},'
                       ' {"op": "DELETE", "id": "G5"}]}')
    ops = Reflector(teacher).group_ops(["When a fee is asked, open the Registration page."], library)
    assert ops == [{"op": "ADD", "text": "When a fee is asked, open the Registration page."}]
    assert "operation 1: text '...' is not a lesson" in str(teacher.calls[1]["messages"][-1].content)

    placeholder_lessons = scripted('{"lessons": ["<first lesson>", "..."]}', '{"lessons": []}')
    attempt = (Trajectory(task_id="t", sample=0, question="q", reward=1.0), "summary")
    assert Reflector(placeholder_lessons).advantage(Task(id="t", question="q", answer="a"), [attempt]) == []
    assert "is the format's placeholder" in str(placeholder_lessons.calls[1]["messages"][-1].content)


def test_the_teacher_is_told_where_the_reference_answer_appeared():
    from langchain_core.messages import AIMessage as AI
    from langchain_core.messages import HumanMessage, ToolMessage, messages_to_dict

    from tfgrpo_agents.learning.reflection import Reflector, where_reference_appeared

    seen = messages_to_dict([HumanMessage("Who edited it?"),
                             AI("", tool_calls=[{"name": "web_search", "args": {"query": "q"}, "id": "c1"}]),
                             ToolMessage("What's New In Python 3.8 - Editor: - Raymond Hettinger. This article", tool_call_id="c1"),
                             AI("Guido van Rossum")])
    missed = Trajectory(task_id="t", sample=0, question="Who edited it?", messages=seen, final_answer="Guido van Rossum",
                        reward=0.0)
    right = Trajectory(task_id="t", sample=1, question="Who edited it?", messages=seen, final_answer="Raymond Hettinger",
                       reward=1.0)
    assert "appears in its tool result 1: «…What's New In Python 3.8 - Editor: - Raymond Hettinger" in \
        where_reference_appeared(missed, "raymond hettinger")
    assert "does not appear" in where_reference_appeared(Trajectory(task_id="t", sample=2, question="q"), "x")

    teacher = scripted('{"lessons": []}')
    Reflector(teacher).advantage(Task(id="t", question="Who edited it?", answer="Raymond Hettinger"),
                                 [(missed, "summary 1"), (right, "summary 2")])
    prompt = str(teacher.calls[0]["messages"][0].content)
    assert "Attempt 1 (WRONG, final answer: Guido van Rossum)" in prompt and "tool result 1" in prompt


def test_a_reply_cut_at_the_token_limit_loses_only_its_half_written_item():
    """Observed: the 1.5B teacher repeated its operations until max_tokens; the repair closed the last text."""
    from langchain_core.messages import AIMessage as AI

    from tfgrpo_agents.experience import ExperienceLibrary
    from tfgrpo_agents.learning.reflection import Reflector

    whole = '{"op": "UPDATE", "id": "G0", "text": "When a date is asked, open the Call for Papers page first."}'
    cut = AI('{"operations": [' + ", ".join([whole] * 3) + ', {"op": "UPDATE", "id": "G0", "text": "When a date is',
             response_metadata={"finish_reason": "length"})
    library = ExperienceLibrary.from_texts(["When a date is asked, open the home page."])
    ops = Reflector(scripted(cut)).consolidate([{"op": "UPDATE", "id": "G0", "text": "x y z"}], library)
    assert ops == [{"op": "UPDATE", "id": "G0", "text": "When a date is asked, open the Call for Papers page first."}]


# ------------------------------------------------------------------ reply caps per teacher stage
def test_each_teacher_stage_asks_the_endpoint_for_a_reply_cap_sized_to_what_it_writes():
    from langchain_openai import ChatOpenAI

    from tfgrpo_agents.experience import ExperienceLibrary
    from tfgrpo_agents.learning.reflection import (
        ReflectionSettings,
        Reflector,
        ReplyCaps,
    )
    from tfgrpo_agents.testing import OpenAIStub

    ops = json.dumps({"operations": [{"op": "ADD", "text": "Open the page the search result names before answering."}]})
    task = Task(id="t1", question="Which year?", answer="1999")
    trajectory = Trajectory(task_id="t1", sample=0, question="Which year?", final_answer="1999", reward=1.0)
    with OpenAIStub(replies=["It searched once and answered.", ops, ops]) as stub:
        teacher = ChatOpenAI(model="stub-model", base_url=stub.base_url, api_key="x", max_retries=0, max_tokens=700)
        reflector = Reflector(teacher, ReflectionSettings(reply_caps=ReplyCaps(summarize=300, base=50, per_item=70)))
        reflector.summarize(task, trajectory, ExperienceLibrary())
        reflector.group_ops(["Open the page the search result names before answering.", "lesson two about pages",
                             "lesson three"], ExperienceLibrary())
        proposals = [{"op": "ADD", "text": "Open the page the search result names before answering."}]
        assert reflector.consolidate(proposals, ExperienceLibrary())[0]["op"] == "ADD"
        caps = [r.get("max_completion_tokens", r.get("max_tokens")) for r in stub.requests]
        assert caps == [300, 50 + 3 * 70, 50 + 70]

        # a cap never raises the teacher's own limit, and no caps leaves the limit alone
        stub.replies = ["summary", "summary"]
        tight = ChatOpenAI(model="stub-model", base_url=stub.base_url, api_key="x", max_retries=0, max_tokens=120)
        Reflector(tight).summarize(task, trajectory, ExperienceLibrary())
        Reflector(teacher, ReflectionSettings(reply_caps=None)).summarize(task, trajectory, ExperienceLibrary())
        assert [r.get("max_completion_tokens", r.get("max_tokens")) for r in stub.requests[3:]] == [120, 700]

        # the local model's text tool-call adapter is a wrapper: its inner model is capped
        from tfgrpo_agents.models.text_tools import TextToolCallingModel

        stub.replies = ["summary"]
        Reflector(TextToolCallingModel(inner=teacher), ReflectionSettings(reply_caps=ReplyCaps(summarize=90))).summarize(
            task, trajectory, ExperienceLibrary())
        assert stub.requests[-1].get("max_completion_tokens", stub.requests[-1].get("max_tokens")) == 90
