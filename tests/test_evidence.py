"""The facts of a group comparison computed without a model, and the trace summaries built from them."""

import json

from langchain_core.messages import (
    AIMessage,
    HumanMessage,
    ToolMessage,
    messages_to_dict,
)

from tests.fakes import scripted
from tfgrpo_agents.learning import (
    ReflectionSettings,
    Reflector,
    Task,
    Trajectory,
    tool_calls_from_messages,
)
from tfgrpo_agents.learning.evidence import (
    answer_source,
    group_contrast,
    reference_location,
    repeated_calls,
)

TASK = Task(id="t", question="In which Python version was the `lzma` module added?", answer="3.3",
            root_url="https://docs.python.org/3.11/")
RESULT = "lzma — Compression using the LZMA algorithm New in version 3.3. Source code: Lib/lzma.py"


def attempt(sample: int, answer: str, reward: float, calls: int = 1) -> Trajectory:
    messages = [HumanMessage(f"{TASK.question}\nWebsite: {TASK.root_url}")]
    for n in range(calls):
        messages += [AIMessage("", tool_calls=[{"name": "web_search", "args": {"query": "lzma added"}, "id": f"c{n}"}]),
                     ToolMessage(RESULT, tool_call_id=f"c{n}")]
    messages.append(AIMessage(answer))
    return Trajectory(task_id="t", sample=sample, question=TASK.question, messages=messages_to_dict(messages),
                      tool_calls=tool_calls_from_messages(messages), final_answer=answer, reward=reward)


def test_a_wrong_answer_is_traced_to_the_website_address():
    source = answer_source(attempt(0, "Python 3.11", 0.0), TASK)
    assert source == "answered «Python 3.11»: «3.11» is from the website address, not from any result"


def test_a_wrong_answer_is_traced_to_a_tool_result_or_to_memory():
    assert answer_source(attempt(0, "Lib/lzma.py", 0.0), TASK).startswith(
        "answered «Lib/lzma.py», taken from the wrong part of its tool result 1, after the label «Source code»: «…")
    assert answer_source(attempt(0, "Guido van Rossum", 0.0), TASK) == \
        "answered «Guido van Rossum», which is in none of its tool results (from memory)"
    assert answer_source(attempt(0, "It was added in Python 3.3 as a new module.", 0.0), TASK) == \
        "answered with words around the correct value; the answer must be the value alone"
    priced = TASK.model_copy(update={"answer": "224 gold"})
    assert answer_source(attempt(0, "224", 0.0), priced) == \
        "answered «224», only part of the correct answer (a unit or a name left out)"


def test_a_guess_the_agent_searched_for_is_named_as_such():
    guess = attempt(0, "3.7", 0.0)
    guess.tool_calls[0].args = {"query": "lzma added in Python 3.7"}
    assert answer_source(guess, TASK) == "answered «3.7»: «3.7» is its own guess: it had put it in its tool call"


def test_versions_are_matched_whole():
    """"3.1" is not found inside "3.11", nor "3.3" inside "3.3.1"."""
    assert reference_location(attempt(0, "x", 0.0), "3.1") is None
    assert reference_location(attempt(0, "x", 0.0), "3.3")[0] == 1


def test_group_contrast_names_the_source_of_the_right_and_the_wrong_answers():
    contrast = group_contrast(TASK, [attempt(0, "3.3", 1.0), attempt(1, "3.11", 0.0), attempt(2, "3.11", 0.0)])
    assert "The correct attempts answered «3.3», found in the text «…" in contrast and "New in version 3.3." in contrast
    assert "2 wrong attempt(s) answered «3.11»: «3.11» is from the website address" in contrast
    assert "2 of 2 wrong attempt(s) had the correct answer in a tool result" in contrast
    assert group_contrast(TASK, [attempt(0, "3.3", 1.0)]) == "", "no contrast without a failure"


def test_repeated_calls_are_counted():
    assert repeated_calls(attempt(0, "3.3", 1.0, calls=3)) == 2
    assert repeated_calls(attempt(0, "3.3", 1.0)) == 0


