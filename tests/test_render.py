from tfgrpo_agents.experience import (
    DEFAULT_HEADER,
    Experience,
    ExperienceLibrary,
    render_experiences,
)


def test_render_numbers_lines_under_a_header():
    library = ExperienceLibrary.from_texts(["Read the page head first.", "Answer with the value only."])
    assert library.render() == (
        f"{DEFAULT_HEADER}\n[G0] Read the page head first.\n[G1] Answer with the value only."
    )


def test_render_orders_by_numeric_id_for_a_stable_prefix():
    items = [Experience(id="G10", text="ten"), Experience(id="G2", text="two"), Experience(id="G1", text="one")]
    assert render_experiences(items, header="") == "[G1] one\n[G2] two\n[G10] ten"


def test_empty_library_renders_nothing():
    assert render_experiences(ExperienceLibrary()) == ""
