"""Snapshots per learning step, diff between any two, rollback to any step."""

import pytest

from tfgrpo_agents.experience import ExperienceLibrary, UnknownStepError


@pytest.fixture
def library() -> ExperienceLibrary:
    library = ExperienceLibrary.from_texts(["First lesson."])
    library.apply([{"op": "ADD", "text": "Second lesson."}])                      # step 1
    library.apply([{"op": "UPDATE", "id": "G0", "text": "First lesson, revised."}])  # step 2
    library.apply([{"op": "DELETE", "id": "G1"}, {"op": "ADD", "text": "Third."}])    # step 3
    return library


def test_every_step_has_a_snapshot(library):
    assert library.steps == [0, 1, 2, 3]
    assert [e.text for e in library.snapshot(1).experiences] == ["First lesson.", "Second lesson."]
    assert library.at_step(2).texts() == ["First lesson, revised.", "Second lesson."]


def test_diff_reports_added_removed_changed(library):
    diff = library.diff(1, 3)
    assert [e.text for e in diff.added] == ["Third."]
    assert [e.text for e in diff.removed] == ["Second lesson."]
    assert [(a.text, b.text) for a, b in diff.changed] == [("First lesson.", "First lesson, revised.")]
    rendered = diff.render()
    assert "+ [G2] Third." in rendered and "- [G1] Second lesson." in rendered
    assert library.diff(3).is_empty


def test_rollback_restores_and_discards_later_steps(library):
    library.rollback(1)
    assert library.step == 1
    assert library.texts() == ["First lesson.", "Second lesson."]
    assert library.steps == [0, 1]
    report = library.apply([{"op": "ADD", "text": "After rollback."}])
    assert report.step == 2
    assert report.applied[0].experience_id == "G3", "ids from the discarded branch are not reused"


def test_unknown_step_is_a_clear_error(library):
    with pytest.raises(UnknownStepError, match=r"no snapshot for step 9; known steps: \[0, 1, 2, 3\]"):
        library.rollback(9)
    assert library.step == 3
