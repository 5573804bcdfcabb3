"""The library cannot grow without bound: item and token budgets with evidence-based eviction."""

from tfgrpo_agents.experience import (
    ExperienceLibrary,
    LibraryLimits,
    estimate_tokens,
    eviction_order,
)


def test_item_budget_evicts_lowest_evidence_first():
    library = ExperienceLibrary(limits=LibraryLimits(max_experiences=3, max_tokens=None))
    library.apply([
        {"op": "ADD", "text": "Strong lesson.", "support": 5},
        {"op": "ADD", "text": "Weak lesson.", "support": 1},
        {"op": "ADD", "text": "Medium lesson.", "support": 3},
    ])
    library.record_feedback("G2", harmful=1)
    report = library.apply([{"op": "ADD", "text": "Fresh lesson.", "support": 2}])
    assert [e.id for e in report.evicted] == ["G1"]
    assert library.texts() == ["Strong lesson.", "Medium lesson.", "Fresh lesson."]
    assert library.snapshot(2).evicted == ["G1"]


def test_ties_evict_the_least_recently_updated():
    library = ExperienceLibrary(limits=LibraryLimits(max_experiences=2, max_tokens=None))
    library.apply([{"op": "ADD", "text": "Old."}])
    library.apply([{"op": "ADD", "text": "Newer."}])
    report = library.apply([{"op": "ADD", "text": "Newest."}])
    assert [e.text for e in report.evicted] == ["Old."]


def test_token_budget_holds_after_every_step():
    library = ExperienceLibrary(limits=LibraryLimits(max_experiences=None, max_tokens=80))
    topics = ["dates", "prices", "names", "venues", "versions", "deadlines", "speakers", "rooms", "fees", "authors",
              "editors", "sponsors"]
    for step, topic in enumerate(topics):
        library.apply([{"op": "ADD", "text": f"Lesson {step}: look at the page footer for {topic}."}])
        assert library.token_count() <= 80
    assert 0 < len(library) < 12
    assert library.get("G11") is not None, "the newest lesson survives an eviction round"


def test_eviction_order_is_documented_policy():
    library = ExperienceLibrary.from_texts(["a", "b", "c"])
    library.record_feedback("G0", helpful=3)
    library.record_feedback("G2", harmful=1)
    assert [e.id for e in eviction_order(library.experiences)] == ["G2", "G1", "G0"]


def test_estimate_tokens_counts_words_and_punctuation():
    assert estimate_tokens("When a page lists dates, check it.") == 9
    assert estimate_tokens("") == 0
