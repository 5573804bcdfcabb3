"""Objects named on the command line as ``package.module:name`` (a user's agent factory or grader)."""

from __future__ import annotations

from typing import Any


def load_object(spec: str) -> Any:
    """``package.module:name`` imported (from the current directory too, as uvicorn does)."""
    import importlib
    import os
    import sys

    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"{spec!r} is not package.module:name")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # an import error, or the module raising while it loads
        raise ValueError(f"cannot import {module_name!r} for {spec!r}: {type(exc).__name__}: {exc}") from None
    try:
        found = getattr(module, attribute)
    except AttributeError:
        raise ValueError(f"{module_name!r} has no {attribute!r} (from {spec!r})") from None
    if not callable(found):
        raise ValueError(f"{spec!r} is a {type(found).__name__}, not a function")
    return found
