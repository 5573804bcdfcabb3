"""Lessons at the point of decision: only the matching lessons, restated under tool results, checked before
the answer — in the built-in ReAct agent and in a create_agent app through ExperienceMiddleware."""

import asyncio

from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage, messages_to_dict
from langchain_core.tools import tool

from tests.fakes import scripted, tool_call
from tfgrpo_agents.agents import (
    ExperienceMiddleware,
    LessonDelivery,
    build_react_agent,
    matching_lessons,
)
from tfgrpo_agents.agents.delivery import condition_of, opening_call, suggested_page
from tfgrpo_agents.experience import ExperienceLibrary
from tfgrpo_agents.learning import Trajectory
from tfgrpo_agents.learning.reflection import render_transcript

LESSONS = ExperienceLibrary.from_texts([
    "When asked for a conference's submission deadline, open its Call for Papers page and read the Key dates table.",
    "When asked for a professor's office or office hours, open People, then Faculty, then that person's own page.",
    "When asked for a game item's current stats, check the newest patch note, which overrides the item page.",
    "When searching a website, read the page titles in the results before opening one.",
])
OFFICE = "Where is Professor Bruno Mbeki's office?\nWebsite: http://sites.tfgrpo.test/uni/"


@tool
def web_browse(url: str) -> str:
    """Open a page."""
    return f"People page of {url}: Bruno Mbeki, Professor."


def test_the_matching_lesson_comes_first_and_generic_words_match_nothing():
    assert condition_of(LESSONS.experiences[0].text) == " asked for a conference's submission deadline"
    office = matching_lessons(LESSONS.experiences, OFFICE)
    assert [e.id for e in office] == ["G1"], "'website' and 'asked' say nothing about a question"
    deadline = matching_lessons(LESSONS.experiences, "What is the paper submission deadline of ICLM 2031?")
    assert deadline[0].id == "G0"
    assert matching_lessons(LESSONS.experiences, "How tall is the tower?") == []
    assert len(matching_lessons(LESSONS.experiences, "office hours, deadline, patch note", limit=2)) == 2
    # a URL in the question is not a word of it, and "notified" is "notification"
    assert matching_lessons(LESSONS.experiences, "When are authors notified? http://a.test/deadline/") == []
    notified = ExperienceLibrary.from_texts(["When asked for a notification date, open Key dates.", "When asked "
                                             "for a chair, open Committee."])
    assert [e.id for e in matching_lessons(notified.experiences, "When are authors notified?")] == ["G0"]


def test_a_name_in_the_question_matches_no_lesson():
    """Observed on a held-out web: "…the course DEP322 in the Department of Applied Tundra Studies?" got the
    head-of-department lesson by the site's name, and the agent swapped the coordinator it had read for the head."""
    head = ExperienceLibrary.from_texts(["When asked who heads a university department, open About, then Leadership."])
    course = "Who coordinates the course DEP322 in the Department of Applied Tundra Studies?"
    assert matching_lessons(head.experiences, course) == []
    assert len(matching_lessons(head.experiences, "Who is the head of the Department of Applied Tundra Studies?")) == 1
    assert len(matching_lessons(head.experiences, "Department heads: who is the one at Tundra?")) == 1, \
        "the first word is a word of the question"


