"""Training-Free GRPO: rollouts in groups, rewards, reflection, and the experience library update."""

from tfgrpo_agents.core.rewards import (
    CallableGrader,
    ExactMatchGrader,
    Grade,
    Grader,
    LLMJudgeGrader,
    MathGrader,
    ShortAnswerGrader,
    as_grader,
    grader_for,
)
from tfgrpo_agents.core.rollout import RolloutsFailedError
from tfgrpo_agents.core.rundir import RunDir
from tfgrpo_agents.core.tasks import Task, TaskFileError, load_tasks
from tfgrpo_agents.core.trajectory import (
    TokenUsage,
    ToolCallRecord,
    Trajectory,
    TrajectoryCollector,
    load_recorded,
    read_trajectories,
    tool_calls_from_messages,
    write_trajectories,
)
from tfgrpo_agents.learning import events
from tfgrpo_agents.learning.grpo import RunMismatchError, TrainingFreeGRPO, schedule
from tfgrpo_agents.learning.ledger import DEFAULT_PRICES, Ledger, Price, load_prices
from tfgrpo_agents.learning.reflection import ReflectionSettings, Reflector
from tfgrpo_agents.learning.results import LearnResult, StepReport
from tfgrpo_agents.learning.settings import LearnSettings, ValidationSettings
from tfgrpo_agents.learning.structured import (
    StructuredCallError,
    call_structured,
    parse_tolerantly,
)

__all__ = [
    "DEFAULT_PRICES", "CallableGrader", "ExactMatchGrader", "Grade", "Grader", "LLMJudgeGrader", "LearnSettings", "ValidationSettings",
    "LearnResult", "Ledger", "MathGrader", "ShortAnswerGrader", "Price", "Reflector", "ReflectionSettings", "RolloutsFailedError", "RunDir", "RunMismatchError",
    "StepReport", "StructuredCallError", "Task", "TaskFileError", "TokenUsage", "ToolCallRecord", "TrainingFreeGRPO", "Trajectory",
    "TrajectoryCollector", "as_grader", "events", "call_structured", "grader_for", "load_prices", "load_recorded", "load_tasks", "parse_tolerantly",
    "read_trajectories", "schedule", "tool_calls_from_messages", "write_trajectories",
]
