"""Task-set generators: the synthetic multi-site web and QA over a documentation site."""
