"""Where the package keeps what it downloads or builds once (models, datasets, search indexes, generated sites)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$TFGRPO_CACHE``, else ``~/.cache/tfgrpo_agents``; an empty value counts as unset (not the working directory)."""
    return Path(os.environ.get("TFGRPO_CACHE") or Path.home() / ".cache" / "tfgrpo_agents")
