"""The agent's hands: web search, web browsing, sandboxed Python, and a local website server.

Nothing here depends on the rest of the package. Names load on first use, so the sandbox works
without the web stack (the ``[web]`` extra) installed.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "Browser": "browse", "render_page": "browse",
    "FetchError": "fetch", "PageFetcher": "fetch",
    "LocalWeb": "local_web",
    "Link": "page", "Page": "page", "parse_html": "page",
    "CodeExecutor": "python_exec", "ExecResult": "python_exec", "SubprocessExecutor": "python_exec",
    "Isolation": "sandbox", "SandboxPlan": "sandbox", "SandboxUnavailable": "sandbox", "detect_sandbox": "sandbox",
    "DDGSBackend": "search", "LocalBackend": "search", "SearchBackend": "search", "format_hits": "search",
    "LocalSearchIndex": "search_index", "SearchHit": "search_index", "fts_query": "search_index",
    "SiteFiles": "site_files",
    "LocalSiteServer": "site_server",
    "python_exec_tool": "toolkit", "web_browse_tool": "toolkit", "web_search_tool": "toolkit",
    "UrlPolicy": "url_policy",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
