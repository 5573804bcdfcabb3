"""Which documentation generator a site comes from, and so which questions it can be asked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tfgrpo_agents.datasets.docs_qa import django_docs, gtk_doc, python_docs
from tfgrpo_agents.datasets.docs_qa.pipeline import Candidate, LinkGraph
from tfgrpo_agents.tools.site_files import SiteFiles


@dataclass(frozen=True)
class DocsProfile:
    """How to read one family of documentation sites: detect it, pull its facts, ask about them."""

    name: str
    about: str
    public_url: str  # the default root_url of its tasks
    detect: Callable[[SiteFiles], bool]
    read: Callable[[SiteFiles], LinkGraph]
    candidates: Callable[[LinkGraph], list[Candidate]]


PROFILES: dict[str, DocsProfile] = {profile.name: profile for profile in (
    DocsProfile("python", "the Python documentation (Sphinx)", "https://docs.python.org/3.11/",
                python_docs.detect, python_docs.read_site, python_docs.candidates),
    DocsProfile("django", "the Django documentation (Sphinx, Django's theme)", "https://docs.djangoproject.com/en/3.2/",
                django_docs.detect, django_docs.read_site, django_docs.candidates),
    DocsProfile("gtk-doc", "a GTK-Doc reference manual (DocBook XSL, table layout), e.g. GLib's",
                "https://developer-old.gnome.org/glib/stable/", gtk_doc.detect, gtk_doc.read_site, gtk_doc.candidates),
)}


def profile_for(files: SiteFiles, name: DocsProfile | str = "auto") -> DocsProfile:
    """The named profile, or the first whose detector recognises the site."""
    if isinstance(name, DocsProfile):
        return name
    if name != "auto":
        if name not in PROFILES:
            raise ValueError(f"unknown profile {name!r}: choose one of {', '.join(PROFILES)} or auto")
        return PROFILES[name]
    for profile in PROFILES.values():
        if profile.detect(files):
            return profile
    raise ValueError(f"{files.source} is not a documentation site this knows how to ask about "
                     f"({'; '.join(f'{p.name}: {p.about}' for p in PROFILES.values())}); pass --profile")
