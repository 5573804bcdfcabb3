"""Primitives shared by learning and evaluation: tasks, trajectories and their collector, one rollout
of any agent (the agent contract), rewards and grading, and the run directory."""
