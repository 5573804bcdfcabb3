"""Validated updates: a step's library change is kept only if it does not lower the mean reward on a
validation batch of training tasks (same seeds, paired); otherwise it is rolled back and the report says so."""

import json
import subprocess
import sys

from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from tests.scripted_world import WorldChatModel, make_tasks, openai_reply
from tfgrpo_agents.agents import LessonDelivery, build_react_agent
from tfgrpo_agents.learning import (
    LearnSettings,
    MathGrader,
    Task,
    TrainingFreeGRPO,
    ValidationSettings,
)
from tfgrpo_agents.learning.grpo import validation_batch
from tfgrpo_agents.testing import OpenAIStub
from tfgrpo_agents.tools import python_exec_tool

KINDS = ["mixed", "mixed", "right", "mixed"]


class MisledByLessons(WorldChatModel):
    """The world's policy, except that any lesson in its prompt makes it answer one too many."""

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        result = super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)
        reply = result.generations[0].message
        taught = any("Lessons from earlier attempts" in str(m.text) for m in messages)
        if taught and "Final answer:" in reply.text:
            number = int(reply.text.rsplit(":", 1)[1])
            reply = AIMessage(content=f"Final answer: {number + 1}", usage_metadata=reply.usage_metadata)
        return ChatResult(generations=[ChatGeneration(message=reply)])


def learn(run_dir, model, validation, kinds=KINDS, tasks=None, delivery=None):
    tool = python_exec_tool()
    delivery = delivery or LessonDelivery()
    settings = LearnSettings(name="v", domain="math", group_size=2, epochs=1, batch_size=4, seed=7, max_steps=4,
                             concurrency=3, model_id="gpt-4o-mini", validation=validation, delivery=delivery)
    learner = TrainingFreeGRPO(
        agent_factory=lambda library: build_react_agent(model, [tool], system_prompt="Add.", experiences=library,
                                                        max_steps=4, delivery=delivery),
        teacher=WorldChatModel(), run_dir=run_dir, settings=settings, grader=MathGrader())
    return learner, learner.fit([Task.model_validate(t) for t in tasks or make_tasks(kinds)])


def test_a_change_that_helps_is_kept_and_its_cost_is_in_the_ledger(tmp_path):
    _, plain = learn(tmp_path / "plain", WorldChatModel(), None)
    learner, checked = learn(tmp_path / "checked", WorldChatModel(), ValidationSettings(tasks=3))
    verdict = checked.reports[0].validation
    assert verdict["kept"] and verdict["mean_reward_after"] >= verdict["mean_reward_before"]
    assert verdict["rollouts"] == 6, "3 tasks × 1 sample, before and after"
    assert [e.text for e in checked.library.experiences] == [e.text for e in plain.library.experiences]
    assert plain.reports[0].validation is None, "off by default, as in the paper"
    assert learner.ledger().summary()["validation_tokens"] > 0
    saved = json.loads((tmp_path / "checked" / "steps" / "step-0001" / "validation.json").read_text())
    assert len(saved["rewards_before"]) == len(saved["rewards_after"]) == 3


def test_a_change_that_hurts_is_rolled_back(tmp_path):
    learner, result = learn(tmp_path / "run", MisledByLessons(), ValidationSettings(tasks=4))
    verdict = result.reports[0].validation
    assert not verdict["kept"] and verdict["mean_reward_after"] < verdict["mean_reward_before"]
    assert len(result.library) == 0 and result.reports[0].applied == []
    # a resumed run decides the same from its cache and runs nothing again
    again = learner.fit([Task.model_validate(t) for t in make_tasks(KINDS)])
    assert len(again.library) == 0


def test_a_library_validated_by_an_earlier_step_is_not_charged_again(tmp_path):
    learner, result = learn(tmp_path / "run", MisledByLessons(), ValidationSettings(tasks=4), kinds=KINDS * 2)
    first, second = (report.validation for report in result.reports)
    assert not first["kept"] and not second["kept"], "both steps propose a lesson; both are rolled back"
    assert not first["before_reused"] and first["rollouts"] == 8, "4 tasks before and after"
    # step 2's "before" is still the empty library: its rollouts are step 1's, read from the cache
    assert second["before_reused"] and second["rollouts"] == 4
    steps = learner.ledger().steps
    assert steps[1].stages["validate"].calls < steps[0].stages["validate"].calls


