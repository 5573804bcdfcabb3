"""Op semantics: each op, invalid ops, all-or-nothing batches."""

import logging

import pytest

from tfgrpo_agents.experience import (
    ExperienceLibrary,
    ExperienceOp,
    InvalidOpsError,
    LibraryLimits,
    OpKind,
)


def state(library: ExperienceLibrary) -> dict:
    return library.model_dump(mode="json", exclude={"meta"})


@pytest.fixture
def library() -> ExperienceLibrary:
    return ExperienceLibrary.from_texts(
        ["Check the Important Dates page for deadlines.", "Answer with the value only."]
    )


def test_add_gets_fresh_sequential_ids(library):
    report = library.apply([{"op": "ADD", "text": "Prefer release notes for version facts."}])
    assert [a.experience_id for a in report.applied] == ["G2"]
    assert library.get("G2").text == "Prefer release notes for version facts."
    assert library.get("G2").created_step == 1
    assert library.step == 1


def test_ids_are_never_reused_after_delete(library):
    library.apply([{"op": "DELETE", "id": "G1"}])
    report = library.apply([{"op": "ADD", "text": "A new lesson."}])
    assert report.applied[0].experience_id == "G2"
    assert [e.id for e in library.experiences] == ["G0", "G2"]


def test_update_replaces_text_and_adds_evidence(library):
    report = library.apply([ExperienceOp(op=OpKind.UPDATE, id="G0", text="Deadlines are on the Dates page.")])
    updated = library.get("G0")
    assert report.applied[0].outcome == "updated"
    assert updated.text == "Deadlines are on the Dates page."
    assert updated.helpful == 2 and updated.updated_step == 1 and updated.created_step == 0


def test_a_plan_that_updates_one_experience_twice_adds_the_second_text(library):
    """The 1.5B teacher filed a step's six lessons as six "UPDATE G0": five lessons were lost."""
    before = len(library)
    report = library.apply([{"op": "UPDATE", "id": "G0", "text": "Deadlines are on the Dates page."},
                            {"op": "UPDATE", "id": "G0", "text": "An item's price is on the Shop page of its game."}])
    assert [a.outcome for a in report.applied] == ["updated", "update_as_add"]
    assert "already updated by this plan" in report.applied[1].note
    assert library.get("G0").text == "Deadlines are on the Dates page." and len(library) == before + 1


def test_an_update_that_rewrites_a_lesson_into_another_merges_the_two(library):
    """The 1.5B teacher's G = 1 consolidation rewrote two lessons into word-for-word copies of their neighbours,
    and the library showed the agent each of those lessons twice (BENCHMARKS.md §1t)."""
    report = library.apply([{"op": "UPDATE", "id": "G1", "text": "Check the Important Dates page for deadlines."}])
    assert [(a.outcome, a.experience_id) for a in report.applied] == [("merged", "G0")]
    assert library.texts() == ["Check the Important Dates page for deadlines."]
    assert library.get("G0").helpful == 3, "its own evidence, the rewritten lesson's and the update's"
    widened = "Check the Important Dates page for deadlines, and the Call for Papers page for the submission date."
    report = library.apply([{"op": "ADD", "text": "Answer with the value only."},
                            {"op": "UPDATE", "id": "G2", "text": widened}])
    assert [a.outcome for a in report.applied] == ["added", "merged"] and library.texts() == [widened]


def test_update_of_missing_id_becomes_add_and_is_logged(library, caplog):
    with caplog.at_level(logging.WARNING):
        report = library.apply([{"op": "update", "id": "G9", "text": "Use the sitemap first."}])
    assert report.applied[0].outcome == "update_as_add"
    assert report.applied[0].experience_id == "G2"
    assert library.get("G9") is None and library.get("G2").text == "Use the sitemap first."
    assert "G9" in caplog.text


def test_delete_really_removes(library):
    report = library.apply([{"op": "DELETE", "id": "[G0]"}])
    assert report.applied[0].outcome == "deleted"
    assert library.get("G0") is None
    assert len(library) == 1


def test_none_is_recorded_and_changes_nothing(library):
    before = [e.model_dump() for e in library.experiences]
    report = library.apply([{"op": "NONE", "reason": "nothing new"}])
    assert report.applied[0].outcome == "none"
    assert [e.model_dump() for e in library.experiences] == before
    assert library.snapshot(1).ops[0].op.reason == "nothing new"


