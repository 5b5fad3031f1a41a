"""B12 cut-offs are judged in the unit the lab reported: 180 ng/L and 350 ng/L, or 133 and 258 pmol/L.

NICE NG239 states both pairs; they do not share one exact conversion factor, so a result of exactly
180 pg/mL must not become "deficient" just because 180 / 1.355 = 132.8 pmol/L.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from cds_service.policy import load_policy
from cds_service.record import read_orders, read_record
from cds_service.rules import folic_acid_without_b12
from cds_service.rules.base import RuleInput

TODAY = date(2026, 11, 25)
POLICY = load_policy()
FOLIC_DRAFT = {
    "resourceType": "Bundle",
    "entry": [
        {
            "resource": {
                "resourceType": "MedicationRequest",
                "id": "folic",
                "status": "draft",
                "intent": "order",
                "subject": {"reference": "Patient/p"},
                "medicationCodeableConcept": {
                    "coding": [
                        {
                            "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                            "code": "310410",
                        }
                    ]
                },
            }
        }
    ],
}


def _b12(value: float, unit: str) -> dict[str, Any]:
    code = "14685-2" if unit == "pmol/L" else "2132-9"
    return {
        "resourceType": "Observation",
        "id": "b12",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": "Patient/p"},
        "effectiveDateTime": "2026-11-01",
        "valueQuantity": {
            "value": value,
            "unit": unit,
            "system": "http://unitsofmeasure.org",
            "code": unit,
        },
    }


def _indicator(value: float, unit: str) -> str | None:
    record = read_record("p", [_b12(value, unit)], POLICY)
    orders = read_orders(FOLIC_DRAFT, None, POLICY)
    finding = folic_acid_without_b12.evaluate(
        RuleInput(record, POLICY, TODAY, "order-sign", orders)
    )
    return finding.indicator if finding else None


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (179, "pg/mL", "critical"),  # below 180 ng/L: deficient
        (180, "pg/mL", "warning"),  # exactly 180 ng/L: indeterminate, not deficient
        (180, "ng/L", "warning"),
        (349, "pg/mL", "warning"),  # below 350 ng/L: not known adequate
        (350, "pg/mL", None),  # 350 ng/L: adequate, no risk factor
        (132, "pmol/L", "critical"),
        (133, "pmol/L", "warning"),
        (258, "pmol/L", None),
    ],
)
def test_folic_acid_card_follows_the_cut_off_in_the_reported_unit(
    value: float, unit: str, expected: str | None
) -> None:
    assert _indicator(value, unit) == expected


def test_the_card_still_shows_the_converted_value() -> None:
    record = read_record("p", [_b12(180, "pg/mL")], POLICY)
    (lab,) = record.labs
    assert lab.normalised() == "132.8 pmol/L"
    assert lab.reported_ng_l == 180
