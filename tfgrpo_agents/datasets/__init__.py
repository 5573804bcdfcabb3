"""Task-set generators: the synthetic multi-site web and QA over documentation sites of three generators."""
