"""The examples run as users would run them, against a scripted OpenAI-compatible server."""

import os
import subprocess
import sys
from pathlib import Path

from tests.openai_stub import OpenAIStub

ROOT = Path(__file__).resolve().parent.parent


def test_plug_into_create_agent_example_injects_the_saved_library():
    with OpenAIStub(["March 3"]) as stub:
        env = {**os.environ, "OPENAI_BASE_URL": stub.base_url, "OPENAI_API_KEY": "test"}
        out = subprocess.run([sys.executable, str(ROOT / "examples" / "plug_into_create_agent.py")],
                             env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "March 3"
    system = stub.requests[0]["messages"][0]
    assert system["role"] == "system"
    assert system["content"].startswith("You answer questions about websites.")
    assert "[G0] When a question asks for a deadline or date" in system["content"]