def test_a_word_the_two_texts_qualify_differently_does_not_match():
    """The learned library's workshop-chair lesson was selected for every general-chair question on "chair"
    alone, and the agent answered the workshop chair's name (BENCHMARKS.md §1p)."""
    learned = ExperienceLibrary.from_texts([
        "When asked for the workshop chair of a conference, open Committee and read the 'Workshop chair' line.",
        "When asked what a game item costs in the shop, open the Shop page.",
        "When asked for a product's current version, open the Changelog.",
        "When asked which of two GLib functions came first, compare their 'Since:' lines.",
    ])
    ids = lambda question: [e.id for e in matching_lessons(learned.experiences, question)]  # noqa: E731
    assert ids("Who is the general chair of ICLM 2031?") == []
    assert ids("Who is the workshop chair of ICLM 2031?") == ["G0"]
    assert ids("Who chairs the workshops of ICLM 2031?") == ["G0"], "no qualifier on either side: the word counts"
    assert ids("What does the NimbusDB team plan cost per user per month?") == [], "a plan's cost is not an item's"
    assert ids("How much does the Ember Blade cost in the shop?") == ["G1"]
    assert ids("What is the latest version of NimbusDB?") == ["G2"], "'latest' picks a version, it is no other kind"
    assert ids("Which became available first in GLib: g_free() or g_new()?") == ["G3"]
    assert ids("What is the NimbusDB version out now?") == ["G2"]
    # a kind the condition picks an instance of is another thing where the question qualifies it otherwise
    damage = ExperienceLibrary.from_texts(['When asked "What is the current damage of the X in X?", answer with '
                                           'the value after "damage changed to" on the page "Patch N".'])
    assert len(matching_lessons(damage.experiences, "What is the current damage of the Lumen Bow in Ardent?")) == 1
    assert len(matching_lessons(damage.experiences, "What damage does the Lumen Bow deal now?")) == 1
    assert matching_lessons(damage.experiences, "What is the base damage of the Lumen Bow in Ardent?") == []
    # a qualifier the other text holds anywhere keeps the word: "submission or notification deadline"
    dates = ExperienceLibrary.from_texts(["When asked for a submission or notification deadline, open Key dates."])
    assert len(matching_lessons(dates.experiences, "What is the paper submission deadline of ICLM 2031?")) == 1


def system_of(call) -> str:
    first = call["messages"][0]
    return first.text if isinstance(first, SystemMessage) else ""


def react(model, delivery):
    return build_react_agent(model, [web_browse], system_prompt="Answer from the website.", experiences=LESSONS,
                             delivery=delivery, max_steps=5)


def test_relevant_only_shows_the_task_its_own_lessons():
    model = scripted("Room 4.12")
    react(model, LessonDelivery(relevant_only=True)).invoke({"messages": [HumanMessage(OFFICE)]})
    text = system_of(model.calls[0])
    assert "that person's own page" in text and "Key dates" not in text and "patch note" not in text
    model = scripted("Room 4.12")
    react(model, LessonDelivery()).invoke({"messages": [HumanMessage(OFFICE)]})
    assert "Key dates" in system_of(model.calls[0]), "without the option every lesson is shown"


def test_restate_puts_the_lesson_under_every_tool_result():
    model = scripted(tool_call("web_browse", {"url": "http://sites.tfgrpo.test/uni/people.html"}), "Room 4.12")
    result = react(model, LessonDelivery(restate=True)).invoke({"messages": [HumanMessage(OFFICE)]})
    tool_text = next(m for m in result["messages"] if isinstance(m, ToolMessage)).text
    assert "A lesson for this question: When asked for a professor's office" in tool_text
    assert tool_text.index("A lesson") < tool_text.index("Question:"), "the lesson comes before the footer"
    assert "Key dates" not in tool_text


def test_answer_check_holds_the_first_answer_back_once():
    model = scripted("It is on the Leadership page.",
                     tool_call("web_browse", {"url": "http://sites.tfgrpo.test/uni/mbeki.html"}), "Room 4.12")
    result = react(model, LessonDelivery(answer_check=True)).invoke({"messages": [HumanMessage(OFFICE)]})
    assert result["final_answer"] == "Room 4.12" and len(model.calls) == 3
    check = model.calls[1]["messages"][-1]
    assert isinstance(check, HumanMessage) and "Before you answer" in check.text and "own page" in check.text
    # a question no lesson matches is answered at once
    model = scripted("Fifty metres.")
    result = react(model, LessonDelivery(answer_check=True)).invoke(
        {"messages": [HumanMessage("How tall is the tower?")]})
    assert result["final_answer"] == "Fifty metres." and len(model.calls) == 1