def test_trace_summaries_need_no_teacher_and_feed_the_advantage_prompt():
    teacher = scripted('{"lessons": ["When a version is asked, answer with the number after New in version."]}')
    reflector = Reflector(teacher, ReflectionSettings(summaries="trace"))
    right, wrong = attempt(0, "3.3", 1.0), attempt(1, "3.11", 0.0, calls=2)
    summary = reflector.summarize(TASK, wrong, library=None)
    assert teacher.calls == [], "a trace summary calls no model"
    assert "1. called web_search" in summary and "Detours: 1 call(s) repeated an earlier call." in summary
    assert "Missed: The reference answer appears in its tool result 1" in summary
    assert "Missed" not in reflector.summarize(TASK, right, library=None)

    lessons = reflector.advantage(TASK, [(right, reflector.summarize(TASK, right, None)), (wrong, summary)])
    assert lessons == ["When a version is asked, answer with the number after New in version."]
    prompt = str(teacher.calls[0]["messages"][0].content)
    assert "What the attempts show, checked against their tool results:" in prompt
    assert "It answered «3.11»: «3.11» is from the website address" in prompt


def test_lessons_are_written_in_the_domain_pattern_and_unfilled_slots_are_re_asked():
    from tfgrpo_agents.evaluation import generate_direct_tips
    from tfgrpo_agents.learning.domains import DOMAINS

    settings = DOMAINS["web"].reflection(summaries="trace")
    filled = ('When a question asks for a version, the answer is written after "New in version" on the module page; '
              'do not answer with the site version.')
    teacher = scripted('{"lessons": ["When a question asks for <the kind of fact>, look there."]}',
                       '{"lessons": ["' + filled.replace('"', '\\"') + '"]}')
    reflector = Reflector(teacher, settings)
    right, wrong = attempt(0, "3.3", 1.0), attempt(1, "3.11", 0.0)
    assert reflector.advantage(TASK, [(right, "s1"), (wrong, "s2")]) == [filled]
    assert "Write each lesson by filling in every <...> of this pattern:" in str(teacher.calls[0]["messages"][0].content)
    assert "still holds the slot <the kind of fact>" in str(teacher.calls[1]["messages"][-1].content)

    # Observed with the 1.5B teacher at G=1 and in the demo: the label slot's description copied without its
    # brackets into a lesson about which page to open. The label is optional: the clause is cut, the page kept.
    copied = "When asked for a version, answer with the value after 'the label next to it' on the module page."
    teacher = scripted('{"lessons": ["' + copied + '"]}')
    assert Reflector(teacher, settings).advantage(TASK, [(right, "s1"), (wrong, "s2")]) == [
        "When asked for a version, answer with the value on the module page."]
    assert len(teacher.calls) == 1, "a lesson whose only gap is the optional label is not re-asked"
    bracketed = 'When asked for a chair, answer with the value after "<the label next to it>" on the Committee page.'
    assert settings.without_unfilled_clause(bracketed) == "When asked for a chair, answer with the value on the Committee page."
    assert settings.without_unfilled_clause(filled) == filled, "a filled label stays"

    # A slot that is not optional: the lesson is dropped when another of the reply is filled, re-asked when none is.
    no_page = "When asked for a version, answer with the value after 'Added' on <which page or section>."
    teacher = scripted('{"lessons": ["' + no_page + '", "' + filled.replace('"', '\\"') + '"]}')
    assert Reflector(teacher, settings).advantage(TASK, [(right, "s1"), (wrong, "s2")]) == [filled]
    assert len(teacher.calls) == 1
    teacher = scripted('{"lessons": ["' + no_page + '"]}', '{"lessons": ["' + filled.replace('"', '\\"') + '"]}')
    assert Reflector(teacher, settings).advantage(TASK, [(right, "s1"), (wrong, "s2")]) == [filled]
    assert "still holds the slot <which page or section>" in str(teacher.calls[1]["messages"][-1].content)

    tips_teacher = scripted('{"lessons": ["' + no_page + '"]}', '{"lessons": ["' + filled.replace('"', '\\"') + '"]}')
    tips = generate_direct_tips(tips_teacher, [TASK], count=2, settings=settings)
    assert "of this pattern:" in str(tips_teacher.calls[0]["messages"][0].content), "tips get the same pattern"
    assert tips.texts() == [filled], "a tip with an unfilled slot is re-asked"
    tips = generate_direct_tips(scripted('{"lessons": ["' + copied + '"]}'), [TASK], count=2, settings=settings)
    assert tips.texts() == ["When asked for a version, answer with the value on the module page."]