@pytest.mark.parametrize(
    ("bad_op", "reason_part"),
    [
        ({"op": "ADD", "text": "   "}, "non-empty text"),
        ({"op": "ADD", "text": " ".join(["word"] * 33)}, "33 words, over the cap of 32"),
        ({"op": "MERGE", "text": "x"}, "unknown operation 'MERGE'"),
        ({"op": "UPDATE", "text": "no target"}, "needs the id"),
        ({"op": "DELETE", "id": "G42"}, "unknown id G42"),
        ({"text": "no op field"}, "malformed op"),
        ("ADD something", "must be an object"),
    ],
)
def test_invalid_op_rejects_whole_batch(library, bad_op, reason_part):
    before = state(library)
    good = {"op": "ADD", "text": "A valid lesson that must not be applied alone."}
    with pytest.raises(InvalidOpsError) as info:
        library.apply([good, bad_op, {"op": "DELETE", "id": "G0"}])
    assert state(library) == before, "a rejected batch must leave the library untouched"
    rejected = info.value.report.rejected
    assert len(rejected) == 1 and rejected[0].index == 1
    assert reason_part in rejected[0].reason


def test_lenient_mode_applies_valid_ops_and_reports_the_rest(library):
    report = library.apply(
        [{"op": "ADD", "text": "Valid."}, {"op": "ADD", "text": ""}, {"op": "DELETE", "id": "G1"}],
        strict=False,
    )
    assert [a.outcome for a in report.applied] == ["added", "deleted"]
    assert [r.index for r in report.rejected] == [1]
    assert library.texts() == ["Check the Important Dates page for deadlines.", "Valid."]


def test_word_cap_is_configurable():
    library = ExperienceLibrary(limits=LibraryLimits(word_cap=5))
    with pytest.raises(InvalidOpsError, match="over the cap of 5"):
        library.apply([{"op": "ADD", "text": "one two three four five six"}])
    library.apply([{"op": "ADD", "text": "one two three four five"}])
    assert len(library) == 1


def test_duplicate_add_reinforces_instead_of_duplicating(library):
    report = library.apply([{"op": "ADD", "text": "check the important dates page for deadlines", "support": 2}])
    assert report.applied[0].outcome == "reinforced"
    assert len(library) == 2
    assert library.get("G0").helpful == 3


def test_applying_is_deterministic():
    ops = [
        {"op": "ADD", "text": "A."}, {"op": "ADD", "text": "B."}, {"op": "UPDATE", "id": "G0", "text": "A2."},
        {"op": "DELETE", "id": "G1"}, {"op": "UPDATE", "id": "G7", "text": "C."},
    ]
    first, second = ExperienceLibrary(), ExperienceLibrary()
    first.apply(ops)
    second.apply(ops)
    assert [e.model_dump() for e in first.experiences] == [e.model_dump() for e in second.experiences]
    assert first.texts() == ["A2.", "C."]


def test_step_must_move_forward(library):
    library.apply([], step=3)
    with pytest.raises(ValueError, match="not after"):
        library.apply([], step=3)
    assert library.steps == [0, 3]


def test_reworded_or_glued_lessons_reinforce_the_existing_one():
    """Observed on the math run: a subset of an old lesson, and two old lessons glued together."""
    library = ExperienceLibrary()
    library.apply([
        {"op": "ADD", "text": "When using Python code, ensure proper indentation to avoid syntax errors."},
        {"op": "ADD", "text": "When calculating a total cost, follow the order of operations."},
    ])
    report = library.apply([
        {"op": "ADD", "text": "Always ensure proper indentation to avoid syntax errors when using Python code."},
        {"op": "ADD", "text": "When calculating a total cost, follow the order of operations, and print the result."},
        {"op": "ADD", "text": "When a search returns nothing, shorten the query."},
    ])
    assert [a.outcome for a in report.applied] == ["reinforced", "reinforced", "added"]
    assert len(library) == 3
    assert library.get("G0").helpful == 2
    assert library.get("G0").text.startswith("When using Python code")  # the subset did not replace it
    assert library.get("G1").text.endswith("and print the result.")  # the superset widened it


def test_lessons_on_the_same_topic_but_saying_different_things_both_stay():
    library = ExperienceLibrary()
    library.apply([{"op": "ADD", "text": "When searching, use specific keywords from the question."},
                   {"op": "ADD", "text": "When browsing, follow links from the site's index page."}])
    assert len(library) == 2
