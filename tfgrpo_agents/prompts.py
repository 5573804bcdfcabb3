"""Every prompt the package sends, in one place, as data.

Written for small local models as much as large hosted ones: short sentences, one instruction
each, no named items a model could mistake for tool names.
"""

from __future__ import annotations

# ---------------------------------------------------------------- experience injection
EXPERIENCE_HEADER = "Lessons from earlier attempts at similar tasks (apply those that fit this task):"

# ---------------------------------------------------------------- ReAct agent
REPEATED_CALL = ("You already called {name} with these arguments; its result is above. "
                 "Reply with the answer, or call a different tool.")
USE_A_TOOL_FIRST = ('You have not used a tool yet. Do not describe steps: reply with only a JSON tool call, '
                    '{"name": "<tool>", "arguments": {...}}.')
TOOL_RESULT_FOOTER = "\n\nQuestion: {question}\nReply with just the answer, or call one different tool."
# Lessons delivered where the decision is made (agents/delivery.py): restated under a tool result, and
# checked once before a final answer.
LESSON_RESTATEMENT = "\n\nA lesson for this question: {lessons}{page}"
ANSWER_CHECK = ("Before you answer, check this lesson for the question: {lessons}{page}\n"
                "If you have not done what it says, do it now with one tool call. "
                "If you have, reply with just the answer.")
# A lesson turned into a next action: the unopened page it points to (LessonDelivery.suggest_page).
SUGGESTED_PAGE = "\nThe page it points to: {label} — open {url}"

# Tools described in the prompt, for models that write tool calls as text.
TEXT_TOOLS_INSTRUCTIONS = """You can use these tools:
{tools}
To use a tool, reply with only a JSON object: {{"name": "<tool>", "arguments": {{...}}}}
When you know the answer, reply without JSON."""
TEXT_TOOL_RESULT = "Result of {name}:\n{result}"

FORCE_FINAL_ANSWER = (
    "You have used all your tool steps. Do not call any tool. "
    "Reply now with your final answer only, as short as possible."
)

# ---------------------------------------------------------------- grading
JUDGE_PROMPT = """You grade a student's answer against a reference answer.

Question: {question}
Reference answer: {reference}
Student answer: {answer}

The student is correct if the answer states the same facts as the reference (wording may differ; extra
harmless detail is fine). It is incorrect if it is wrong, incomplete on what was asked, or hedges between options.
Explain in one or two sentences, then write CORRECT or INCORRECT on the last line."""

# ---------------------------------------------------------------- Training-Free GRPO reflection
# Each stage asks one small, concrete question, so a small teacher model can answer it.
# {agent_objective}: what the agent is for; {learning_objective}: what good experiences help with.

SUMMARIZE_PROMPT = """[stage: summarize]
An agent worked on a task. {agent_objective}
Summarize what it did, step by step, so its attempt can be compared with other attempts.

Task: {question}
{reference_block}
Experiences the agent was given:
{experiences}

What the agent did:
{transcript}

Final answer: {final_answer}
{outcome_block}
Write a numbered list, one line per step: which tool it called, with which arguments, what came back, and
what it concluded. Then add three short lines:
Detours: steps that did not help, or calls that repeated earlier ones.
Missed: information that was available but not used.
Experiences used: which of the given experiences it followed, if any."""

ADVANTAGE_PROMPT = """[stage: advantage]
Several attempts at the same task are summarized below. {agent_objective}
{comparison_instruction}

Task (its names and numbers written as X and N): {question}
{reference_block}
Attempts:
{attempts}

{contrast_block}Propose at most {max_lessons} lessons that would help on other tasks of this kind. {learning_objective}
Each lesson: one sentence, at most {word_cap} words, general (no names or numbers specific to this task),
written as advice, starting with "When ..." if it only applies in some situations.
{template_block}If nothing new was learned, return an empty list.
Reply with JSON only, in this shape: {{"lessons": ["<first lesson>", "<second lesson>"]}}"""

