"""Rollouts per hour from the embedded model: parallel slots × speculative decoding × prefix reuse.

    python bench/local_throughput.py [--rollouts 6] [--configs slots1,slots2,slots4,slots2-draft,...]

The workload is fixed: the model calls of recorded rollouts (the web agent on the Python docs and on the
synthetic web), each rebuilt exactly as the agent sends it today — system prompt, tools described in the
prompt by the text-tool adapter, the conversation up to that call — and replayed against a fresh
``LlamaServer`` per configuration, ``slots`` requests in flight, 256 output tokens at most, temperature
0.7 with a fixed seed per request. What is measured, per configuration, in one run: wall time for the
whole workload (so rollouts per hour of model work), aggregate output tokens/s, prompt tokens the
server actually processed per call (the rest came from its prefix cache), and draft acceptance. Tool
time is not in it: it is the same for every configuration. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from langchain_core.messages import AIMessage, SystemMessage, messages_from_dict
from langchain_openai.chat_models.base import _convert_message_to_dict

from tfgrpo_agents.agents import is_set_aside
from tfgrpo_agents.datasets.synthetic_web import PUBLIC_ROOT
from tfgrpo_agents.learning.domains import domain_for
from tfgrpo_agents.models.local_model import LlamaServer

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
WORKLOADS = {  # name → (recorded rollouts of the web agent, the site its tools are built for, public address)
    "python-docs": (ROOT / "bench/results/python-exec-described/web-docs/eval/baseline/trajectories.jsonl",
                    SHARED / "sites" / "python-3.11-docs.tar.gz", "https://docs.python.org/3.11/"),
    "synthetic-web": (ROOT / "bench/results/web-synthetic/eval/baseline/trajectories.jsonl",
                      ROOT / "tasks" / "synthetic_web" / "site", PUBLIC_ROOT),
}


@dataclass(frozen=True)
class Config:
    name: str
    slots: int
    draft: str | None = None
    speculation: str | None = None
    cache_prompt: bool = True
    cache_reuse: int = 0

    def server(self) -> LlamaServer:
        return LlamaServer("local", parallel=self.slots, draft=self.draft, speculation=self.speculation,
                           cache_reuse=self.cache_reuse)


CONFIGS = {c.name: c for c in (
    Config("slots1", 1),
    Config("slots2", 2),
    Config("slots4", 4),
    Config("slots2-nocache", 2, cache_prompt=False),
    Config("slots2-reuse", 2, cache_reuse=256),
    Config("slots1-draft", 1, draft="local-0.5b"),
    Config("slots2-draft", 2, draft="local-0.5b"),
    Config("slots2-ngram", 2, speculation="ngram-mod"),
)}


def workload(rollouts: int) -> tuple[list[dict[str, Any]], int]:
    """Every model call of the first ``rollouts`` recorded rollouts of each workload, as chat request bodies."""
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from tfgrpo_agents.models.text_tools import TextToolCallingModel

    bodies: list[dict[str, Any]] = []
    taken = 0
    domain = domain_for("web")
    for name, (path, site, public_url) in WORKLOADS.items():
        tools, close = domain.make_tools({"site": str(site), "public_url": public_url})
        try:
            # the adapter only renders the conversation here; the requests go to the server as raw JSON
            adapter = TextToolCallingModel(inner=FakeListChatModel(responses=[""])).bind_tools(tools)
            system = SystemMessage(domain.prompt_for(tools))
            lines = path.read_text(encoding="utf-8").splitlines()[:rollouts]
            for number, line in enumerate(lines):
                messages = [m for m in messages_from_dict(json.loads(line)["messages"]) if not is_set_aside(m)]
                for index, message in enumerate(messages):
                    if isinstance(message, AIMessage):
                        text = adapter.to_text_messages([system, *messages[:index]])
                        bodies.append({"workload": name, "rollout": f"{name}-{number}",
                                       "messages": [_convert_message_to_dict(m) for m in text]})
            taken += len(lines)
        finally:
            close()
    return bodies, taken


async def replay(config: Config, bodies: list[dict[str, Any]], max_tokens: int) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    with config.server() as server:
        url = server.base_url + "/chat/completions"
        async with httpx.AsyncClient(timeout=900) as client:
            await client.post(url, json={"model": server.model_id, "messages": [{"role": "user", "content": "hi"}],
                                         "max_tokens": 4})
            queue: asyncio.Queue = asyncio.Queue()
            for number, body in enumerate(bodies):
                queue.put_nowait((number, body))

            async def worker() -> None:
                while not queue.empty():
                    number, body = queue.get_nowait()
                    request = {"model": server.model_id, "messages": body["messages"], "max_tokens": max_tokens,
                               "temperature": 0.7, "seed": number, "cache_prompt": config.cache_prompt}
                    started = time.perf_counter()
                    reply = (await client.post(url, json=request)).json()
                    timings = reply.get("timings", {})
                    results.append({"wall_s": time.perf_counter() - started,
                                    "prompt": reply["usage"]["prompt_tokens"],
                                    "output": reply["usage"]["completion_tokens"],
                                    "processed": timings.get("prompt_n"), "cached": timings.get("cache_n"),
                                    "drafted": timings.get("draft_n"), "accepted": timings.get("draft_n_accepted")})

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(config.slots)))
            wall = time.perf_counter() - started
    return {"wall_s": wall, "calls": results}


def summary(config: Config, run: dict[str, Any], rollouts: int) -> dict[str, Any]:
    calls = run["calls"]
    wall = run["wall_s"]
    drafted = sum(c["drafted"] or 0 for c in calls)
    accepted = sum(c["accepted"] or 0 for c in calls)
    return {
        "config": config.name, "slots": config.slots, "draft": config.draft, "speculation": config.speculation,
        "cache_prompt": config.cache_prompt, "cache_reuse": config.cache_reuse,
        "calls": len(calls), "wall_s": round(wall, 1),
        "rollouts_per_hour": round(rollouts / wall * 3600, 1),
        "output_tokens_per_s": round(sum(c["output"] for c in calls) / wall, 2),
        "output_tokens_per_call": round(statistics.mean(c["output"] for c in calls), 1),
        "prompt_tokens_per_call": round(statistics.mean(c["prompt"] for c in calls), 1),
        "processed_prompt_tokens_per_call": round(statistics.mean(c["processed"] or 0 for c in calls), 1),
        "median_call_s": round(statistics.median(c["wall_s"] for c in calls), 2),
        "draft_acceptance": round(accepted / drafted, 3) if drafted else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rollouts", type=int, default=6, help="recorded rollouts taken from each workload")
    parser.add_argument("--configs", default="slots1,slots2,slots4,slots2-nocache,slots1-draft,slots2-draft,slots2-ngram")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "local_throughput.json")
    args = parser.parse_args()
    configs = [CONFIGS[name] for name in args.configs.split(",")]
    bodies, rollouts = workload(args.rollouts)
    print(f"{len(bodies)} model calls from {rollouts} recorded rollouts", flush=True)
    rows = []
    for config in configs:
        row = summary(config, asyncio.run(replay(config, bodies, args.max_tokens)), rollouts)
        rows.append(row)
        print(json.dumps(row), flush=True)
    base = rows[0]["rollouts_per_hour"]
    print("\n| config | rollouts / h | × first | output tok/s | prompt tokens processed / call (of) | median call s "
          "| draft acceptance |\n|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['config']} | {row['rollouts_per_hour']} | {row['rollouts_per_hour'] / base:.2f} | "
              f"{row['output_tokens_per_s']} | {row['processed_prompt_tokens_per_call']} "
              f"({row['prompt_tokens_per_call']}) | {row['median_call_s']} | {row['draft_acceptance'] or '—'} |")
    args.out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "machine": platform.platform(),
                                    "calls": len(bodies), "rollouts": rollouts, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
