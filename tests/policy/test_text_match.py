"""A policy's text match is one compiled alternation per list; it must answer exactly as
testing each word in the lower-cased text does."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cds_service.policy import TextMatch, load_policy

POLICY = load_policy()
WORDS = sorted({w for m in POLICY.text_match.values() for w in (*m.include, *m.exclude)})
word_lists = st.lists(st.one_of(st.sampled_from(WORDS), st.text(max_size=4)), max_size=4)
texts = st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from([*WORDS, "MG", " ", "Oral Tablet", "İ", "(", "."]), max_size=6).map(
        " ".join
    ),
    st.sampled_from(WORDS).map(str.upper),
)


def word_by_word(include: tuple[str, ...], exclude: tuple[str, ...], text: str) -> bool:
    low = text.lower()
    return any(p in low for p in include) and not any(p in low for p in exclude)


@settings(max_examples=1000, deadline=None, database=None)
@given(word_lists, word_lists, texts)
def test_the_alternation_answers_as_each_word_would(
    include: list[str], exclude: list[str], text: str
) -> None:
    match = TextMatch(tuple(include), tuple(exclude))
    assert match.matches(text) == word_by_word(tuple(include), tuple(exclude), text)


def test_the_shipped_policy_still_recognises_its_names() -> None:
    assert POLICY.text_match["b12"].matches("Hydroxocobalamin 1 MG/ML Injectable Solution")
    assert not POLICY.text_match["metformin"].matches("amlodipine 5 MG Oral Tablet")