# A small teacher writes generic advice ("read the results carefully") when asked for a lesson, but
# fills in a sentence pattern well; each slot is a question about the comparison it just read.
LESSON_TEMPLATE_BLOCK = "Write each lesson by filling in every <...> of this pattern:\n{template}\n"
# No "not <the tempting wrong value>" slot: with "…, not '3.11'" in its prompt the 1.5B agent answered
# "3.11" on the training tasks of the next step (BENCHMARKS.md §1c): a small model repeats the values
# a lesson names.
# The first slot in the question's own words: lessons are picked for a question by the words of their "When …"
# part, and "a specific person's name" shares none with "Who is the workshop chair of X?".
WEB_LESSON_TEMPLATE = ('When asked for <what the question asks, in its own words without its names>, answer with the '
                       'value after "<the label next to it>" on <which page or section>.')
# The label is the one slot a lesson may leave out: where the answer is (the page) is the lesson. The 1.5B teacher
# copies "the label next to it" into lessons about which page to open; without the clause they still say it.
WEB_LESSON_OPTIONAL_CLAUSE = ' after "<the label next to it>"'

# The current library is not shown here: a small teacher copied it back as its "lessons" for every
# group. group_ops maps the lessons onto the library instead.
COMPARE_WITH_OUTCOMES = ("Some attempts succeeded and some failed. First answer for yourself: where did the correct "
                         "answer come from (which tool result, which words next to it)? What led each failed attempt "
                         "astray: an answer from memory, the wrong part of a result, the wrong page, a step it skipped? "
                         "The lessons should make the agent do what the successful attempts did.")
COMPARE_AFTER_FAILURES = ("Every attempt failed; the correct answer was looked up afterwards, and where it is written "
                          "is shown below. First answer for yourself: on which page, after which words, is it? Where "
                          "did the attempts look instead, and what did they answer from? The lessons should send the "
                          "agent to where the answer is written.")
COMPARE_WITHOUT_REFERENCE = ("No reference answer is known, so judge for yourself which attempts were more reliable "
                             "(consistent answers, answers backed by what a tool returned, fewer wasted steps) and why.")
REFLECT_ON_SINGLE = ("There is only one attempt. Judge from its outcome and its steps what it did well and "
                     "what it should have done differently.")

# Shapes, not example values: a small teacher copied example operations ("UPDATE G2", "...") verbatim.
OPS_REPLY_FORMAT = """Reply with JSON only, in this shape (one object per operation; "id" only for UPDATE and DELETE,
"text" only for ADD and UPDATE, ids only from the current list):
{{"operations": [{{"op": "<ADD, UPDATE, DELETE or NONE>", "id": "<experience id>", "text": "<the lesson>"}}]}}"""

GROUP_OPS_PROMPT = ("""[stage: group_ops]
You maintain a short list of experiences for an agent. {learning_objective}
New lessons were drawn from comparing attempts at one task. Decide how each lesson changes the list.

Current experiences:
{experiences}

New lessons:
{lessons}

For each lesson choose one operation:
- ADD: the lesson is new. Give its text.
- UPDATE: the lesson refines an existing experience. Give that experience's id and the improved text.
- DELETE: the lesson shows an existing experience is wrong. Give its id.
- NONE: the list already covers it.
Texts: one sentence, at most {word_cap} words, written as advice.
""" + OPS_REPLY_FORMAT)

CONSOLIDATE_PROMPT = ("""[stage: consolidate]
You maintain a short list of experiences for an agent. {learning_objective}
Several groups proposed changes to the list. Merge them into one final set of operations.

Current experiences:
{experiences}

Proposed operations:
{proposals}

Rules:
- Merge proposals that say the same thing into one operation; prefer UPDATE of an existing experience over a new ADD.
- Every text: one sentence, at most {word_cap} words, general, written as advice.
- Keep the list at {max_experiences} experiences or fewer: DELETE experiences that are redundant or contradicted.
- Use only ids that appear in the current list.
""" + OPS_REPLY_FORMAT)