def test_plain_lines_are_read_as_lessons_and_a_lesson_holding_the_answer_is_specific():
    """Observed with the 1.5B teacher: the filled-in pattern came back as plain text, not JSON."""
    from tfgrpo_agents.learning import parse_tolerantly
    from tfgrpo_agents.learning.domains import DOMAINS
    from tfgrpo_agents.learning.reflection import Lessons, OpsPlan, TaskVocabulary

    pattern = DOMAINS["web"].reflection().follows_template
    text = "Here are the lessons:\n1. When a version is asked, read the note under the title.\n- When unsure, search."
    assert parse_tolerantly(text, Lessons, list_field="lessons", line_item=pattern).lessons == [
        "When a version is asked, read the note under the title.", "When unsure, search."]
    with __import__("pytest").raises(ValueError):
        parse_tolerantly(text, Lessons, list_field="lessons")  # no pattern: prose is not taken for lessons
    with __import__("pytest").raises(ValueError):
        parse_tolerantly(text, OpsPlan, list_field="operations", line_item=pattern)  # objects are re-asked

    vocabulary = TaskVocabulary([TASK.question] + [f"In which version was module {n} added?" for n in range(3)])
    assert vocabulary.specific_terms("Answer with the number after New in version 3.3.", TASK.question, "3.3") == ["3.3"]
    assert vocabulary.specific_terms("Answer with the number after New in version.", TASK.question, "3.3") == []


def re_asked(first: str, fixed: str, wrong: str = "3.11") -> str:
    """The re-ask a first lesson got, after checking the fixed lesson is the one kept."""
    teacher = scripted(json.dumps({"lessons": [first]}), json.dumps({"lessons": [fixed]}))
    lessons = Reflector(teacher).advantage(TASK, [(attempt(0, "3.3", 1.0), "s1"), (attempt(1, wrong, 0.0), "s2")])
    assert lessons == [fixed]
    return str(teacher.calls[1])


def test_a_lesson_that_pastes_the_tool_result_is_re_asked():
    """Observed: '… answer with the value after `X`.html `X` — IANA time zone support New in version N.'"""
    pasted = "When asked for a version, answer with the value after Compression using the LZMA algorithm New in version."
    general = 'When asked for a version, answer with the value after "New in version" on the module page.'
    assert "copies the tool result's words «compression using the lzma algorithm»" in re_asked(pasted, general)


def test_a_lesson_that_names_a_wrong_answer_is_re_asked():
    """With "…, not '3.11'" in its prompt the 1.5B agent answered 3.11: a lesson must not plant the value."""
    planting = "When asked for a version, answer with the value after New in version, never 3.2."
    general = "When asked for a version, answer with the value after New in version on the module page."
    assert "quotes the wrong answer «3.2»" in re_asked(planting, general, wrong="3.2")

    # The site's own version is written N, like the task's numbers: "the Python 3.11 documentation" plants nothing.
    from tfgrpo_agents.learning.lessons import generalize_lesson
    assert generalize_lesson("Read the Python 3.11 documentation.", TASK.question, "3.3", TASK.root_url) == \
        "Read the Python N documentation."


def test_a_lesson_whose_label_is_the_value_itself_is_re_asked():
    """Observed with anchored snippets: "… answer with the value after '3.3' …", which reads "after 'N'" once
    generalised: a value where the pattern wants the words written next to it."""
    value_as_label = "When asked for a version, answer with the value after '3.3' on the Library Reference page."
    general = "When asked for a version, answer with the value after 'New in version' on the module page."
    assert "quotes 'N', a value, where the words written next to the value belong" in re_asked(value_as_label, general)


