"""Well-formed tool calls from the embedded model, with and without the text tool-call adapter.

    python bench/tool_call_recovery.py [--prompts 20] [--episodes]

20 fixed prompts (synthetic-web questions with their website). "Without the adapter" binds the
tools the OpenAI way against llama-server started with ``--jinja`` (its own tool parser); "with"
uses TextToolCallingModel against a plain server. A first reply counts as well-formed when it
carries a tool call naming a bound tool with arguments that fit its schema. ``--episodes`` also
runs full ReAct episodes (max 5 steps) and counts those that end with an answer.
"""

from __future__ import annotations

import argparse
import time

from langchain_core.messages import HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI

from tfgrpo_agents.agents import build_react_agent
from tfgrpo_agents.core.rollout import task_prompt
from tfgrpo_agents.datasets.synthetic_web import PUBLIC_ROOT
from tfgrpo_agents.demo import synthetic_web_dir
from tfgrpo_agents.learning import load_tasks
from tfgrpo_agents.models.local_model import LlamaServer
from tfgrpo_agents.models.text_tools import parse_text_tool_calls, tool_specs
from tfgrpo_agents.prompts import WEB_SYSTEM_PROMPT
from tfgrpo_agents.tools import LocalWeb


def valid(calls: list[dict], specs: list[dict]) -> bool:
    import json

    text = json.dumps([{"name": c["name"], "arguments": c["args"]} for c in calls])
    return bool(calls) and len(parse_text_tool_calls(text, specs)) == len(calls)


def first_turns(model, tools, prompts) -> tuple[int, float]:
    specs = tool_specs(tools)
    bound = model.bind_tools(tools)
    good, start = 0, time.monotonic()
    for prompt in prompts:
        try:
            reply = bound.invoke([SystemMessage(WEB_SYSTEM_PROMPT), HumanMessage(prompt)])
            good += valid(reply.tool_calls, specs)
        except Exception as exc:  # a server error counts as a malformed call
            print("error:", exc)
    return good, (time.monotonic() - start) / len(prompts)


def episodes(model, tools, prompts) -> tuple[int, int, float]:
    agent = build_react_agent(model, tools, system_prompt=WEB_SYSTEM_PROMPT, max_steps=5)
    answered = forced = 0
    start = time.monotonic()
    for prompt in prompts:
        result = agent.invoke({"messages": [HumanMessage(prompt)]})
        answered += bool((result.get("final_answer") or "").strip())
        forced += bool(result.get("forced_final"))
    return answered, forced, (time.monotonic() - start) / len(prompts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prompts", type=int, default=20)
    parser.add_argument("--episodes", action="store_true")
    args = parser.parse_args()
    data = synthetic_web_dir(__import__("pathlib").Path("/tmp"))
    tasks = (load_tasks(data / "test.jsonl") + load_tasks(data / "train.jsonl"))[: args.prompts]
    prompts = [task_prompt(t) for t in tasks]
    rows = []
    with LocalWeb(data / "site", public_url=PUBLIC_ROOT) as web:
        tools = web.tools()
        with LlamaServer("local", extra_args=("--jinja",)) as server:
            native = ChatOpenAI(model=server.model_id, base_url=server.base_url, api_key="local", temperature=0.0,
                                max_tokens=300, max_retries=0, timeout=120)
            good, seconds = first_turns(native, tools, prompts)
            rows.append(("without adapter (server tool parser, --jinja)", good, seconds))
            if args.episodes:
                answered, forced, per = episodes(native, tools, prompts)
                rows.append(("  episodes without adapter: answered / forced", answered, per, forced))
        with LlamaServer("local") as server:
            adapted = server.chat_model(temperature=0.0, max_tokens=300)
            good, seconds = first_turns(adapted, tools, prompts)
            rows.append(("with TextToolCallingModel", good, seconds))
            if args.episodes:
                answered, forced, per = episodes(adapted, tools, prompts)
                rows.append(("  episodes with adapter: answered / forced", answered, per, forced))
    print(f"\n{len(prompts)} prompts, Qwen2.5-Coder-1.5B-Instruct Q4_K_M, temperature 0\n")
    print("| configuration | count | s per prompt/episode | forced answers |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row[0]} | {row[1]}/{len(prompts)} | {row[2]:.1f} | {row[3] if len(row) > 3 else ''} |")


if __name__ == "__main__":
    main()
