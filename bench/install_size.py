"""The core install: size of a fresh venv with ``pip install tfgrpo-agents`` (no extras), and that it runs.

    python bench/install_size.py [--keep DIR]

Builds this checkout into a fresh virtual environment (made without pip, as uv makes them; this
interpreter's pip installs into it) without extras, prints the venv's size in MB,
then runs ExperienceMiddleware and a two-task learning run against the scripted OpenAI-compatible
server inside it. The numbers are recorded in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json, sys
from langchain.agents import create_agent
from langchain_openai import ChatOpenAI
from tfgrpo_agents.testing import OpenAIStub, completion
from tfgrpo_agents.agents import ExperienceMiddleware
from tfgrpo_agents.experience import ExperienceLibrary
from tfgrpo_agents.learning import LearnSettings, Task, TrainingFreeGRPO

def reply(body):
    text = " ".join(m.get("content") or "" for m in body["messages"])
    if "[stage: advantage]" in text:
        return completion(json.dumps({"lessons": ["When asked for a sum, add the two numbers given."]}))
    if "[stage:" in text:
        return completion(json.dumps({"operations": [{"op": "ADD", "text": "When asked for a sum, add the two numbers given."}]}))
    return completion("Final answer: " + ("5" if (body.get("seed") or 0) % 2 else "4"))

with OpenAIStub(reply_fn=reply) as stub:
    model = ChatOpenAI(model="m", base_url=stub.base_url, api_key="x")
    agent = create_agent(model, tools=[], middleware=[ExperienceMiddleware(ExperienceLibrary.from_texts(["Be brief."]))])
    agent.invoke({"messages": [("user", "hi")]})
    assert "[G0] Be brief." in stub.requests[0]["messages"][0]["content"]
    learner = TrainingFreeGRPO(
        agent_factory=lambda lib: create_agent(model, tools=[], middleware=[ExperienceMiddleware(lib)]),
        teacher=model, grader=lambda task, answer: float(answer == task.answer), run_dir=sys.argv[1],
        settings=LearnSettings(group_size=4, epochs=1, batch_size=2))
    library = learner.fit([Task(id="a", question="What is 2 + 2?", answer="4"),
                           Task(id="b", question="What is 2 + 3?", answer="5")]).library
    print("lessons:", library.texts())
"""


def size_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", type=Path, help="build the venv here and keep it")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="tfgrpo-install-"))
    venv = work / "venv"
    start = time.monotonic()
    # without pip, as uv and most tools make venvs: what is measured is what the package installs
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    bare = size_mb(venv)
    source = work / "source"  # a copy, so the build leaves nothing in the checkout
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", "bench", "tests", "build", "*.egg-info",
                                                                "__pycache__", "runs"))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                    "--disable-pip-version-check", str(source)], check=True)
    installed = time.monotonic() - start
    total = size_mb(venv)
    done = subprocess.run([str(python), "-c", PROBE, str(work / "run")], cwd=work, capture_output=True, text=True)
    print(f"venv with the core install: {total:.0f} MB ({total - bare:.0f} MB over an empty venv of {bare:.0f} MB); "
          f"created and installed in {installed:.0f} s")
    print(done.stdout.strip() or done.stderr[-2000:])
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(done.returncode)


if __name__ == "__main__":
    main()
