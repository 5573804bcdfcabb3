"""Learn an experience library for your own ``create_agent`` app, then serve with it.

    OPENAI_BASE_URL=https://api.deepseek.com/v1 OPENAI_API_KEY=... OPENAI_MODEL=deepseek-chat \
        python examples/your_own_agent.py --out runs/shop

The app is an ordinary LangChain agent with two tools of its own. Two lines make it learnable:
``ExperienceMiddleware(library)`` in its middleware (it injects the library and applies each
rollout's temperature and seed), and a factory that builds it for a given library.
"""

from __future__ import annotations

import argparse
import os
import re

from langchain.agents import create_agent
from langchain.tools import tool
from langchain_openai import ChatOpenAI

from tfgrpo_agents.agents import ExperienceMiddleware
from tfgrpo_agents.learning import LearnSettings, Task, TrainingFreeGRPO

PRICES_USD = {"lamp": 40, "chair": 85, "desk": 230, "shelf": 120}


@tool
def lookup_price(item: str) -> str:
    """The shop's price of an item, in US dollars."""
    price = PRICES_USD.get(item.strip().lower())
    return f"{item}: {price} USD" if price is not None else f"no item called {item!r}"


@tool
def convert_currency(amount_usd: float, currency: str) -> str:
    """Convert an amount in US dollars to EUR or GBP at today's rate."""
    rate = {"EUR": 0.5, "GBP": 0.25}.get(currency.strip().upper())
    return f"{amount_usd} USD = {amount_usd * rate:g} {currency.upper()}" if rate else f"unknown currency {currency!r}"


def make_agent(library):
    """The app, built for one library (the learner calls this once per learning step)."""
    model = ChatOpenAI(model=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"), temperature=0)
    return create_agent(model, tools=[lookup_price, convert_currency],
                        system_prompt="You answer price questions for a furniture shop. End with 'Final answer: X'.",
                        middleware=[ExperienceMiddleware(library)])


def reward(task: Task, answer: str | None, trajectory) -> float:
    """Right answer, minus a little for every tool call beyond the two the task needs."""
    numbers = re.findall(r"-?\d+(?:\.\d+)?", answer or "")
    right = bool(numbers) and float(numbers[-1]) == float(task.answer)
    return max(0.0, float(right) - 0.1 * max(0, len(trajectory.tool_calls) - 2))


def tasks() -> list[Task]:
    return [Task(id=f"{item}-eur", question=f"What does a {item} cost in EUR?", answer=f"{price * 0.5:g}")
            for item, price in PRICES_USD.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="runs/your-own-agent")
    args = parser.parse_args()
    teacher = ChatOpenAI(model=os.environ.get("OPENAI_MODEL", "gpt-4o-mini"), temperature=0)
    learner = TrainingFreeGRPO(agent_factory=make_agent, teacher=teacher, grader=reward, run_dir=args.out,
                               settings=LearnSettings(group_size=3, epochs=1, batch_size=2, temperature=0.7))
    library = learner.fit(tasks()).library
    print(library.render() or "(no lessons learned)")
    answer = make_agent(library).invoke({"messages": [("user", "What does a lamp cost in GBP?")]})
    print(answer["messages"][-1].text)


if __name__ == "__main__":
    main()
