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


def _dynamic_prompt():
    from langchain.agents.middleware import dynamic_prompt

    @dynamic_prompt
    def persona(request) -> str:
        return "You are the conference help desk."

    return persona


@pytest.mark.parametrize("experiences_first", [True, False])
def test_experiences_survive_a_dynamic_prompt_in_either_order(experiences_first):
    model = scripted("ok")
    experiences = ExperienceMiddleware(ExperienceLibrary.from_texts(["Deadlines live on the Important Dates page."]))
    persona = _dynamic_prompt()
    middleware = [experiences, persona] if experiences_first else [persona, experiences]
    run(create_agent(model, tools=[], system_prompt="Base.", middleware=middleware))
    text = system_text(model.calls[0])
    assert text.startswith("You are the conference help desk.")
    assert "[G0] Deadlines live on the Important Dates page." in text


def test_two_libraries_at_once_each_add_their_block():
    model = scripted("ok")
    general = ExperienceMiddleware(ExperienceLibrary.from_texts(["Read the question twice."]), name="general",
                                   header="General lessons:")
    domain = ExperienceMiddleware(ExperienceLibrary.from_texts(["Dates are on the Call for Papers page."]),
                                  name="conferences", header="Conference lessons:")
    run(create_agent(model, tools=[], system_prompt="Base.", middleware=[general, _dynamic_prompt(), domain]))
    text = system_text(model.calls[0])
    assert "General lessons:" in text and "Read the question twice." in text
    assert "Conference lessons:" in text and "Dates are on the Call for Papers page." in text
    assert text.count("Read the question twice.") == 1


def test_the_rollout_sampling_reaches_the_model_call():
    from tfgrpo_agents.agents import SamplingMiddleware
    from tfgrpo_agents.agents.sampling import sampling_configurable

    seen = []

    class Recording(type(scripted())):
        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            seen.append({k: kwargs.get(k) for k in ("temperature", "seed")})
            return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)

    for middleware in (ExperienceMiddleware(ExperienceLibrary()), SamplingMiddleware()):
        model = Recording(messages=iter(["a", "b"]))
        agent = create_agent(model, tools=[], middleware=[middleware])
        agent.invoke({"messages": [HumanMessage("hi")]},
                     {"configurable": sampling_configurable(0.7, 1234)})
        agent.invoke({"messages": [HumanMessage("hi")]})
    assert seen == [{"temperature": 0.7, "seed": 1234}, {"temperature": None, "seed": None}] * 2
