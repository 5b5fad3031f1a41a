"""metformin-b12-check: metformin >= 4 months, a risk factor, and no B12 result in 12 months."""

from __future__ import annotations

from typing import Any

import pytest

from cds_service.record.model import Analyte, PatientRecord, Source
from cds_service.rules import metformin_b12_check as rule
from cds_service.rules.base import ProposeLabTests
from tests.rules.builders import (
    COELIAC,
    DIABETIC_NEUROPATHY,
    POLYNEUROPATHY,
    Case,
    Item,
    When,
    assert_case,
    b12,
    born_years_ago,
    cases,
    condition,
    disabled,
    holotc,
    im_order,
    lab,
    metformin,
    on,
    policy_with,
    ppi,
    record,
    run,
    run_enabled,
)

NEUROPATHY = condition(DIABETIC_NEUROPATHY, 400)
ALL_USERS = policy_with({"metformin_profile": "all-long-term"})


def on_metformin(*items: Item, since: When = 730, **kw: Any) -> PatientRecord:
    return record(metformin(since), *items, **kw)


CASES = cases(
    Case(
        "metformin 2 years, diabetic neuropathy, no B12 ever: info",
        on_metformin(NEUROPATHY),
        "info",
    ),
    Case("metformin 2 years, no B12 ever, no risk factor: silent", on_metformin(), None),
    Case(
        "metformin 2 years, no risk factor, ADA profile (all long-term users): info",
        on_metformin(),
        "info",
        policy=ALL_USERS,
    ),
    # --- duration: 122 days -------------------------------------------------------------
    Case(
        "metformin for 121 days with neuropathy: not long-term yet, silent",
        on_metformin(NEUROPATHY, since=121),
        None,
    ),
    Case(
        "metformin for 122 days with neuropathy: info", on_metformin(NEUROPATHY, since=122), "info"
    ),
    Case(
        "metformin since 2026-07 (117-147 days): not proven long-term, silent",
        on_metformin(NEUROPATHY, since="2026-07"),
        None,
    ),
    Case(
        "metformin since 2026-06 (at least 148 days): info",
        on_metformin(NEUROPATHY, since="2026-06"),
        "info",
    ),
    Case(
        "first metformin statement 3 years ago, current order 30 days old: long-term, info",
        record(
            metformin(30), metformin(1100, status="completed", source=Source.STATEMENT), NEUROPATHY
        ),
        "info",
    ),
    Case("metformin stopped: silent", record(metformin(730, status="stopped"), NEUROPATHY), None),
    # --- the last B12 test: 365 days -------------------------------------------------------
    Case("B12 tested 365 days ago: silent", on_metformin(NEUROPATHY, b12(300, 365)), None),
    Case("B12 tested 366 days ago: info", on_metformin(NEUROPATHY, b12(300, 366)), "info"),
    Case(
        "active B12 tested 100 days ago counts as a B12 check: silent",
        on_metformin(NEUROPATHY, holotc(80, 100)),
        None,
    ),
    Case(
        "MMA measured 100 days ago counts as a B12 check: silent",
        on_metformin(NEUROPATHY, lab(Analyte.MMA, 0.2, 100)),
        None,
    ),
    Case("already on B12 injections: silent", on_metformin(NEUROPATHY, im_order(start=200)), None),
    # --- risk factors ----------------------------------------------------------------------
    Case("polyneuropathy: info", on_metformin(condition(POLYNEUROPATHY, 400)), "info"),
    Case(
        "neuropathy resolved: no risk factor, silent",
        on_metformin(condition(DIABETIC_NEUROPATHY, 900, status="resolved")),
        None,
    ),
    Case(
        "woman with Hb 119 g/L: anaemia, info",
        on_metformin(lab(Analyte.HB, 119, 30), gender="female"),
        "info",
    ),
    Case(
        "woman with Hb 120 g/L: not anaemic, silent",
        on_metformin(lab(Analyte.HB, 120, 30), gender="female"),
        None,
    ),
    Case(
        "man with Hb 129 g/L: anaemia, info",
        on_metformin(lab(Analyte.HB, 129, 30), gender="male"),
        "info",
    ),
    Case(
        "man with Hb 130 g/L: not anaemic, silent",
        on_metformin(lab(Analyte.HB, 130, 30), gender="male"),
        None,
    ),
    Case(
        "anaemia 400 days ago is not current: silent",
        on_metformin(lab(Analyte.HB, 100, 400), gender="male"),
        None,
    ),
    Case("MCV 100 fL: not macrocytic, silent", on_metformin(lab(Analyte.MCV, 100, 30)), None),
    Case("MCV 100.1 fL: macrocytosis, info", on_metformin(lab(Analyte.MCV, 100.1, 30)), "info"),
    Case(
        "MCV reported as >100 fL (censored): not counted, silent",
        on_metformin(lab(Analyte.MCV, 100, 30, comparator=">")),
        None,
    ),
    Case("also on omeprazole: info", on_metformin(ppi()), "info"),
    Case("omeprazole stopped: silent", on_metformin(ppi(status="stopped")), None),
    Case("coeliac disease (malabsorption): info", on_metformin(condition(COELIAC, 900)), "info"),
    Case("aged 65 today: info", on_metformin(birth=born_years_ago(65)), "info"),
    Case(
        "turns 65 tomorrow: still 64, silent",
        on_metformin(birth=born_years_ago(65, days_later=1)),
        None,
    ),
    Case(
        "turned 65 yesterday: info", on_metformin(birth=born_years_ago(65, days_later=-1)), "info"
    ),
    Case("born in 1961 (year only): may still be 64, silent", on_metformin(birth=on("1961")), None),
    Case("born in 1960 (year only): at least 65, info", on_metformin(birth=on("1960")), "info"),
    Case("aged 64: no risk factor, silent", on_metformin(birth=born_years_ago(64)), None),
)


@pytest.mark.parametrize("case", CASES)
def test_metformin(case: Case) -> None:
    assert_case(rule, case)


def test_suggests_a_serum_b12() -> None:
    finding = run(rule, Case("x", on_metformin(NEUROPATHY, b12(300, 500)), "info"))
    assert finding is not None
    (tests,) = finding.suggestions
    assert isinstance(tests, ProposeLabTests) and tests.analytes == (Analyte.B12,)
    assert "2025-07-13" in finding.summary  # the last B12, 500 days ago


def test_disabled_in_policy() -> None:
    case = Case("fires", on_metformin(NEUROPATHY), "info")
    assert run_enabled(rule, case) is not None
    assert run_enabled(rule, disabled(rule, case)) is None
