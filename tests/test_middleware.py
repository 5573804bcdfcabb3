"""ExperienceMiddleware changes what the model of a create_agent app actually receives."""

import pytest
from langchain.agents import create_agent
from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.store.memory import InMemoryStore

from tests.fakes import scripted
from tfgrpo_agents.agents import ExperienceMiddleware, Placement
from tfgrpo_agents.experience import (
    ExperienceLibrary,
    StoreSource,
    save_library,
    save_to_store,
)


def system_text(call) -> str:
    first = call["messages"][0]
    assert isinstance(first, SystemMessage), "the model must receive a system message"
    return first.text


def run(agent, question="When is the paper deadline?"):
    return agent.invoke({"messages": [HumanMessage(question)]})


def test_system_prompt_carries_the_library():
    model = scripted("March 3")
    library = ExperienceLibrary.from_texts(["Deadlines live on the Important Dates page."])
    agent = create_agent(model, tools=[], system_prompt="You answer questions about websites.",
                         middleware=[ExperienceMiddleware(library)])
    run(agent)
    text = system_text(model.calls[0])
    assert text.startswith("You answer questions about websites.")
    assert "[G0] Deadlines live on the Important Dates page." in text


def test_agent_without_system_prompt_gets_one():
    model = scripted("ok")
    agent = create_agent(model, tools=[], middleware=[ExperienceMiddleware(ExperienceLibrary.from_texts(["Be brief."]))])
    run(agent)
    assert "[G0] Be brief." in system_text(model.calls[0])


def test_newly_learned_library_file_is_picked_up_without_rebuilding(tmp_path):
    path = save_library(ExperienceLibrary.from_texts(["Old lesson."]), tmp_path / "lib.json")
    model = scripted("a", "b")
    agent = create_agent(model, tools=[], system_prompt="Base.", middleware=[ExperienceMiddleware(path)])
    run(agent)
    newer = ExperienceLibrary.from_texts(["Old lesson."])
    newer.apply([{"op": "UPDATE", "id": "G0", "text": "New lesson."}])
    save_library(newer, path)
    run(agent)
    assert "Old lesson." in system_text(model.calls[0])
    assert "[G0] New lesson." in system_text(model.calls[1])
    assert "Old lesson." not in system_text(model.calls[1])


def test_in_memory_library_edits_are_live():
    library = ExperienceLibrary()
    model = scripted("a", "b")
    agent = create_agent(model, tools=[], system_prompt="Base.", middleware=[ExperienceMiddleware(library)])
    run(agent)
    library.apply([{"op": "ADD", "text": "Fresh lesson."}])
    run(agent)
    assert system_text(model.calls[0]) == "Base."
    assert "[G0] Fresh lesson." in system_text(model.calls[1])


def test_user_placement_appends_to_the_question_only():
    model = scripted("ok")
    library = ExperienceLibrary.from_texts(["Check the footer."])
    agent = create_agent(model, tools=[], system_prompt="Base.",
                         middleware=[ExperienceMiddleware(library, placement=Placement.USER)])
    result = run(agent, "Who edits the newsletter?")
    assert system_text(model.calls[0]) == "Base."
    human = model.calls[0]["messages"][1]
    assert human.text.startswith("Who edits the newsletter?") and "[G0] Check the footer." in human.text
    assert result["messages"][0].text == "Who edits the newsletter?", "the stored conversation is unchanged"


def test_store_backed_library():
    store = InMemoryStore()
    library = ExperienceLibrary.from_texts(["Stored lesson."])
    library.meta.domain = "web"
    save_to_store(library, store)
    model = scripted("ok")
    agent = create_agent(model, tools=[], system_prompt="Base.",
                         middleware=[ExperienceMiddleware(StoreSource(store, domain="web"))])
    run(agent)
    assert "[G0] Stored lesson." in system_text(model.calls[0])


def test_bad_source_type_is_rejected():
    with pytest.raises(TypeError, match="expected an ExperienceLibrary"):
        ExperienceMiddleware(42)
