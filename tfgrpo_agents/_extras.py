"""Optional stacks and the error a user sees when one is not installed.

The core (experience library, middleware, learner, CLI) installs alone; web browsing and search,
math grading, evaluation and plots, and the embedded model come with extras.
"""

from __future__ import annotations

from tfgrpo_agents.errors import TfgrpoError

EXTRAS = {"web": "web search and browsing", "math": "math-verify grading", "eval": "evaluation and plots",
          "local": "the embedded model", "postgres": "the PostgreSQL store"}


class MissingExtraError(TfgrpoError, ImportError):
    """A feature's optional dependency is not installed; the message names the extra to install."""


def missing_extra(extra: str, error: ImportError) -> MissingExtraError:
    what = EXTRAS.get(extra, extra)
    return MissingExtraError(f"{what} needs the [{extra}] extra ({error.name or error} is not installed): "
                             f"pip install 'tfgrpo-agents[{extra}]'")
