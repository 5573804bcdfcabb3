"""QA over real documentation sites, in WebWalkerQA's schema, one profile per documentation generator.

The questions follow each site's own conventions (where release dates, "added in" notes and
deprecations live), which is what a learned library can carry from the train split to the test
split. Golden paths are the shortest click paths from the site root in the site's own link graph;
train and test never share a module, a release or a reference page; every answer appears word for
word on the page that states it (computed answers excepted); a closed-book filter drops what the
model answers without tools, and its answers are kept in ``closed_book.json`` so a rerun gives the
same bytes without the model. The site is read from its folder or tarball and never copied.
"""

from tfgrpo_agents.datasets.docs_qa.pipeline import Candidate, LinkGraph, split
from tfgrpo_agents.datasets.docs_qa.profiles import PROFILES, DocsProfile, profile_for
from tfgrpo_agents.datasets.docs_qa.task_set import (
           closed_book_model,
           generate,
           short_answer_right,
)

__all__ = ["PROFILES", "Candidate", "DocsProfile", "LinkGraph", "closed_book_model", "generate", "profile_for",
           "short_answer_right", "split"]