def test_a_create_agent_app_gets_the_same_three_options():
    model = scripted(tool_call("web_browse", {"url": "http://sites.tfgrpo.test/uni/people.html"}),
                     "It is on the Leadership page.", "Room 4.12")
    middleware = ExperienceMiddleware(LESSONS, delivery=LessonDelivery(relevant_only=True, restate=True,
                                                                        answer_check=True))
    agent = create_agent(model, tools=[web_browse], system_prompt="Answer from the website.", middleware=[middleware])
    result = agent.invoke({"messages": [HumanMessage(OFFICE)]})
    assert result["messages"][-1].text == "Room 4.12" and len(model.calls) == 3
    assert "own page" in system_of(model.calls[0]) and "Key dates" not in system_of(model.calls[0])
    tool_text = next(m for m in result["messages"] if isinstance(m, ToolMessage)).text
    assert "A lesson for this question:" in tool_text
    assert "Before you answer" in model.calls[2]["messages"][-1].text


def test_the_async_path_of_the_middleware_checks_too():
    model = scripted("It is on the Leadership page.", "Room 4.12")
    agent = create_agent(model, tools=[web_browse], middleware=[
        ExperienceMiddleware(LESSONS, delivery=LessonDelivery(answer_check=True))])
    result = asyncio.run(agent.ainvoke({"messages": [HumanMessage(OFFICE)]}))
    assert result["messages"][-1].text == "Room 4.12" and len(model.calls) == 2


def test_an_arm_with_a_delivery_builds_its_agent_with_it_and_keeps_its_rollouts_apart(tmp_path):
    from tests.test_evaluation import TASKS, CountingWorld
    from tfgrpo_agents.core.rewards import MathGrader
    from tfgrpo_agents.evaluation import EvalConfig, EvalSettings, evaluate
    from tfgrpo_agents.tools import python_exec_tool

    model, tool, seen = CountingWorld(), python_exec_tool(), []

    def build(library, placement, delivery=None):
        seen.append(delivery)
        return build_react_agent(model, [tool], system_prompt="Add.", experiences=library, placement=placement,
                                 max_steps=4, delivery=delivery)

    settings = EvalSettings(k=1, temperature=0.3, seed=1, concurrency=2, max_steps=4, agent_digest="setup")
    plain, checked = EvalConfig(name="arm"), EvalConfig(name="arm", delivery=LessonDelivery.parse("check"))
    asyncio.run(evaluate(build, plain, TASKS[:2], MathGrader(), settings, tmp_path))
    assert seen == [None], "a plain arm calls a two-argument builder as before"
    model.calls = 0
    asyncio.run(evaluate(build, checked, TASKS[:2], MathGrader(), settings, tmp_path))
    assert seen[-1] == LessonDelivery(answer_check=True)
    assert model.calls > 0, "rollouts recorded with another delivery under the same arm name are run again"


SEARCH_RESULT = """Results for 'Bruno Mbeki office':
1. Bruno Mbeki | School of Prism Engineering
   URL: http://sites.tfgrpo.test/uni/people/faculty/bruno-mbeki.html
   Bruno Mbeki This section covers research interests …
2. Leadership | School of Prism Engineering
   URL: http://sites.tfgrpo.test/uni/about/leadership.html
   Bruno Mbeki chairs the school …"""


@tool
def web_search(query: str) -> str:
    """Search the website."""
    return SEARCH_RESULT


def test_next_names_the_unopened_page_the_lesson_points_to_in_the_check():
    model = scripted(tool_call("web_search", {"query": "Bruno Mbeki office"}),
                     "It is on the Leadership page.",
                     tool_call("web_browse", {"url": "http://sites.tfgrpo.test/uni/people/faculty/bruno-mbeki.html"}),
                     "Room 4.12")
    agent = build_react_agent(model, [web_search, web_browse], system_prompt="Answer from the website.",
                              experiences=LESSONS, delivery=LessonDelivery.parse("relevant,next"), max_steps=5)
    result = agent.invoke({"messages": [HumanMessage(OFFICE)]})
    assert result["final_answer"] == "Room 4.12" and len(model.calls) == 4
    check = model.calls[2]["messages"][-1].text
    assert "Before you answer" in check
    assert "The page it points to: Bruno Mbeki | School of Prism Engineering — open " \
           "http://sites.tfgrpo.test/uni/people/faculty/bruno-mbeki.html" in check, \
        "the faculty page is named (the lesson says Faculty), not the Leadership page the model wanted"


