"""Clinical truth over time: what covers the patient today (doses and regimen windows, never
status), what shows deficiency (not total B12 alone), what counts as neurological involvement."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cds_service.record.model import Agent, Analyte, Route, Source
from cds_service.rules.facts.causes import neuro_involvement
from cds_service.rules.facts.deficiency import (
    deficiency_evidence,
    deficiency_history,
    known_deficiency,
)
from cds_service.rules.facts.therapy import (
    b12_cover,
    b12_doses,
    coverage,
    maintenance_in_place,
    treated_deficiency,
)
from tests.rules.builders import (
    B12_DEFICIENCY,
    DIETARY_B12_DEFICIENCY,
    ICD10CM,
    PERNICIOUS_ANAEMIA,
    POLICY,
    SNOMED,
    TODAY,
    b12,
    condition,
    hcy,
    im_order,
    injection,
    injections,
    lab,
    med,
    oral_b12,
    procedure,
    record,
    statement_dose,
)

MEMORY = f"{SNOMED}|386807006"
SCD = f"{ICD10CM}|G32.0"


def covered(*items: object) -> bool:
    return coverage(record(*items), POLICY, TODAY).current  # type: ignore[arg-type]


# --- doses -----------------------------------------------------------------------------------


def test_an_injection_covers_its_interval_plus_grace_then_lapses() -> None:
    assert covered(injection(105))  # 91 + 14
    assert not covered(injection(106))


def test_a_monthly_order_makes_each_injection_cover_a_month() -> None:
    assert covered(im_order(every=28, start=300), injection(42))
    assert not covered(im_order(every=28, start=300), injection(43))


def test_neurological_involvement_makes_an_injection_cover_two_months() -> None:
    neuro = condition(f"{SNOMED}|42345000", 400)
    assert covered(neuro, injection(75)) and not covered(neuro, injection(76))


@pytest.mark.parametrize("status", ["completed", "active", "stopped"])
def test_a_statement_with_an_effective_date_is_a_dose_whatever_its_status(status: str) -> None:
    doses = b12_doses(record(statement_dose(21, status=status)))
    assert [(d.kind, d.parenteral, d.when.text) for d in doses] == [
        ("statement", True, statement_dose(21).taken.text)  # type: ignore[union-attr]
    ]
    assert covered(statement_dose(21, status=status))


@pytest.mark.parametrize("status", ["not-taken", "intended"])
def test_a_statement_not_taken_or_only_intended_is_no_dose(status: str) -> None:
    assert b12_doses(record(statement_dose(21, status=status))) == ()


def test_a_procedure_recording_a_b12_injection_is_a_dose() -> None:
    given = replace(procedure("text|b12 injection", 30), concepts=frozenset({"B12_ADMINISTRATION"}))
    assert covered(given)


def test_a_dose_dated_in_the_future_covers_nothing() -> None:
    assert not covered(injection(-10))


# --- regimen windows -------------------------------------------------------------------------


def test_a_loading_order_left_active_covers_nothing_once_its_course_ended() -> None:
    loading = im_order(every=2, start=200, count=6, bounds_days=14)
    rec = record(loading, injections(200, 198, 196, 194, 192, 190))
    assert not coverage(rec, POLICY, TODAY).current
    assert not maintenance_in_place(rec, POLICY, TODAY)


def test_a_running_loading_course_covers() -> None:
    assert covered(im_order(every=2, start=6, count=6, bounds_days=14), injection(2))


def test_an_open_injection_order_covers_until_its_first_dose_is_due() -> None:
    assert covered(im_order(every=84, start=98))  # 84 + 14
    assert not covered(im_order(every=84, start=99))


def test_an_open_injection_order_with_no_dose_since_is_unconfirmed_not_absent() -> None:
    current = coverage(record(im_order(every=84, start=400)), POLICY, TODAY)
    assert not current.current and current.unknown


def test_an_injection_order_with_doses_that_stopped_is_lapsed_not_unconfirmed() -> None:
    current = coverage(record(im_order(every=84, start=400), injection(200)), POLICY, TODAY)
    assert not current.current and not current.unknown


def test_an_ended_order_covers_nothing_whatever_its_date() -> None:
    assert not covered(im_order(every=84, start=20, status="stopped"))


def test_an_order_dispensing_a_supply_covers_to_its_end() -> None:
    supplied = oral_b12(1.0, 100, status="active", supply_days=90.0)
    assert covered(supplied)  # 100 < 90 + 14
    assert not covered(oral_b12(1.0, 110, status="active", supply_days=90.0))


def test_an_open_oral_order_covers_for_a_year_after_it_was_written_or_asserted() -> None:
    assert covered(oral_b12(1.0, 365, status="active"))
    assert not covered(oral_b12(1.0, 366, status="active"))
    restated = med(
        Agent.B12, Source.STATEMENT, start=800, asserted=30, route=Route.ORAL, every=1, dose_mg=1.0
    )
    assert covered(restated)


# --- B12 cover for folic acid -------------------------------------------------------------------


def _cover(
    rec_items: tuple[object, ...], drafts: tuple[object, ...] = (), malabsorbed: str | None = None
) -> bool:
    check = b12_cover(record(*rec_items), POLICY, TODAY, drafts, malabsorbed)  # type: ignore[arg-type]
    return check.covered


def test_injected_b12_covers_oral_b12_covers_only_at_1_mg_a_day_without_malabsorption() -> None:
    assert _cover((injection(30),))
    assert _cover((), (oral_b12(1.0),))
    assert not _cover((), (oral_b12(0.999),))
    assert not _cover((), (oral_b12(0.05),))
    assert not _cover((), (oral_b12(1.0),), malabsorbed="pernicious anaemia")
    assert _cover((), (im_order(every=84, start=0),), malabsorbed="pernicious anaemia")


def test_oral_b12_with_no_daily_dose_stated_is_not_cover() -> None:
    assert not _cover((), (oral_b12(None),))


# --- deficiency evidence -------------------------------------------------------------------------


def lines(*items: object) -> list[str]:
    return [e.line for e in deficiency_evidence(record(*items), POLICY)]  # type: ignore[arg-type]


def test_raised_mma_shows_deficiency_with_a_normal_total_b12() -> None:
    rec = record(b12(310, 10), lab(Analyte.MMA, 0.6, 10))
    assert known_deficiency(rec, POLICY)
    rec_normal = record(b12(310, 10), lab(Analyte.MMA, 0.44, 10))
    assert not known_deficiency(rec_normal, POLICY)


def test_raised_homocysteine_alone_makes_b12_uncertain_not_known_deficient() -> None:
    rec = record(b12(310, 10), hcy(18, 10))
    assert deficiency_evidence(rec, POLICY) and not known_deficiency(rec, POLICY)
    assert not deficiency_evidence(record(b12(310, 10), hcy(14.9, 10)), POLICY)


def test_a_coded_neurological_complication_and_nitrous_oxide_use_count() -> None:
    assert known_deficiency(record(condition(SCD, 30)), POLICY)
    n2o = replace(condition("text|nitrous oxide", 90), concepts=frozenset({"N2O_EXPOSURE"}))
    assert known_deficiency(record(n2o, b12(400, 5)), POLICY)


def test_a_resolved_deficiency_followed_by_an_adequate_b12_is_history() -> None:
    resolved = condition(DIETARY_B12_DEFICIENCY, 2500, status="resolved")
    rec = record(resolved, b12(420, 60))
    assert not known_deficiency(rec, POLICY)
    assert deficiency_history(rec, POLICY)
    assert not deficiency_history(rec, POLICY, unless_adequate_since=True)


def test_an_active_dietary_deficiency_followed_by_an_adequate_b12_is_answered() -> None:
    rec = record(condition(DIETARY_B12_DEFICIENCY, 900), b12(420, 60))
    assert not known_deficiency(rec, POLICY)


def test_pernicious_anaemia_is_deficiency_for_life_whatever_a_later_level_says() -> None:
    rec = record(condition(PERNICIOUS_ANAEMIA, 900, status="resolved"), b12(700, 60))
    assert known_deficiency(rec, POLICY)


def test_e53_8_alone_is_not_b12_deficiency() -> None:
    assert not lines(condition(f"{ICD10CM}|E53.8", 100))
    assert any("E53.8" in line for line in lines(condition(f"{ICD10CM}|E53.8", 100), b12(100, 5)))


# --- neurological involvement and treated deficiency ---------------------------------------------


def test_memory_impairment_alone_is_not_b12_neurological_involvement() -> None:
    dementia = condition(MEMORY, 2000)
    assert neuro_involvement(record(dementia, condition(PERNICIOUS_ANAEMIA, 300)), POLICY) == ()


def test_memory_impairment_arising_with_the_deficiency_counts() -> None:
    memory = condition(MEMORY, 320)
    assert neuro_involvement(record(memory, condition(B12_DEFICIENCY, 300)), POLICY) == (memory,)


def test_memory_impairment_recorded_as_due_to_the_deficiency_counts() -> None:
    memory = condition(MEMORY, 2000)
    linked = replace(memory, linked=frozenset({"VS_B12_DEFICIENCY"}))
    assert neuro_involvement(record(linked), POLICY) == (linked,)


def test_an_otc_supplement_is_not_a_treated_deficiency_but_injections_are() -> None:
    assert treated_deficiency(record(oral_b12(1.0, 300, status="active"))) == ()
    assert treated_deficiency(record(injection(30)))
    ordered_for = oral_b12(1.0, 300, status="active", reasons=frozenset({"VS_B12_DEFICIENCY"}))
    assert treated_deficiency(record(ordered_for))
