"""Every prompt the package sends, in one place, as data.

Written for small local models as much as large hosted ones: short sentences, one instruction
each, no named items a model could mistake for tool names.
"""

from __future__ import annotations

# ---------------------------------------------------------------- experience injection
EXPERIENCE_HEADER = "Lessons from earlier attempts at similar tasks (apply those that fit this task):"

# ---------------------------------------------------------------- ReAct agent
FORCE_FINAL_ANSWER = (
    "You have used all your tool steps. Do not call any tool. "
    "Reply now with your final answer only, as short as possible."
)
