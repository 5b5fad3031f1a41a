"""Intervals and doses are worded as a prescriber writes them."""

from __future__ import annotations

import pytest

from cds_service.rules.facts.wording import dose_text, interval_text


@pytest.mark.parametrize(
    ("days", "words"),
    [
        (91, "3 months"),
        (61, "2 months"),
        (30.44, "1 month"),
        (84, "12 weeks"),
        (56, "8 weeks"),
        (28, "4 weeks"),
        (98, "14 weeks"),
        (2, "2 days"),
        (1, "1 day"),
    ],
)
def test_interval_words(days: float, words: str) -> None:
    assert interval_text(days) == words


@pytest.mark.parametrize(("mg", "words"), [(0.05, "50 micrograms"), (1.0, "1 mg"), (2.5, "2.5 mg")])
def test_dose_words(mg: float, words: str) -> None:
    assert dose_text(mg) == words


def test_a_cause_coded_twice_is_shown_once() -> None:
    from cds_service.policy import load_policy
    from cds_service.rules.facts.causes import cause_lines, irreversible_causes
    from tests.rules.builders import PERNICIOUS_ANAEMIA, condition, record

    twice = record(condition(PERNICIOUS_ANAEMIA), condition(PERNICIOUS_ANAEMIA))
    causes = irreversible_causes(twice, load_policy())
    assert len(causes) == 2
    assert len(cause_lines(causes)) == 1