FIX_JSON_PROMPT = ("Your reply could not be used: {problem}\n"
                   "Reply again with JSON only, in exactly the format asked for above.")

NO_EXPERIENCES = "(none yet)"

# ---------------------------------------------------------------- agent system prompts per domain
# A system prompt that states the answer format ("Final answer: …") made the 1.5B model answer from
# memory at once instead of calling a tool (BENCHMARKS.md, "Embedded model: what its prompts must look
# like"). The answer is asked for later, by the tool-result footer and the forced final turn.
MATH_SYSTEM_PROMPT = """You solve math word problems.
Use the python_exec tool to compute: write short Python code that prints the result."""
# The math scaffold that reasons before it writes code (issue 17): the direct tips and the G = 1 library both
# gained by making the model reason first (BENCHMARKS.md §1).
MATH_REASON_FIRST_PROMPT = """You solve math word problems.
First reason in a few short lines: list each quantity the problem gives and how the answer follows from them.
Then call the python_exec tool with short Python code that computes the answer and prints it."""
# asked (with the bare answer set aside) when the reason-first agent's first reply is only an answer
REASON_BEFORE_CALLING = ("Do not answer yet. In a few short lines, list each quantity the problem gives and how the "
                         "answer follows from them; then call python_exec with code that computes the answer.")
WEB_SYSTEM_PROMPT = """You find answers on websites you have never seen, using tools.
Start by opening the website given with the question, then follow its links."""
# added to the web agent's system prompt when it has python_exec
WEB_CODE_HINT = """Look every fact up on the website. Use python_exec only to compute with values you found there
(days between two dates, sums, differences)."""
# The web agent's python_exec is described by its role, so that the agent does not run code to answer a
# question about the site's subject (BENCHMARKS.md, "python_exec in the web agent").
WEB_PYTHON_EXEC_DESCRIPTION = ("Compute with numbers or dates you already found on the website (days between two "
                               "dates, sums, differences) and return what the code prints. It knows nothing about "
                               "the website or its subject: look facts up with web_search and web_browse.")

QA_SYSTEM_PROMPT = """Answer the question.
Reply with one line: Final answer: <short answer>"""

MATH_AGENT_OBJECTIVE = "It solves math word problems, using a Python tool for computation."
WEB_AGENT_OBJECTIVE = ("It answers questions about websites by searching and browsing their pages, and computes "
                       "with Python where the answer needs arithmetic.")
WALK_AGENT_OBJECTIVE = ("It answers questions about websites by opening their pages and following links from the "
                        "site's root, without a search tool.")
QA_AGENT_OBJECTIVE = "It answers questions directly, without tools."
DEFAULT_LEARNING_OBJECTIVE = ("Good experiences help the agent reach the correct answer reliably "
                              "and with fewer tool calls.")
# Sites of one kind keep facts in the same places; that is what a web lesson can carry to new tasks.
WEB_LEARNING_OBJECTIVE = ("Good experiences say where on sites of this kind the needed fact is written (which page, "
                          "section or label), so the agent answers correctly with fewer tool calls. Say what to do; "
                          "do not quote a wrong answer (the agent repeats any value a lesson names).")

# ---------------------------------------------------------------- task generation
# The closed-book filter of generated QA: what the model answers without tools is not a web task.
CLOSED_BOOK_PROMPT = """Answer from memory in a few words, with no explanation.
Question: {question}"""

# ---------------------------------------------------------------- evaluation ablation
DIRECT_TIPS_PROMPT = """[stage: direct_tips]
You advise an agent. {agent_objective}
Without seeing any of its attempts, write {count} short tips that would help it on tasks like these:
{examples}

{learning_objective}
Each tip: one sentence, at most {word_cap} words, written as advice.
{template_block}Reply with JSON only, in this shape: {{"lessons": ["<first lesson>", "<second lesson>"]}}"""