def test_next_skips_pages_already_opened_and_names_nothing_without_a_word_of_the_lesson():
    office = matching_lessons(LESSONS.experiences, OFFICE)
    browse = "Title: People\nURL: http://a.test/people.html\n\nLinks (2 of 2; open one by its URL):\n" \
             "[1] Faculty: http://a.test/people/faculty.html\n[2] Contact: http://a.test/contact.html"
    shown = [HumanMessage(OFFICE), AIMessage("", tool_calls=[{"name": "web_browse", "id": "1",
                                                              "args": {"url": "http://a.test/people.html"}}]),
             ToolMessage(browse, tool_call_id="1")]
    page = suggested_page(office, shown)
    assert (page.label, page.url) == ("Faculty", "http://a.test/people/faculty.html"), \
        "a link's own text is its label; the page already opened (People) is not suggested again"
    contact_only = [shown[0], ToolMessage("[1] Contact: http://a.test/contact.html", tool_call_id="2")]
    assert suggested_page(office, contact_only) is None
    assert LessonDelivery.parse("next") == LessonDelivery(suggest_page=True) and LessonDelivery(
        suggest_page=True).checks_answer


@tool("web_search")
def contact_only_search(query: str) -> str:
    """Search the website."""
    return "1. Contact | University\nURL: http://a.test/uni/contact.html\nWrite to us."


def test_next_holds_an_answer_back_only_to_name_a_page_and_check_next_always():
    """Observed on held-out sites: a lesson matched by one shared word, checked with no page to open,
    made the 1.5B agent drop a right answer ("I have not done what it says.")."""
    for spec, calls in (("relevant,next", 2), ("relevant,check,next", 3)):
        model = scripted(tool_call("web_search", {"query": "Bruno Mbeki office"}), "Room 4.12", "Room 4.12")
        agent = build_react_agent(model, [contact_only_search], experiences=LESSONS,
                                  delivery=LessonDelivery.parse(spec), max_steps=5)
        assert agent.invoke({"messages": [HumanMessage(OFFICE)]})["final_answer"] == "Room 4.12"
        assert len(model.calls) == calls, spec
    old_next = LessonDelivery.parse("next").model_dump_json(exclude={"hops"})  # how `next` was fingerprinted
    assert LessonDelivery.parse("next").fingerprint != old_next, "records of the old `next` are not reused"


def test_a_create_agent_app_gets_the_page_in_the_restatement_and_the_check():
    model = scripted(tool_call("web_search", {"query": "Bruno Mbeki office"}), "It is on the Leadership page.",
                     "Room 4.12")
    agent = create_agent(model, tools=[web_search], middleware=[
        ExperienceMiddleware(LESSONS, delivery=LessonDelivery.parse("relevant,restate,next"))])
    result = agent.invoke({"messages": [HumanMessage(OFFICE)]})
    tool_text = next(m for m in result["messages"] if isinstance(m, ToolMessage)).text
    assert "open http://sites.tfgrpo.test/uni/people/faculty/bruno-mbeki.html" in tool_text
    assert "It is on the Leadership page." in [m.text for m in model.calls[2]["messages"]], \
        "the answer held back stays in sight: set aside, the 1.5B agent lost its thread (BENCHMARKS.md §1o)"
    assert "open http://sites.tfgrpo.test/uni/people/faculty/bruno-mbeki.html" in model.calls[2]["messages"][-1].text


@tool("web_search")
def index_only_search(query: str) -> str:
    """Search the website."""
    return "1. People | University\nURL: http://a.test/uni/people.html\nOur people."


@tool("web_browse")
def index_then_person(url: str) -> str:
    """Open a page."""
    if url.endswith("people.html"):
        return ("Title: People\nURL: http://a.test/uni/people.html\n\nLinks (2 of 2; open one by its URL):\n"
                "[1] Bruno Mbeki: http://a.test/uni/people/faculty/bruno-mbeki.html\n[2] Contact: http://a.test/uni/contact.html")
    return f"Title: Bruno Mbeki\nURL: {url}\n\nOffice: Room 4.12"


