"""Grading a batch: cached for graders that cost something, asked again for string comparisons."""

from tfgrpo_agents.core.grading import grade_trajectories
from tfgrpo_agents.core.rewards import ExactMatchGrader, Grade, ShortAnswerGrader
from tfgrpo_agents.core.rundir import RunDir
from tfgrpo_agents.core.tasks import Task
from tfgrpo_agents.core.trajectory import Trajectory

TASKS = {"t1": Task(id="t1", question="Capital of France?", answer="Paris"),
         "t2": Task(id="t2", question="Two plus two?", answer="4")}


def rollouts() -> list[Trajectory]:
    return [Trajectory(task_id="t1", sample=0, question="Capital of France?", final_answer="Paris"),
            Trajectory(task_id="t2", sample=0, question="Two plus two?", final_answer="5"),
            Trajectory(task_id="t2", sample=1, question="Two plus two?", failed=True, failure="timeout")]


class CountingGrader:
    """A grader that costs something (a judge, say): its grades are cached."""

    def __init__(self) -> None:
        self.asked = 0

    def grade(self, task: Task, answer: str | None) -> Grade:
        self.asked += 1
        return Grade(reward=float(answer == task.answer), reasoning="counted")


def test_a_costly_grader_is_asked_once_per_rollout_across_runs(tmp_path):
    grader, run_dir = CountingGrader(), RunDir(tmp_path)
    first, _ = grade_trajectories(rollouts(), TASKS, grader, run_dir)
    again, _ = grade_trajectories(rollouts(), TASKS, grader, run_dir)
    assert grader.asked == 2, "the failed rollout is never graded; the others come from the cache the second time"
    assert [t.reward for t in first] == [t.reward for t in again] == [1.0, 0.0, 0.0]
    assert len(list((tmp_path / "cache" / "grade").iterdir())) == 2


def test_string_comparison_graders_write_no_cache_and_grade_the_same(tmp_path):
    for grader in (ExactMatchGrader(), ShortAnswerGrader()):
        graded, usage = grade_trajectories(rollouts(), TASKS, grader, RunDir(tmp_path))
        assert [t.reward for t in graded] == [1.0, 0.0, 0.0]
        assert graded[1].grader_reasoning.startswith("expected '4'")
        assert "rollout failed" in graded[2].grader_reasoning
        assert usage.calls == 0
    assert not (tmp_path / "cache").exists(), "an instant grade is not worth a file"


def test_an_instant_grader_that_raises_scores_zero_and_says_why(tmp_path):
    class Broken(ExactMatchGrader):
        def grade(self, task, answer):
            raise RuntimeError("bad reference")

    graded, _ = grade_trajectories(rollouts()[:1], TASKS, Broken(), RunDir(tmp_path))
    assert graded[0].reward == 0.0 and graded[0].grader_reasoning == "grader failed: RuntimeError: bad reference"