def test_a_lesson_whose_label_no_result_shows_is_re_asked():
    """Observed after §1f: "… answer with the value after 'Python version with X' …", words on no page."""
    invented = "When asked for a version, answer with the value after 'Python version with `X`' on the docs."
    general = "When asked for a version, answer with the value after 'New in version' on the module page."
    assert "says the answer follows «Python version with `X`», words no result of these attempts shows" in \
        re_asked(invented, general)

    from tfgrpo_agents.learning.lessons import LessonVetting
    vetting = LessonVetting(TASK, [attempt(0, "3.3", 1.0)])
    assert vetting.unseen_label("Answer with the value after \"Compression using\" on the page.") is None
    assert vetting.unseen_label("Answer with the value after 'Source code' on the page.") is None
    assert vetting.unseen_label("Read the module's page.") is None, "no label, nothing to check"
    assert LessonVetting(TASK, []).unseen_label("Answer after 'Editor'.") is None, "no results, nothing to check"


def test_a_lesson_that_compares_with_the_reference_answer_is_re_asked():
    """Observed on math (§1k): the teacher, which sees the reference answer, wrote "Always check your work by
    comparing your final answer with the reference answer" — advice the agent cannot follow at run time."""
    graders = "When asked for a version, compare your answer with the reference answer before replying."
    general = "When asked for a version, answer with the value after New in version on the module page."
    assert "refers to «reference answer», which the agent never sees when it works" in re_asked(graders, general)
    from tfgrpo_agents.learning.lessons import LessonVetting
    vetting = LessonVetting(TASK, [attempt(0, "3.3", 1.0)])
    assert vetting.objection("When a tool result does not match the expected answer, review the code.")
    assert vetting.objection("When asked for a version, check the correct attempt's page first.") is None


SHOP_TASK = Task(id="s", question="How much does the Juniper Staff cost in the Cinderfall shop?", answer="117 gold",
                 root_url="http://127.0.0.1:8000/game-1/")
SHOP_HITS = ("1. Shop | Cinderfall\n   URL: http://127.0.0.1:8000/game-1/shop.html\n   Home Shop Nimbus Bow: 788 gold. "
             "Juniper Staff: 117 gold.\n2. Lumen Staff | Cinderfall\n   URL: http://127.0.0.1:8000/game-1/items/"
             "lumen-staff.html\n   Lumen Staff Base damage: 19. Lore.")
PROFESSOR_PAGE = ("Title: Prof Bruno Mbeki | Institute of Meridian Computing\nURL: http://127.0.0.1:8000/institute-1/"
                  "people/faculty/bruno-mbeki.html\n\nHome People Faculty Bruno Mbeki Office: Room 4.12.")


def shop_attempt(sample: int, answer: str, reward: float, result: str = SHOP_HITS) -> Trajectory:
    messages = [HumanMessage(SHOP_TASK.question),
                AIMessage("", tool_calls=[{"name": "web_search", "args": {"query": "Juniper Staff"}, "id": "c0"}]),
                ToolMessage(result, tool_call_id="c0"), AIMessage(answer)]
    return Trajectory(task_id="s", sample=sample, question=SHOP_TASK.question, messages=messages_to_dict(messages),
                      tool_calls=tool_calls_from_messages(messages), final_answer=answer, reward=reward)


def test_the_contrast_names_the_page_and_label_of_each_value_without_the_tasks_names():
    """The teacher fills "on <which page>" and "after <the label>" from these, not from the wrong attempt's excerpt."""
    contrast = group_contrast(SHOP_TASK, [shop_attempt(0, "117 gold", 1.0), shop_attempt(1, "19", 0.0)])
    assert "found on the search hit for the page «Shop» (/game-1/shop.html), in the text" in contrast
    assert ("answered «19», taken from the wrong part of its tool result 1 on the search hit for the page "
            "«Lumen X» (/game-1/items/lumen-X.html), after the label «Base damage»:") in contrast
    assert "after the label «Staff»" not in contrast, "an item's name before its price is not a label"