def office_via_index(delivery: str):
    model = scripted(tool_call("web_search", {"query": "Bruno Mbeki office"}), "It is on the Leadership page.",
                     tool_call("web_browse", {"url": "http://a.test/uni/people.html"}), "Building C",
                     tool_call("web_browse", {"url": "http://a.test/uni/people/faculty/bruno-mbeki.html"}),
                     "Room 4.12")
    agent = build_react_agent(model, [index_only_search, index_then_person], system_prompt="Answer from the website.",
                              experiences=LESSONS, delivery=LessonDelivery.parse(delivery), max_steps=6)
    return model, agent.invoke({"messages": [HumanMessage(OFFICE)]})


def test_next2_names_the_page_an_opened_index_page_leads_to():
    model, result = office_via_index("relevant,next2")
    assert result["final_answer"] == "Room 4.12" and len(model.calls) == 6
    first, second = model.calls[2]["messages"][-1].text, model.calls[4]["messages"][-1].text
    assert "open http://a.test/uni/people.html" in first
    assert "The page it points to: Bruno Mbeki — open http://a.test/uni/people/faculty/bruno-mbeki.html" in second


def test_next_alone_checks_once_and_next2_never_names_a_page_twice():
    model, result = office_via_index("relevant,next")
    assert result["final_answer"] == "Building C" and len(model.calls) == 4, "one check, then the answer stands"
    delivery = LessonDelivery.parse("relevant,next2")
    assert (delivery.hops, delivery.spec) == (2, "relevant+next2") and LessonDelivery.parse(delivery.spec) == delivery
    assert LessonDelivery.parse("next").fingerprint == LessonDelivery(suggest_page=True).fingerprint
    assert "hops" not in LessonDelivery.parse("next").fingerprint and "hops" in delivery.fingerprint
    # the answer after the first check, with nothing new to open: no second check
    office = matching_lessons(LESSONS.experiences, OFFICE)
    first = delivery.check_for(office, [HumanMessage(OFFICE), ToolMessage(index_only_search.invoke("x"), tool_call_id="1")])
    assert "people.html" in first.text
    again = [HumanMessage(OFFICE), ToolMessage(index_only_search.invoke("x"), tool_call_id="1"), first]
    assert delivery.check_for(office, again) is None


def test_a_create_agent_app_follows_two_hops_too():
    model = scripted(tool_call("web_search", {"query": "Bruno Mbeki office"}), "It is on the Leadership page.",
                     tool_call("web_browse", {"url": "http://a.test/uni/people.html"}), "Building C",
                     tool_call("web_browse", {"url": "http://a.test/uni/people/faculty/bruno-mbeki.html"}),
                     "Room 4.12")
    agent = create_agent(model, tools=[index_only_search, index_then_person], middleware=[
        ExperienceMiddleware(LESSONS, delivery=LessonDelivery.parse("relevant,next2"))])
    result = agent.invoke({"messages": [HumanMessage(OFFICE)]})
    assert result["messages"][-1].text == "Room 4.12" and len(model.calls) == 6


@tool("web_search")
def item_search(query: str) -> str:
    """Search the website."""
    return ("1. Onyx Blade | Cinderfall\n   URL: http://a.test/game/items/onyx-blade.html\n   Base damage: 25.\n"
            "2. Patch notes | Cinderfall\n   URL: http://a.test/game/patches/index.html\n   Newest first.")


@tool("web_browse")
def patch_pages(url: str) -> str:
    """Open a page."""
    if url.endswith("index.html"):
        return ("Title: Patch notes | Cinderfall\nURL: http://a.test/game/patches/index.html\n\nNewest first.\n\n"
                "Links (2 of 2; open one by its URL):\n[1] Home: http://a.test/game/index.html\n"
                "[2] Patch 4.7: http://a.test/game/patches/4.7.html")
    return f"Title: Patch 4.7 | Cinderfall\nURL: {url}\n\nOnyx Blade damage raised to 36."


