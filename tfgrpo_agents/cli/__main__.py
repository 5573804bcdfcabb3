"""``python -m tfgrpo_agents.cli``."""

from tfgrpo_agents.cli import main

main()