def test_an_opened_pages_title_and_path_lose_the_questions_names():
    from tfgrpo_agents.learning.evidence import whereabouts
    question = "Where is the office of Bruno Mbeki in the Institute of Meridian Computing?"
    text = " ".join(PROFESSOR_PAGE.split())
    assert whereabouts(text, text.index("Room 4.12"), question) == \
        " on the opened page «Prof X» (/institute-1/people/faculty/X.html), after the label «Office»"
    assert whereabouts("no header here: 3.3", 16, question) == ""


def test_a_web_lesson_may_say_the_kind_of_fact_its_question_asks_but_not_what_it_names():
    """Refused before: "names 'keynote', 'opening' from this task only", the one keynote question of the set."""
    from tfgrpo_agents.learning.domains import DOMAINS
    from tfgrpo_agents.learning.lessons import TaskVocabulary

    keynote = "Who gives the opening keynote at Orbit Conf 2036?"
    questions = [keynote, "Who is the workshop chair of Lumen Symposium 2035?",
                 "How much does the Juniper Staff cost in the Cinderfall shop?", "Who chairs Basalt Workshop 2035?"]
    lesson = "When asked who gives the opening keynote, answer with the name on the Keynotes page."
    assert TaskVocabulary(questions).specific_terms(lesson, keynote) == ["give", "keynote", "opening"]
    names_only = TaskVocabulary(questions, names_only=True)
    assert names_only.specific_terms(lesson, keynote) == []
    assert names_only.specific_terms(lesson + " of Orbit Conf", keynote) == ["conf", "orbit"]
    assert names_only.specific_terms("When asked for a keynote in 2036, open Keynotes.", keynote) == ["2036"]
    assert DOMAINS["web"].reflection().specific_words == "names" and DOMAINS["math"].reflection().specific_words == "any"
    course = "Who coordinates the course DEP276 in the School of Prism Engineering?"
    assert names_only.without_names("The coordinator of course DEP276 is on the course page.", course) == \
        "The coordinator of course X is on the course page."
    assert names_only.without_names("Who coordinates the course DEP276 in the School of Prism Engineering?",
                                         course) == "Who coordinates the course X in the X of X?"
    assert TaskVocabulary(questions).without_names("course DEP276", course) == "course DEP276", "math: unchanged"
    # the demo learns from two questions: too few to count words, never too few to take a name out
    assert TaskVocabulary([course, keynote], names_only=True).without_names("the dep276 page", course) == "the X page"


def test_a_copied_address_or_site_path_becomes_the_name_of_the_page():
    from tfgrpo_agents.learning.lessons import generalize_lesson

    assert generalize_lesson('Read the value after "Venue" on /conference-N/venue.html.', "q") == \
        'Read the value after "Venue" on the venue page.'
    assert generalize_lesson('Read it on the page "/department-N/teaching/courses/X.html".', "q") == "Read it on its own page."
    assert generalize_lesson('Read it on the page "http://127.0.0.1:3/game-1/shop.html".', "q") == "Read it on its page."
    assert generalize_lesson("Divide 3/4 by a/b.", "q") == "Divide 3/4 by a/b."
    assert generalize_lesson("When asked for the workshop chair, answer with the value after 'Workshop chair' on the "
                             "page 'Committee', in the text '…ariq Okonkwo.'", "q") == \
        "When asked for the workshop chair, answer with the value after 'Workshop chair' on the page 'Committee'."


def test_a_lesson_that_says_to_answer_with_the_label_says_the_value_after_it():
    """The 1.5B teacher wrote "answer with the label 'Workshop chair' on the page 'Committee'", and the agent, told
    so by the check, answered "Workshop chair"."""
    from tfgrpo_agents.learning.lessons import generalize_lesson

    assert generalize_lesson("When asked for the workshop chair, answer with the label 'Workshop chair' on the page "
                             "'Committee'.", "q") == \
        "When asked for the workshop chair, answer with the value after 'Workshop chair' on the page 'Committee'."
    assert generalize_lesson("When asked for a row, answer with the label of the row.", "q") == \
        "When asked for a row, answer with the label of the row.", "a label that is the answer stays"


