"""Packaging facts a user relies on."""

import subprocess
import sys


def test_import_is_light():
    code = "import sys, tfgrpo_agents; print(any(m.startswith(('langchain', 'langgraph')) for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", "importing the package must not pull in LangChain"


def test_lazy_exports_resolve():
    import tfgrpo_agents

    assert tfgrpo_agents.ExperienceLibrary.__name__ == "ExperienceLibrary"
    assert tfgrpo_agents.build_react_agent.__name__ == "build_react_agent"
