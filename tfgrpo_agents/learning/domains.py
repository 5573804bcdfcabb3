"""Ready-made agent set-ups (system prompt, tools, grader, objectives) for ``tfgrpo learn --agent``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool

from tfgrpo_agents import prompts
from tfgrpo_agents._objects import load_object
from tfgrpo_agents.agents import LessonDelivery, Placement, build_react_agent
from tfgrpo_agents.experience import SourceLike
from tfgrpo_agents.learning.reflection import ReflectionSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Domain:
    name: str
    system_prompt: str
    agent_objective: str
    grader: str
    make_tools: Callable[[dict[str, Any]], tuple[list[BaseTool], Callable[[], None]]]
    learning_objective: str = prompts.DEFAULT_LEARNING_OBJECTIVE
    tool_first: bool = True  # remind a model that answers before using any tool (see build_react_agent)
    forget_guess: bool = False  # and ask it without the answer it wrote from memory (see build_react_agent)
    first_call: str | None = None  # the first reply is decoded as a call of this tool, "required": any (see build_react_agent)
    reason_reminder: str | None = None  # asked when the first reply is a bare answer (see build_react_agent)
    lesson_template: str | None = None  # the sentence pattern lessons are written in (small teachers need one)
    optional_clause: str | None = None  # a clause of that pattern a lesson may leave out (see ReflectionSettings)
    specific_words: str = "any"  # what marks a lesson as its task's own (see ReflectionSettings)
    factory: Callable[[Any], Any] | None = None  # a user's own agent: factory(library) -> agent
    code_hint: str | None = None  # a system-prompt line added when python_exec is among the tools

    def build_agent(self, model: BaseChatModel, tools: Sequence[BaseTool], *, experiences: SourceLike = None,
                    placement: Placement | str = Placement.SYSTEM, max_steps: int = 5,
                    delivery: LessonDelivery | None = None):
        """This domain's ReAct agent: its system prompt and scaffold, with ``experiences`` injected.

        A user's agent (``factory``) is built by its own factory, which decides its model, tools
        and where the library goes (``ExperienceMiddleware``, with its own ``delivery``)."""
        if self.factory is not None:
            return self.factory(experiences)
        return build_react_agent(model, tools, system_prompt=self.prompt_for(tools), experiences=experiences,
                                 placement=placement, max_steps=max_steps, tool_first=self.tool_first,
                                 forget_guess=self.forget_guess, first_call=self._first_call(tools),
                                 reason_reminder=self.reason_reminder, delivery=delivery)

    def _first_call(self, tools: Sequence[BaseTool]) -> str | None:
        """The named first tool when the agent has it, else any tool."""
        if self.first_call in (None, "required") or any(tool.name == self.first_call for tool in tools):
            return self.first_call
        return "required"

    def prompt_for(self, tools: Sequence[BaseTool]) -> str:
        """The system prompt for these tools (with the code hint when python_exec is one of them)."""
        if self.code_hint and any(tool.name == "python_exec" for tool in tools):
            return f"{self.system_prompt}\n{self.code_hint}"
        return self.system_prompt

    def reflection(self, **overrides: Any) -> ReflectionSettings:
        """Reflection settings that tell the teacher what this agent does and what a good lesson is."""
        return ReflectionSettings(**{"agent_objective": self.agent_objective,
                                     "learning_objective": self.learning_objective,
                                     "lesson_template": self.lesson_template,
                                     "optional_clause": self.optional_clause,
                                     "specific_words": self.specific_words, **overrides})


def _no_tools(options: dict[str, Any]) -> tuple[list[BaseTool], Callable[[], None]]:
    return [], lambda: None


def _math_tools(options: dict[str, Any]) -> tuple[list[BaseTool], Callable[[], None]]:
    from tfgrpo_agents.tools import python_exec_tool

    return [python_exec_tool()], lambda: None


def _web_tools(options: dict[str, Any], search: bool = True) -> tuple[list[BaseTool], Callable[[], None]]:
    """A local site (``site``) served on 127.0.0.1 with its index, or the live web through ddgs, and
    python_exec unless ``python`` is off; without ``search``, browsing alone (the walk mode)."""
    from tfgrpo_agents.tools import (
        Browser,
        DDGSBackend,
        LocalWeb,
        web_browse_tool,
        web_search_tool,
    )

    site = options.get("site")
    if site:
        web = LocalWeb(site, public_url=options.get("public_url"), search=search).start()
        tools, close = web.tools(), web.stop
    else:
        browse = web_browse_tool(Browser())
        tools, close = ([web_search_tool(DDGSBackend()), browse] if search else [browse]), (lambda: None)
    return tools + (_code_tool() if search and options.get("python", True) else []), close


def _code_tool() -> list[BaseTool]:
    """python_exec for the web agent (date and number arithmetic a small model cannot do in its head);
    left out, with a warning, where the sandbox cannot contain code, so search and browse still work."""
    from tfgrpo_agents.tools import SandboxUnavailable, python_exec_tool

    try:
        return [python_exec_tool(description=prompts.WEB_PYTHON_EXEC_DESCRIPTION)]
    except SandboxUnavailable as exc:
        logger.warning("web agent without python_exec: %s", exc)
        return []


def _walk_tools(options: dict[str, Any]) -> tuple[list[BaseTool], Callable[[], None]]:
    return _web_tools(options, search=False)


DOMAINS: dict[str, Domain] = {
    "math": Domain("math", prompts.MATH_SYSTEM_PROMPT, prompts.MATH_AGENT_OBJECTIVE, "math", _math_tools),
    # the same, reasoning in words before the code (the candidate math baseline of issue 17)
    "math-reason": Domain("math-reason", prompts.MATH_REASON_FIRST_PROMPT, prompts.MATH_AGENT_OBJECTIVE, "math",
                          _math_tools, reason_reminder=prompts.REASON_BEFORE_CALLING),
    "web": Domain("web", prompts.WEB_SYSTEM_PROMPT, prompts.WEB_AGENT_OBJECTIVE, "judge", _web_tools,
                  code_hint=prompts.WEB_CODE_HINT,
                  learning_objective=prompts.WEB_LEARNING_OBJECTIVE, lesson_template=prompts.WEB_LESSON_TEMPLATE,
                  optional_clause=prompts.WEB_LESSON_OPTIONAL_CLAUSE, specific_words="names",
                  # search first: across four site families the first calls that browsed or ran code were
                  # right far less often than those that searched (BENCHMARKS.md §4c)
                  forget_guess=True, first_call="web_search"),
    # WebWalkerQA's own setting: the root URL and web_browse only, so pages opened are the cost
    "web-walk": Domain("web-walk", prompts.WEB_SYSTEM_PROMPT, prompts.WALK_AGENT_OBJECTIVE, "judge", _walk_tools,
                       learning_objective=prompts.WEB_LEARNING_OBJECTIVE, lesson_template=prompts.WEB_LESSON_TEMPLATE,
                       optional_clause=prompts.WEB_LESSON_OPTIONAL_CLAUSE, specific_words="names", forget_guess=True,
                       first_call="required"),
    "qa": Domain("qa", prompts.QA_SYSTEM_PROMPT, prompts.QA_AGENT_OBJECTIVE, "exact", _no_tools,
                 tool_first=False),
}


def domain_for(name: str) -> Domain:
    """A ready set-up by name, or a user's agent factory given as ``package.module:factory``."""
    if name in DOMAINS:
        return DOMAINS[name]
    if ":" not in name:
        raise ValueError(f"unknown agent {name!r}; choose one of {', '.join(DOMAINS)} or give "
                         "package.module:factory for your own agent")
    return Domain(name, system_prompt="", agent_objective="It answers questions by using tools.", grader="exact",
                  make_tools=_no_tools, tool_first=False, factory=load_object(name))
