"""Task sets from the Hugging Face hub: paged download, local cache, offline reuse, clear errors."""

import httpx
import pytest

from tfgrpo_agents.core.hub import HubError, fetch, parse_spec
from tfgrpo_agents.learning import TaskFileError, load_tasks

ROWS = [{"question": f"Q{i}: 2 + {i}?", "answer": f"Add them.\n#### {2 + i}"} for i in range(230)]


def hub(requests: list[dict]):
    def handle(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        requests.append(params)
        if params["dataset"] != "openai/gsm8k" or params["config"] != "main":
            return httpx.Response(404, json={"error": "not found"})
        offset, length = int(params["offset"]), int(params["length"])
        rows = [{"row_idx": i, "row": ROWS[i]} for i in range(offset, min(offset + length, len(ROWS)))]
        return httpx.Response(200, json={"rows": rows, "num_rows_total": len(ROWS)})

    return httpx.Client(transport=httpx.MockTransport(handle))


def test_spec_defaults_and_errors():
    assert parse_spec("hf:openai/gsm8k:main:test") == ("openai/gsm8k", "main", "test")
    assert parse_spec("hf:openai/gsm8k") == ("openai/gsm8k", "default", "test")
    assert parse_spec("hf:openai/gsm8k:main") == ("openai/gsm8k", "main", "test")
    with pytest.raises(ValueError, match="OWNER/DATASET"):
        parse_spec("hf:gsm8k")


def test_a_split_is_paged_in_cached_and_loaded_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("TFGRPO_CACHE", str(tmp_path))
    requests: list[dict] = []
    path = fetch("hf:openai/gsm8k:main:test", client=hub(requests))
    assert [int(r["offset"]) for r in requests] == [0, 100, 200]
    assert len(path.read_text().splitlines()) == 230
    tasks = load_tasks("hf:openai/gsm8k:main:test")  # from the cache: no client, no network
    assert len(tasks) == 230 and (tasks[3].question, tasks[3].answer, tasks[3].id) == ("Q3: 2 + 3?", "5", "3")
    assert tasks[3].metadata["solution"].endswith("#### 5")


def test_an_unknown_dataset_or_no_network_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TFGRPO_CACHE", str(tmp_path))
    with pytest.raises(HubError, match="cannot fetch hf:openai/gsm8k:socratic:test"):
        fetch("hf:openai/gsm8k:socratic:test", client=hub([]))
    assert not list(tmp_path.rglob("*.jsonl")), "nothing half-written is left in the cache"

    def offline(request):
        raise httpx.ConnectError("no route to host")

    real_client = httpx.Client
    monkeypatch.setattr(httpx, "Client", lambda **kw: real_client(transport=httpx.MockTransport(offline)))
    with pytest.raises(TaskFileError, match="offline, pass a local task file"):
        load_tasks("hf:openai/gsm8k:main:test")
