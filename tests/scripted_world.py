"""A deterministic world for learning-loop tests: a policy and a teacher whose replies depend only
on what they are sent (and the rollout seed), so runs are reproducible across kills and resumes.

Tasks say how the policy behaves: ``[right]`` always answers correctly, ``[wrong]`` never does,
``[mixed]`` is right when the rollout seed is even. The policy first calls ``python_exec``, then
answers. The teacher recognises each reflection stage by the ``[stage: …]`` tag of its prompt.

Experiences change the policy, so comparisons have a known effect: with TRUST in its prompt it
gets ``[mixed]`` tasks right; with SKIP_TOOL it answers without calling the tool (and right,
except ``[wrong]`` tasks). Directly generated tips (GENERIC_TIPS) change nothing.
"""

from __future__ import annotations

import json
import re
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

_SUM = re.compile(r"What is (\d+) \+ (\d+)\?")
TRUST = "trust the printed tool result"
SKIP_TOOL = "add small numbers without calling a tool"
GENERIC_TIPS = ["Read the question carefully.", "Double-check your work before answering."]


def make_tasks(kinds: list[str]) -> list[dict[str, Any]]:
    return [{"id": f"t{i}", "question": f"[{kind}] What is {i} + {i + 3}?", "answer": str(2 * i + 3)}
            for i, kind in enumerate(kinds)]


def expected_correct(question: str, seed: int) -> bool:
    if question.startswith("[right]"):
        return True
    if question.startswith("[wrong]"):
        return False
    return seed % 2 == 0


def answers_right(question: str, seed: int, experiences: str = "") -> bool:
    """The policy's rule, for tests' expectations: the seed, or what the experiences taught it."""
    context = experiences.lower()
    learned = not question.startswith("[wrong]") and (TRUST in context or SKIP_TOOL in context)
    return expected_correct(question, seed) or learned


def policy_reply(messages: list[tuple[str, str]], seed: int) -> dict[str, Any]:
    question = next(text for role, text in messages if role == "user")
    context = " ".join(text for role, text in messages if role in ("system", "user")).lower()
    a, b = map(int, _SUM.search(question).groups())
    skip_tool = SKIP_TOOL in context
    if messages[-1][0] != "tool" and not skip_tool:
        return {"content": "", "tool_calls": [{"name": "python_exec", "args": {"code": f"print({a} + {b})"}}]}
    right = answers_right(question, seed, context)
    answer = a + b if right else a + b + 1
    return {"content": f"The sum is known.\nFinal answer: {answer}"}


def _lines_after(prompt: str, heading: str) -> list[str]:
    block = prompt.split(heading, 1)[1].split("\n\n", 1)[0]
    return [line[2:].strip() for line in block.splitlines() if line.startswith("- ")]


def teacher_reply(prompt: str) -> str:
    if "[stage: summarize]" in prompt:
        outcome = "WRONG" if "Outcome: WRONG" in prompt else "CORRECT"
        return f"1. called python_exec to add the numbers.\n2. answered ({outcome}).\nDetours: none\nMissed: none"
    if "[stage: advantage]" in prompt:
        # The task's numbers are masked in this prompt; the reference answer 2a + 3 still tells a's parity.
        a = (int(re.search(r"Reference answer: (\d+)", prompt).group(1)) - 3) // 2
        topic = "sums of small numbers" if a % 2 == 0 else "sums of odd numbers"
        return "```json\n" + json.dumps({"lessons": [f"When asked for {topic}, {TRUST}."]}) + "\n```"
    if "[stage: group_ops]" in prompt:
        return json.dumps({"operations": [{"op": "ADD", "text": lesson} for lesson in _lines_after(prompt, "New lessons:\n")]})
    if "[stage: consolidate]" in prompt:
        seen, operations = set(), []
        for line in _lines_after(prompt, "Proposed operations:\n"):
            text = line.split(":", 1)[1].strip() if ":" in line else line
            if text not in seen:
                seen.add(text)
                operations.append({"op": "ADD", "text": text})
        return "Here is the plan:\n" + json.dumps({"operations": operations})
    if "[stage: direct_tips]" in prompt:
        return json.dumps({"lessons": GENERIC_TIPS})
    return "I do not understand the request."


def reply(messages: list[tuple[str, str]], params: dict[str, Any]) -> dict[str, Any]:
    """Dispatch to the teacher (prompts carry a stage tag) or the policy."""
    if any("[stage:" in text for _, text in messages):
        prompt = next(text for _, text in messages if "[stage:" in text)
        return {"content": teacher_reply(prompt)}
    return policy_reply(messages, int(params.get("seed") or 0))


def _role(message: BaseMessage) -> str:
    return {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}.get(message.type, message.type)


class WorldChatModel(BaseChatModel):
    """A LangChain chat model answering from the scripted world (supports tools and usage metadata).

    ``teacher_override(prompt) -> str | None`` replaces teacher replies (to script failures);
    every teacher prompt is kept in ``teacher_prompts``.
    """

    teacher_override: Any = None
    teacher_prompts: list = []

    @property
    def _llm_type(self) -> str:
        return "scripted-world"

    def bind_tools(self, tools, **kwargs):
        settings = {k: v for k, v in kwargs.items() if k != "tool_choice"}  # as real models bind them
        return self.bind(**settings) if settings else self

    def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
        convo = [(_role(m), str(m.text)) for m in messages]
        prompt = next((text for _, text in convo if "[stage:" in text), None)
        override = self.teacher_override(prompt) if prompt and self.teacher_override else None
        if prompt:
            self.teacher_prompts.append(prompt)
        out = {"content": override} if override is not None else reply(convo, kwargs)
        tool_calls = [{"name": c["name"], "args": c["args"], "id": f"call_{len(messages)}_{i}", "type": "tool_call"}
                      for i, c in enumerate(out.get("tool_calls", []))]
        chars = sum(len(text) for _, text in convo)
        message = AIMessage(content=out["content"], tool_calls=tool_calls,
                            usage_metadata={"input_tokens": chars // 4, "output_tokens": len(out["content"]) // 4 + 1,
                                            "total_tokens": chars // 4 + len(out["content"]) // 4 + 1})
        return ChatResult(generations=[ChatGeneration(message=message)])


def openai_reply(body: dict[str, Any]) -> dict[str, Any]:
    """The same world behind the OpenAI chat-completions wire format (for the HTTP stub)."""
    from tfgrpo_agents.testing import completion

    convo = [(m["role"], m.get("content") or "") for m in body["messages"]]
    out = reply(convo, body)
    chars = sum(len(text) for _, text in convo)
    return completion(out["content"], out.get("tool_calls"), prompt_tokens=chars // 4,
                      completion_tokens=len(out["content"]) // 4 + 1)