def test_a_web_lesson_naming_its_course_is_kept_with_the_name_taken_out():
    """The 1.5B teacher wrote "the course DEP276" three times in a row and the group taught nothing."""
    from tfgrpo_agents.learning.domains import DOMAINS

    course = Task(id="c", question="Who coordinates the course DEP276 in the School of Prism Engineering?",
                  answer="Ravi Lindqvist", root_url="http://127.0.0.1:8000/department-2/")
    hits = ("1. DEP276 | School of Prism Engineering\n   URL: http://127.0.0.1:8000/department-2/teaching/courses/"
            "dep276.html\n   DEP276 Course coordinator: Ravi Lindqvist.\n2. Leadership | School of Prism Engineering\n"
            "   URL: http://127.0.0.1:8000/department-2/about/leadership.html\n   Head of department: Dario Brennan.")

    def course_attempt(sample: int, answer: str, reward: float) -> Trajectory:
        messages = [HumanMessage(course.question),
                    AIMessage("", tool_calls=[{"name": "web_search", "args": {"query": "DEP276"}, "id": "c0"}]),
                    ToolMessage(hits, tool_call_id="c0"), AIMessage(answer)]
        return Trajectory(task_id="c", sample=sample, question=course.question, messages=messages_to_dict(messages),
                          tool_calls=tool_calls_from_messages(messages), final_answer=answer, reward=reward)

    lesson = ('When asked who coordinates the course DEP276, answer with the value after "Course coordinator" on the '
              'page "/department-N/teaching/courses/dep276.html".')
    teacher = scripted(json.dumps({"lessons": [lesson]}))
    reflector = Reflector(teacher, DOMAINS["web"].reflection())
    reflector.learn_vocabulary([course, SHOP_TASK, TASK, Task(id="d", question="Who heads the School of Prism Art?")])
    attempts = [(course_attempt(0, "Ravi Lindqvist", 1.0), "s1"), (course_attempt(1, "Dario Brennan", 0.0), "s2")]
    assert reflector.advantage(course, attempts) == [
        'When asked who coordinates the course X, answer with the value after "Course coordinator" on its own page.']
    prompt = str(teacher.calls[0])
    assert "Who coordinates the course X in the X of X?" in prompt, "the question is shown without its names"
    assert "after the label «Course coordinator»" in prompt and "after the label «Head of department»" in prompt


def test_an_operation_whose_text_describes_the_edit_is_re_asked_and_a_failed_plan_adds_the_lessons():
    """Seen: group_ops filed the Committee-page lesson as "The lesson has been updated to provide a more
    detailed and accurate guide on how to find the workshop chair on a conference's homepage."""
    from tfgrpo_agents.experience import ExperienceLibrary

    lesson = "When asked for the workshop chair, answer with the value after \"Workshop chair\" on the Committee page."
    meta = ("The lesson has been updated to provide a more detailed and accurate guide on how to find the workshop "
            "chair on a conference's homepage.")
    ops = lambda text: json.dumps({"operations": [{"op": "ADD", "text": text}]})  # noqa: E731
    teacher = scripted(ops(meta), ops(lesson))
    assert Reflector(teacher).group_ops([lesson], ExperienceLibrary()) == [{"op": "ADD", "text": lesson}]
    assert "words of no lesson given" in str(teacher.calls[1])

    stubborn = scripted(ops(meta), ops(meta), ops(meta))
    assert Reflector(stubborn).group_ops([lesson], ExperienceLibrary()) == [{"op": "ADD", "text": lesson}]
    assert len(stubborn.calls) == 3


