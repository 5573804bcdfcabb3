"""The agent's tools as LangChain tools. Every failure comes back as readable text, never an exception."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from tfgrpo_agents.tools.fetch import FetchError
from tfgrpo_agents.tools.python_exec import CodeExecutor, SubprocessExecutor

if TYPE_CHECKING:  # the web stack is an extra: python_exec_tool must import without it
    from tfgrpo_agents.tools.browse import Browser
    from tfgrpo_agents.tools.search import SearchBackend

logger = logging.getLogger(__name__)


class SearchInput(BaseModel):
    query: str = Field(description="A few keywords describing what to find.")


class BrowseInput(BaseModel):
    url: str = Field(description="The full URL of the page to open.")
    goal: str = Field(default="", description="What you want to find on the page.")


class PythonInput(BaseModel):
    code: str = Field(description="Python code to run. Print the values you need.")


def web_search_tool(backend: SearchBackend, *, max_results: int = 5) -> BaseTool:
    from tfgrpo_agents.tools.search import format_hits

    def web_search(query: str) -> str:
        try:
            return format_hits(query, backend.search(query, max_results))
        except Exception as exc:  # a failing backend must not end the rollout
            logger.warning("web_search failed: %s", exc)
            return f"Search failed: {type(exc).__name__}: {exc}. Try again with other words or open a known page."

    return StructuredTool.from_function(
        func=web_search, name="web_search", args_schema=SearchInput,
        description="Search the web. Returns titles, URLs and snippets of matching pages.",
    )


def web_browse_tool(browser: Browser) -> BaseTool:
    def web_browse(url: str, goal: str = "") -> str:
        try:
            return browser.browse(url, goal)
        except FetchError as exc:
            return f"Could not open the page. {exc}"
        except Exception as exc:
            logger.warning("web_browse failed on %s: %s", url, exc)
            return f"Could not read the page {url}: {type(exc).__name__}: {exc}."

    return StructuredTool.from_function(
        func=web_browse, name="web_browse", args_schema=BrowseInput,
        description="Open a web page. Returns its main text (the parts most relevant to the goal) and its links.",
    )


PYTHON_EXEC_DESCRIPTION = "Run Python code in a sandbox and return what it prints. No network access."


def python_exec_tool(executor: CodeExecutor | None = None, *, timeout: float | None = None,
                     description: str = PYTHON_EXEC_DESCRIPTION) -> BaseTool:
    runner = executor or SubprocessExecutor()

    def python_exec(code: str) -> str:
        try:
            return runner.run(code, timeout=timeout).render()
        except Exception as exc:
            logger.warning("python_exec failed: %s", exc)
            return f"The code could not be run: {type(exc).__name__}: {exc}."

    return StructuredTool.from_function(
        func=python_exec, name="python_exec", args_schema=PythonInput,
        description=description,
    )