def test_next2_names_a_link_of_an_index_page_that_fits_the_lesson_less_than_the_index():
    """Observed on held-out webs: told to open the newest patch note, the agent opened the Patch notes index,
    whose title fits the lesson better than its link "Patch 4.7", and answered the base damage from there."""
    question = "What is the current damage of the Onyx Blade in Cinderfall?"

    def run(spec: str):
        model = scripted(tool_call("web_search", {"query": "Onyx Blade damage"}), "25",
                         tool_call("web_browse", {"url": "http://a.test/game/patches/index.html"}), "25",
                         tool_call("web_browse", {"url": "http://a.test/game/patches/4.7.html"}), "36")
        agent = build_react_agent(model, [item_search, patch_pages], experiences=LESSONS,
                                  delivery=LessonDelivery.parse(spec), max_steps=6)
        return model, agent.invoke({"messages": [HumanMessage(question)]})

    model, result = run("relevant,next2")
    assert result["final_answer"] == "36" and len(model.calls) == 6
    first_check = model.calls[2]["messages"][-1].text
    assert "Patch notes | Cinderfall — open http://a.test/game/patches/index.html" in first_check

    assert "Patch 4.7 — open http://a.test/game/patches/4.7.html" in model.calls[4]["messages"][-1].text
    model, result = run("relevant,next")
    assert result["final_answer"] == "25" and len(model.calls) == 4, "`next` names one page only"
    home_only = [HumanMessage(question), ToolMessage(patch_pages.invoke({"url": "http://a.test/game/patches/4.7.html"}),
                                                     tool_call_id="1")]
    patch = matching_lessons(LESSONS.experiences, question)
    assert suggested_page(patch, home_only, onward=True) is None, "an opened page with no fitting link leads nowhere"


@tool("web_search")
def shop_search(query: str) -> str:
    """Search the website."""
    return "1. Shop | Cinderfall\n   URL: http://a.test/game/shop.html\n   Prices in gold."


@tool("web_browse")
def shop_page(url: str, goal: str = "") -> str:
    """Open a page."""
    return f"Title: Shop | Cinderfall\nURL: {url}\n\nOnyx Blade: 373 gold."


SHOP = ExperienceLibrary.from_texts(["When asked what a game item costs in the shop, open the Shop page; item pages do "
                                   "not give shop prices."])
SHOP_QUESTION = "How much does the Onyx Blade cost in the Cinderfall shop?"


def test_a_reply_that_repeats_the_check_opens_the_page_it_named():
    """Observed on held-out webs: after a check named the Shop page, the 1.5B agent replied with the check's own
    line ("The page it points to: Shop | … — open http://…") or "I have not done what it says.", and that was
    graded as its answer."""
    for repeat in ("The page it points to: Shop | Cinderfall — open http://a.test/game/shop.html",
                   "I have not done what it says.", "The page it points to does not give shop prices."):
        model = scripted(tool_call("web_search", {"query": "Onyx Blade"}), "15", repeat, "373 gold")
        agent = build_react_agent(model, [shop_search, shop_page], experiences=SHOP,
                                  delivery=LessonDelivery.parse("relevant,next"), max_steps=6)
        result = agent.invoke({"messages": [HumanMessage(SHOP_QUESTION)]})
        assert result["final_answer"] == "373 gold", repeat
        opened = [m for m in result["messages"] if isinstance(m, ToolMessage)][-1]
        assert "Onyx Blade: 373 gold" in opened.text, "the page the check named was opened"
        assert any(repeat in m.text for m in result["messages"]), "the reply stays in the trace, set aside"
        transcript = render_transcript(Trajectory(task_id="t", sample=0, question=SHOP_QUESTION,
                                                  messages=messages_to_dict(result["messages"])))
        assert f"replied with the lesson check's words (set aside, the page it named opened): {repeat}" in transcript
    model = scripted(tool_call("web_search", {"query": "Onyx Blade"}), "15", "373 gold")
    agent = build_react_agent(model, [shop_search, shop_page], experiences=SHOP,
                              delivery=LessonDelivery.parse("relevant,next"), max_steps=6)
    assert agent.invoke({"messages": [HumanMessage(SHOP_QUESTION)]})["final_answer"] == "373 gold", \
        "an answer after the check is the answer"
    app = create_agent(scripted(tool_call("web_search", {"query": "Onyx Blade"}), "15",
                                "The page it points to: Shop | Cinderfall — open http://a.test/game/shop.html",
                                "373 gold"),
                       tools=[shop_search, shop_page],
                       middleware=[ExperienceMiddleware(SHOP, delivery=LessonDelivery.parse("relevant,next"))])
    result = app.invoke({"messages": [HumanMessage(SHOP_QUESTION)]})
    assert result["messages"][-1].text == "373 gold"
    check = next(m for m in result["messages"] if isinstance(m, HumanMessage) and m.name == "answer_check")
    opening = opening_call([check], AIMessage("I have not done what it says."), [{"type": "web_search"}, shop_page])
    assert opening.tool_calls[0]["name"] == "web_browse", "a provider's built-in tool without a schema is passed over"
    assert "Onyx Blade: 373 gold" in [m for m in result["messages"] if isinstance(m, ToolMessage)][-1].text