def test_the_validation_batch_is_drawn_once_with_the_seed():
    tasks = [Task.model_validate(t) for t in make_tasks(["right"] * 10)]
    settings = LearnSettings(name="v", seed=3, validation=ValidationSettings(tasks=4))
    assert validation_batch(tasks, settings) == validation_batch(tasks, settings)
    assert sorted(t.id for t in validation_batch(tasks, settings)) == sorted(t.id for t in tasks), "then the others"
    other_seed = settings.model_copy(update={"seed": 4})
    assert [t.id for t in validation_batch(tasks, other_seed)] != [t.id for t in validation_batch(tasks, settings)]
    assert validation_batch(tasks, settings.model_copy(update={"validation": None})) == []


RELEVANT = LessonDelivery(relevant_only=True)


def test_with_relevant_delivery_a_change_is_tried_only_on_the_tasks_it_touches(tmp_path):
    """A lesson shown only to the tasks it matches leaves the others' prompts, and their paired rollouts,
    as they were: the verdict is taken on the tasks whose lessons change (with 8 random tasks, the 1.5B
    run decided on the one or two a lesson applied to, BENCHMARKS.md §1p)."""
    odd = [{"id": f"o{a}", "question": f"[right] Among sums of odd numbers. What is {a} + {a + 3}?",
            "answer": str(2 * a + 3)} for a in (1, 3)]
    plain = [{"id": f"p{a}", "question": f"[mixed] What is {a} + {a + 3}?", "answer": str(2 * a + 3)} for a in (5, 7)]
    _, result = learn(tmp_path / "run", MisledByLessons(), ValidationSettings(tasks=2), tasks=plain + odd,
                      delivery=RELEVANT)
    verdict = result.reports[0].validation
    saved = json.loads((tmp_path / "run" / "steps" / "step-0001" / "validation.json").read_text())
    assert verdict["tasks"] == 2 and sorted(saved["rewards_after"]) == ["o1/0", "o3/0"], \
        "the two tasks the lesson is shown to, however the batch was drawn"
    assert not verdict["kept"] and len(result.library) == 0


def test_with_relevant_delivery_a_change_no_task_sees_is_kept_without_rollouts(tmp_path):
    _, result = learn(tmp_path / "run", MisledByLessons(), ValidationSettings(tasks=4), delivery=RELEVANT)
    verdict = result.reports[0].validation
    assert verdict["kept"] and verdict["tasks"] == 0 and verdict["rollouts"] == 0
    assert result.library.texts() == ["When asked for sums of odd numbers, trust the printed tool result."]


class MisledByOddLessons(WorldChatModel):
    """The world's policy, except that the lesson about odd numbers makes it answer one too many."""

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        result = super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)
        reply = result.generations[0].message
        taught = any(m.type == "system" and "sums of odd numbers" in str(m.text) for m in messages)
        if taught and "Final answer:" in reply.text:
            number = int(reply.text.rsplit(":", 1)[1])
            reply = AIMessage(content=f"Final answer: {number + 1}", usage_metadata=reply.usage_metadata)
        return ChatResult(generations=[ChatGeneration(message=reply)])


def learn_two_topics(run_dir):
    """A step whose plan holds a right lesson (small numbers) and a wrong one (odd numbers), each shown to its
    own tasks."""
    def ask(kind, topic, a):
        return {"id": f"{topic}{a}", "question": f"[{kind}] Among sums of {topic} numbers. What is {a} + {a + 3}?",
                "answer": str(2 * a + 3)}

    learning = [{"id": f"m{a}", "question": f"[mixed] What is {a} + {a + 3}?", "answer": str(2 * a + 3)}
                for a in (4, 5, 6, 7)]
    return learn(run_dir, MisledByOddLessons(), ValidationSettings(tasks=4), delivery=RELEVANT,
                 tasks=learning + [ask("right", "odd", 1), ask("mixed", "small", 2)])