def test_an_edit_report_made_of_the_librarys_words_is_re_asked_too():
    """A report of the edit that is mostly a lesson's words passes the word check (with a venue lesson in
    the library, "conference's homepage" and "find" are known words), so it is caught by what it says."""
    from tfgrpo_agents.experience import ExperienceLibrary
    from tfgrpo_agents.learning.lessons import unsupported_words

    library = ExperienceLibrary.from_texts([
        "When asked for the location of the sessions of a conference, find the 'Venue' section on the conference's "
        "homepage and read the room given there."])
    lesson = "When asked for the workshop chair, answer with the value after \"Workshop chair\" on the Committee page."
    meta = "The lesson has been updated: find the workshop chair on the Committee page of the conference's homepage."
    assert unsupported_words(meta, [lesson, library.experiences[0].text]) == [], "most of its words are known"
    ops = lambda text: json.dumps({"operations": [{"op": "ADD", "text": text}]})  # noqa: E731
    teacher = scripted(ops(meta), ops(lesson))
    assert Reflector(teacher).group_ops([lesson], library) == [{"op": "ADD", "text": lesson}]
    assert "reports the edit" in str(teacher.calls[1])


def test_a_lesson_naming_the_label_the_wrong_attempts_read_is_refused():
    """The 1.5B teacher, told the current damage is on a patch note, wrote "answer with the value after 'Base
    damage' on its own page": the label the wrong attempts had answered after (BENCHMARKS.md §1r)."""
    from tfgrpo_agents.learning.lessons import LessonVetting

    vetting = LessonVetting(TASK, [attempt(0, "3.3", 1.0), attempt(1, "Lib/lzma.py", 0.0)])
    assert vetting.objection("When asked when a module was added, answer with the value after 'Source code' on its "
                             "page.") == ("says the answer follows «Source code», the label the wrong attempts "
                                          "answered after; say where the correct answer is written instead")
    assert vetting.objection("When asked when a module was added, answer with the value after 'New in version' on "
                             "its page.") is None


def test_the_evidence_states_a_lesson_of_the_questions_kind_the_words_before_the_answer_and_its_page():
    """What the contrast tells the teacher, written as the lesson itself: the fallback when a small teacher's
    every lesson for a group is refused (``ReflectionSettings.evidence_lessons``)."""
    from tfgrpo_agents.learning.evidence import evidence_lesson

    assert evidence_lesson(SHOP_TASK, [shop_attempt(0, "117 gold", 1.0), shop_attempt(1, "19", 0.0)]) == \
        'When asked "How much does the X cost in the X shop?", answer with the value written on the page "Shop".'
    office = Task(id="o", question="Where is the office of Bruno Mbeki in the Institute of Meridian Computing?",
                  answer="Room 4.12")
    right = shop_attempt(0, "Room 4.12", 1.0, result=PROFESSOR_PAGE).model_copy(update={"task_id": "o"})
    assert evidence_lesson(office, [right]) == ('When asked "Where is the office of X in the X of X?", answer with '
                                                'the value after "Office" on the page "Prof X".')
    # every attempt failed: the answer as it was looked up, on a patch note and not on the item's page
    damage = Task(id="d", question="What is the current damage of the Harbor Bow in Quartz Legends?", answer="43")
    found = ("1. Harbor Bow | Quartz Legends URL: http://g/game-2/items/harbor-bow.html Harbor Bow Base damage: 35. "
             "2. Patch 3.8 | Quartz Legends URL: http://g/game-2/patches/3.8.html Patch 3.8 Harbor Bow: damage "
             "changed to 43. Balance.")
    wrong = Trajectory(task_id="d", sample=0, question=damage.question, final_answer="35", reward=0.0)
    assert evidence_lesson(damage, [wrong], found) == ('When asked "What is the current damage of the X in X?", '
                                                       'answer with the value after "damage changed to" on the page '
                                                       '"Patch N".')
    # a page titled with someone the question does not name is named by its section, which carries to other tasks
    head = Task(id="h", question="Where is the office of the head of the Department of Tundra Studies?",
                answer="Building E, room 315")
    found = ("1. Esme Delacroix | Tundra URL: http://t/department-1/people/faculty/esme-delacroix.html … Building E, "
             "room 315. Office hours: Mondays.")
    assert evidence_lesson(head, [wrong], found).endswith('answer with the value written on a page under "faculty".')
    assert evidence_lesson(head, [wrong], "Building E, room 315, with no page around it") is None
    assert evidence_lesson(head, [wrong]) is None, "nothing right and nothing looked up: nothing to state"