def test_next2_names_no_link_of_a_list_of_equals():
    faculty = ("Title: Faculty | University\nURL: http://a.test/uni/people/faculty/index.html\n\n"
               "Links (2 of 2; open one by its URL):\n"
               "[1] Ada Brennan: http://a.test/uni/people/faculty/ada-brennan.html\n"
               "[2] Bruno Mbeki: http://a.test/uni/people/faculty/bruno-mbeki.html")
    office = matching_lessons(LESSONS.experiences, "Where is the office of the head of department?")
    head = [HumanMessage("Where is the office of the head of department?"), ToolMessage(faculty, tool_call_id="1")]
    assert suggested_page(office, head, onward=True) is None, "no professor is the one asked about: none named"
    named = [HumanMessage(OFFICE), ToolMessage(faculty, tool_call_id="1")]
    assert suggested_page(office, named, onward=True).label == "Bruno Mbeki"


def test_next_names_the_page_of_the_site_the_question_names():
    """Observed on a held-out web: search hits came from three company sites, and the check named the first
    company's changelog to a question about the second company's product."""
    version = ExperienceLibrary.from_texts(["When asked for a product's current version, open the Changelog."])
    question = "What is the latest version of NimbusDB?\nWebsite: http://sites.tfgrpo.test/company-2/"
    hits = ("1. Changelog | Garnet Labs\n   URL: http://127.0.0.1:3/company-1/changelog.html\n"
            "2. Changelog | Harbor Systems\n   URL: http://127.0.0.1:3/company-2/changelog.html")
    shown = [HumanMessage(question), ToolMessage(hits, tool_call_id="1")]
    assert suggested_page(version.experiences, shown).url == "http://127.0.0.1:3/company-2/changelog.html"
    anywhere = [HumanMessage("What is the latest version of NimbusDB?\nWebsite: http://sites.tfgrpo.test/"), shown[1]]
    assert suggested_page(version.experiences, anywhere).url.endswith("company-1/changelog.html"), "else the first"


def test_next_names_the_page_the_lesson_names_on_the_site_the_question_names_by_name():
    """Seen in the 1.5B validation rollouts (BENCHMARKS.md §1r): with only the web's root address in the question,
    the check named another conference's Committee page ("Workshop" in its title matched the lesson's label), and
    on the right site the Workshops page (the label's word) instead of the Committee page the lesson names."""
    chair = ExperienceLibrary.from_texts(["When asked for the workshop chair of a conference, answer with the value "
                                          "after 'Workshop chair' on the page 'Committee'."])
    question = "Who is the workshop chair of Lumen Symposium 2035?\nWebsite: http://sites.tfgrpo.test/"
    hits = ("1. Committee | Lumen Symposium\n   URL: http://127.0.0.1:3/conference-2/org/committee.html\n"
            "2. Workshops | Lumen Symposium\n   URL: http://127.0.0.1:3/conference-2/program/workshops.html\n"
            "3. Committee | Basalt Workshop on Systems\n   URL: http://127.0.0.1:3/conference-3/org/committee.html")
    shown = [HumanMessage(question), ToolMessage(hits, tool_call_id="1")]
    assert suggested_page(chair.experiences, shown).url.endswith("conference-2/org/committee.html")
    no_committee = [shown[0], ToolMessage(hits.split("\n3.")[0].split("\n", 2)[2], tool_call_id="1")]
    assert suggested_page(chair.experiences, no_committee).url.endswith("conference-2/program/workshops.html"), \
        "without the named page, a page sharing the lesson's other words is still named"