def test_with_relevant_delivery_each_operation_is_judged_on_its_own_tasks(tmp_path):
    """One step's plan held a right lesson and a wrong one (the 1.5B run): only the wrong one goes."""
    _, result = learn_two_topics(tmp_path / "run")
    verdict = result.reports[0].validation
    assert [op["text"] for op in verdict["rolled_back"]] == [
        "When asked for sums of odd numbers, trust the printed tool result."]
    assert not verdict["kept"] and verdict["tasks"] == 2
    assert result.library.texts() == ["When asked for sums of small numbers, trust the printed tool result."]


def test_the_cli_validates_with_several_samples_per_task(tmp_path):
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(json.dumps(t) + "\n" for t in make_tasks(KINDS)))
    with OpenAIStub(reply_fn=openai_reply) as stub:
        done = subprocess.run(
            [sys.executable, "-m", "tfgrpo_agents.cli", "learn", "--tasks", str(tasks), "--agent", "math",
             "--model", "gpt-4o-mini", "--base-url", stub.base_url, "--group-size", "2", "--epochs", "1",
             "--batch-size", "4", "--seed", "7", "--validate", "2", "--validate-samples", "2",
             "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "step 1: validation: " in done.stdout, "the step report says what validation decided"
    saved = json.loads((tmp_path / "run" / "steps" / "step-0001" / "validation.json").read_text())
    assert len(saved["rewards_before"]) == len(saved["rewards_after"]) == 4, "2 tasks × 2 samples"
    assert sorted({key.split("/")[1] for key in saved["rewards_after"]}) == ["0", "1"]


def test_an_experience_text_made_of_no_lesson_never_reaches_the_library(tmp_path):
    """Seen with the 1.5B teacher: consolidation filed "The lesson has been updated to provide a more detailed
    and accurate guide …" as the step's one experience."""
    meta = "The lesson has been updated to provide a more detailed and accurate guide for the agent."
    tool = python_exec_tool()

    def learner(run_dir, teacher):
        settings = LearnSettings(name="g", domain="math", group_size=2, epochs=1, batch_size=4, seed=7, max_steps=4,
                                 concurrency=3)
        return TrainingFreeGRPO(
            agent_factory=lambda library: build_react_agent(WorldChatModel(), [tool], system_prompt="Add.",
                                                            experiences=library, max_steps=4),
            teacher=teacher, run_dir=run_dir, settings=settings, grader=MathGrader())

    # the teacher is re-asked, then the groups' own proposals are applied
    teacher = WorldChatModel(teacher_override=lambda prompt: json.dumps(
        {"operations": [{"op": "ADD", "text": meta}]}) if "[stage: consolidate]" in prompt else None)
    result = learner(tmp_path / "asked", teacher).fit([Task.model_validate(t) for t in make_tasks(KINDS)])
    assert result.library.texts() == ["When asked for sums of odd numbers, trust the printed tool result."]

    # and a plan that holds such a text anyway (a teacher's reply taken as it is) is filtered before it applies
    trusting = learner(tmp_path / "trusted", WorldChatModel())
    trusting.reflector.consolidate = lambda proposals, library, config=None: [{"op": "ADD", "text": meta}]
    result = trusting.fit([Task.model_validate(t) for t in make_tasks(KINDS)])
    assert result.library.texts() == ["When asked for sums of odd numbers, trust the printed tool result."]
    saved = json.loads((tmp_path / "trusted" / "steps" / "step-0001" / "consolidation.json").read_text())
    assert [op["text"] for op in saved["dropped"]] == [meta], "the groups' own proposals are applied instead"


class SlipsAt(WorldChatModel):
    """The world's policy, except that with a lesson in its prompt it answers one too many at the given
    rollout seeds (all of them when ``seeds`` is None)."""

    seeds: frozenset | None = None
    trigger: str = "sums of odd numbers"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        result = super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)
        reply = result.generations[0].message
        taught = any(m.type == "system" and self.trigger in str(m.text) for m in messages)
        slips = self.seeds is None or int(kwargs.get("seed") or 0) in self.seeds
        if taught and slips and "Final answer:" in reply.text:
            number = int(reply.text.rsplit(":", 1)[1])
            reply = AIMessage(content=f"Final answer: {number + 1}", usage_metadata=reply.usage_metadata)
        return ChatResult(generations=[ChatGeneration(message=reply)])


def test_a_lesson_that_lost_one_rollout_on_solved_tasks_is_settled_by_more_rollouts(tmp_path):
    """A right lesson for tasks the agent already solves can at best tie, so one slipped rollout rolled it
    back (the 1.5B run's workshop-chair lesson, BENCHMARKS.md §1q): with ``settle_samples`` it is tried on
    more paired rollouts and kept if it loses no more; a lesson that keeps losing is still rolled back."""
    from tfgrpo_agents.core.rollout import rollout_seed

    solved = [{"id": f"o{a}", "question": f"[right] Among sums of odd numbers. What is {a} + {a + 3}?",
               "answer": str(2 * a + 3)} for a in (1, 3)]
    teaching = [{"id": f"p{a}", "question": f"[mixed] What is {a} + {a + 3}?", "answer": str(2 * a + 3)}
                for a in (5, 7)]
    once = frozenset({rollout_seed(7, 0, "o1", 0)})  # the first validation rollout of o1 slips

    def verdict_of(name, model, settle):
        _, result = learn(tmp_path / name, model, ValidationSettings(tasks=2, settle_samples=settle),
                          tasks=teaching + solved, delivery=RELEVANT)
        saved = json.loads((tmp_path / name / "steps" / "step-0001" / "validation.json").read_text())
        return result, result.reports[0].validation, saved

    result, verdict, saved = verdict_of("unsettled", SlipsAt(seeds=once), 0)
    assert not verdict["kept"] and len(saved["rewards_after"]) == 2, "2/2 → 1/2: rolled back, as before"

    result, verdict, saved = verdict_of("settled", SlipsAt(seeds=once), 2)
    assert verdict["kept"] and verdict["settled_on"] == ["o1", "o3"]
    assert sorted(saved["rewards_after"]) == [f"{t}/{s}" for t in ("o1", "o3") for s in range(3)]
    assert (verdict["mean_reward_before"], verdict["mean_reward_after"]) == (1.0, 0.8333)
    assert result.library.texts() == ["When asked for sums of odd numbers, trust the printed tool result."]

    result, verdict, saved = verdict_of("losing", SlipsAt(seeds=None), 2)
    assert not verdict["kept"] and verdict["settled_on"] == [] and len(saved["rewards_after"]) == 2, \
        "0/2: a loss of two rollouts is not settled"
    assert len(result.library) == 0

    twice = frozenset({*once, rollout_seed(7, 0, "o3", 1)})  # one slip in the first look, one in the extra rollouts
    result, verdict, _ = verdict_of("slips-again", SlipsAt(seeds=twice), 2)
    assert not verdict["kept"] and verdict["settled_on"] == ["o1", "o3"] and len(result.library) == 0


def test_the_step_line_says_when_a_loss_was_tried_again():
    from tfgrpo_agents.cli.common import validation_verdict

    verdict = {"kept": True, "tasks": 2, "rollouts": 10, "mean_reward_before": 1.0, "mean_reward_after": 0.8333,
               "rolled_back": [], "settled_on": ["o1", "o3"]}
    assert validation_verdict(verdict) == ("validation: kept (mean reward 1.0 → 0.8333 on 2 tasks, 10 new rollouts; "
                                           "a one-rollout loss tried again on 2 tasks)")
    assert validation_verdict({**verdict, "settled_on": []}).endswith("10 new rollouts)")


def test_an_operation_the_teacher_repeats_is_validated_once_on_the_tasks_it_touches(tmp_path):
    """The 1.5B teacher's consolidation wrote the same three operations five times; leaving one copy out at a time,
    validation saw no task touched and kept the change untried (BENCHMARKS.md §1r)."""
    odd = [{"id": f"o{a}", "question": f"[right] Among sums of odd numbers. What is {a} + {a + 3}?",
            "answer": str(2 * a + 3)} for a in (1, 3)]
    plain = [{"id": f"p{a}", "question": f"[mixed] What is {a} + {a + 3}?", "answer": str(2 * a + 3)} for a in (5, 7)]
    lesson = {"op": "ADD", "text": "When asked for sums of odd numbers, trust the printed tool result."}
    tool = python_exec_tool()
    settings = LearnSettings(name="v", domain="math", group_size=2, epochs=1, batch_size=4, seed=7, max_steps=4,
                             concurrency=3, validation=ValidationSettings(tasks=2), delivery=RELEVANT)
    learner = TrainingFreeGRPO(
        agent_factory=lambda library: build_react_agent(MisledByLessons(), [tool], system_prompt="Add.",
                                                        experiences=library, max_steps=4, delivery=RELEVANT),
        teacher=WorldChatModel(), run_dir=tmp_path / "run", settings=settings, grader=MathGrader())
    learner.reflector.consolidate = lambda proposals, library, config=None: [dict(lesson) for _ in range(3)]
    result = learner.fit([Task.model_validate(t) for t in plain + odd])
    saved = json.loads((tmp_path / "run" / "steps" / "step-0001" / "consolidation.json").read_text())
    assert [(op["text"], op["support"]) for op in saved["plan"]] == [(lesson["text"], 3)]
    verdict = result.reports[0].validation
    assert verdict["tasks"] == 2 and not verdict["kept"] and len(result.library) == 0


def test_a_lesson_the_consolidation_loses_is_validated_instead_of_dropped_unseen(tmp_path):
    """Told to merge a step's proposals, the 1.5B teacher wrote updates of what the library already said, and the
    lessons for two kinds of task were gone before validation could try them (BENCHMARKS.md §1s)."""
    lessons = {1: "When adding small numbers, trust the printed tool result.",
               3: "When asked for sums of larger values, trust the printed tool result and never recount."}

    def distinct_lessons(prompt):  # the reference answer 2a + 3 tells the task
        if "[stage: advantage]" not in prompt:
            return None
        a = (int(prompt.split("Reference answer: ", 1)[1].split()[0]) - 3) // 2
        return json.dumps({"lessons": [lessons.get(a, lessons[1])]})

    def run(name, validation):
        tool = python_exec_tool()
        settings = LearnSettings(name="v", domain="math", group_size=2, epochs=1, batch_size=4, seed=7, max_steps=4,
                                 concurrency=3, validation=validation)
        learner = TrainingFreeGRPO(
            agent_factory=lambda library: build_react_agent(WorldChatModel(), [tool], system_prompt="Add.",
                                                            experiences=library, max_steps=4),
            teacher=WorldChatModel(teacher_override=distinct_lessons), run_dir=tmp_path / name, settings=settings,
            grader=MathGrader())
        learner.reflector.consolidate = lambda proposals, library, config=None: [dict(proposals[0])]
        result = learner.fit([Task.model_validate(t) for t in make_tasks(["mixed"] * 4)])
        saved = json.loads((tmp_path / name / "steps" / "step-0001" / "consolidation.json").read_text())
        return result, saved

    result, saved = run("unvalidated", None)
    assert result.library.texts() == [lessons[1]] and saved["restored"] == [], "without validation: as the paper"
    result, saved = run("validated", ValidationSettings(tasks=2))
    assert [op["text"] for op in saved["restored"]] == [lessons[3]]
    assert [op["text"] for op in saved["plan"]] == [lessons[1], lessons[3]]
    assert sorted(result.library.texts()) == sorted(lessons.values()), "both helped on validation, both kept"


def test_a_lesson_the_library_holds_is_deleted_or_rewritten_only_on_a_gain(tmp_path):
    """The 1.5B teacher's consolidation deleted two right office lessons and overwrote a right venue lesson with a
    copied room number, and validation on solved tasks called it a tie (BENCHMARKS.md §1s, §1u): removing a lesson
    now carries the burden of proof, while the rest of the plan is judged as before."""
    from tfgrpo_agents.cli.common import validation_verdict
    from tfgrpo_agents.core.rollout import rollout_seed
    from tfgrpo_agents.experience import ExperienceLibrary

    held = "When asked for sums of odd numbers, check the question twice."
    neutral = "When asked for sums of small numbers, read the question twice."  # changes no answer of the policy
    tasks = [Task.model_validate(t) for t in make_tasks(["mixed"] * 4)]

    def run(name, removal, model=None, **validation):
        library = ExperienceLibrary.from_texts([held])
        tool = python_exec_tool()
        settings = LearnSettings(name="v", domain="math", group_size=2, epochs=1, batch_size=4, seed=7, max_steps=4,
                                 concurrency=3, validation=ValidationSettings(tasks=4, **validation))
        teacher = WorldChatModel(teacher_override=lambda prompt: json.dumps({"lessons": [neutral]})
                                 if "[stage: advantage]" in prompt else None)
        learner = TrainingFreeGRPO(
            agent_factory=lambda lib: build_react_agent(model or WorldChatModel(), [tool], system_prompt="Add.",
                                                        experiences=lib, max_steps=4),
            teacher=teacher, run_dir=tmp_path / name, settings=settings, grader=MathGrader(), initial_library=library)
        lesson_id = library.experiences[0].id
        learner.reflector.consolidate = lambda proposals, lib, config=None: [{**removal, "id": lesson_id},
                                                                              *proposals[:1]]
        result = learner.fit(tasks)
        return result, result.reports[0].validation

    delete = {"op": "DELETE"}
    result, verdict = run("tie", delete)
    assert verdict["mean_reward_after"] == verdict["mean_reward_before"], "neither lesson changes an answer: a tie"
    assert result.library.texts() == [held, neutral], "the deletion undone, the addition kept"
    assert [op["op"] for op in verdict["unproven_removals"]] == ["DELETE"] and not verdict["kept"]
    assert validation_verdict(verdict).endswith("; 1 deletion or rewrite of a lesson undone, no gain shown")
    result, _ = run("tie-allowed", delete, removals_must_gain=False)
    assert result.library.texts() == [neutral], "without the rule a tie keeps the deletion, as before"

    rewrite = {"op": "UPDATE", "text": "When asked for sums of small numbers, check the question twice."}
    result, verdict = run("rewritten", rewrite)
    assert result.library.texts() == [held, neutral] and verdict["unproven_removals"][0]["op"] == "UPDATE"

    class SlipsWhenChecking(SlipsAt):
        trigger: str = "check the question twice"

    # a lesson that costs rollouts at the validation seeds: deleting it shows a gain, and it goes
    slips = frozenset(rollout_seed(7, 0, task.id, 0) for task in tasks)
    result, verdict = run("harmful", delete, model=SlipsWhenChecking(seeds=slips))
    assert verdict["mean_reward_after"] > verdict["mean_reward_before"] == 0.0
    assert result.library.texts() == [neutral] and verdict["unproven_removals"] == []


def test_a_run_judged_again_from_its_record_gets_the_verdicts_it_got(tmp_path, capsys, monkeypatch):
    """`bench/validation_replay.py` judges a run's recorded rewards with the learner's own rules: with the rules
    unchanged it must give every step the verdict the run gave (BENCHMARKS.md §1u replays a run under a new rule)."""
    from bench.validation_replay import main as replay
    from tfgrpo_agents.experience import load_library

    _, result = learn_two_topics(tmp_path / "run")
    assert result.reports[0].validation["rolled_back"], "a run with an operation rolled back and one kept"
    monkeypatch.setattr(sys, "argv", ["validation_replay.py", str(tmp_path / "run"), "--out",
                                      str(tmp_path / "replayed.json")])
    replay()
    lines = capsys.readouterr().out.splitlines()
    verdicts = [line.split(": ")[1].split("   ")[0] for line in lines if line.startswith("  ADD")]
    assert verdicts == ["rolled back → rolled back", "kept → kept"], lines
    assert load_library(tmp_path / "replayed.json").texts() == result.library.texts()
