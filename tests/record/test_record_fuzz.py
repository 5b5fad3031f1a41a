"""Whatever shape the JSON takes, the reader returns a record and never raises."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from record_builders import (
    HYDROXO_INJ,
    PATIENT,
    RXNORM,
    SNOMED,
    administration,
    concept,
    condition,
    med_request,
    obs,
    repeat,
)

from cds_service.policy import Policy
from cds_service.record import read_orders, read_record
from cds_service.record.model import PatientRecord

ODD_SCALARS = st.sampled_from(
    [
        "NaN",
        "Infinity",
        "-1e999",
        10**400,
        -(10**30),
        1e308,
        "",
        " ",
        "\u0000",
        "２０２６-０３-０１",
        "١٢٣ pmol/L",
        "Patient/p1",
        "#m",
        "<",
        "2026-02-30",
        "9999-12-31T23:59:59+14:00",
        "0000",
        "entered-in-error",
        "mo",
        "mL",
        "\U0001f489 B12",
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | ODD_SCALARS
)
JSONISH = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _medication_statement() -> dict[str, Any]:
    return {
        "resourceType": "MedicationStatement",
        "id": "ms1",
        "status": "active",
        "subject": {"reference": f"Patient/{PATIENT}"},
        "medicationReference": {"reference": "#m"},
        "contained": [
            {"resourceType": "Medication", "id": "m", "code": concept(RXNORM, HYDROXO_INJ)}
        ],
        "effectivePeriod": {"start": "2025-01-01", "end": "2027-01-01"},
        "dateAsserted": "2025-01-02",
        "dosage": [
            {
                "text": "1 mg IM every 2-3 months",
                "route": concept(SNOMED, "78421000"),
                "timing": {
                    "repeat": {
                        "frequency": 1,
                        "period": 2,
                        "periodMax": 3,
                        "periodUnit": "mo",
                        "count": 4,
                    }
                },
                "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "mL"}}],
            }
        ],
    }


TEMPLATES: list[dict[str, Any]] = [
    obs(
        "2132-9",
        150,
        "pg/mL",
        comparator="<",
        issued="2026-03-02T10:00:00Z",
        meta={"lastUpdated": "2026-03-02T10:00:00Z"},
        referenceRange=[
            {"low": {"value": 200, "unit": "pg/mL"}, "high": {"value": 900, "unit": "pg/mL"}}
        ],
    ),
    obs("13965-9", valueString="< 5 umol/L", effectivePeriod={"start": "2026-01"}),
    obs("44261-6", valueInteger=12, dataAbsentReason={"text": "asked"}),
    condition(
        SNOMED,
        "84027009",
        onsetPeriod={"start": "2015"},
        recordedDate="2015-02-01",
        abatementPeriod={"end": "2020"},
    ),
    {
        "resourceType": "Procedure",
        "id": "pr1",
        "status": "completed",
        "subject": {"reference": f"Patient/{PATIENT}"},
        "code": concept(SNOMED, "53442002"),
        "performedPeriod": {"start": "2010-01-01"},
    },
    med_request(
        dosage=repeat(
            frequency=1,
            period=12,
            periodUnit="wk",
            boundsDuration={"value": 1, "code": "a"},
            boundsPeriod={"start": "2026-01-01", "end": "2027-01-01"},
        )
        | {
            "text": "every 12 weeks",
            "doseAndRate": [{"doseQuantity": {"value": 1000, "unit": "mcg"}}],
        },
        dispenseRequest={"validityPeriod": {"end": "2027-01-01"}},
    ),
    _medication_statement(),
    administration(dosage={"dose": {"value": 1, "unit": "mg"}, "route": {"text": "IM"}}),
    {
        "resourceType": "Medication",
        "id": "med1",
        "code": concept(RXNORM, HYDROXO_INJ),
        "form": {"text": "injection"},
    },
    {"resourceType": "Patient", "id": PATIENT, "birthDate": "1950-04", "gender": "female"},
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for position, inner in enumerate(value):
            yield from _paths(inner, (*prefix, position))


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    value[head] = _replace(value[head], rest, new)
    return value


def _assert_sane(record: PatientRecord) -> None:
    assert record.patient_id == PATIENT
    for lab in record.labs:
        assert math.isfinite(lab.value)
    for use in record.medications:
        assert use.interval_days is None or (
            math.isfinite(use.interval_days) and use.interval_days > 0
        )
        assert use.b12_dose_mg is None or math.isfinite(use.b12_dose_mg)
        assert use.b12_daily_mg is None or math.isfinite(use.b12_daily_mg)


def _read_everything(policy: Policy, resources: list[Any]) -> None:
    _assert_sane(read_record(PATIENT, resources, policy))
    read_orders(
        {"resourceType": "Bundle", "entry": [{"resource": r} for r in resources]}, None, policy
    )
    read_orders({"entry": resources}, ["MedicationRequest/mr1"], policy)


FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


FUZZ_EACH = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
EACH_TEMPLATE = pytest.mark.parametrize(
    "template", TEMPLATES, ids=[f"{t['resourceType']}-{n}" for n, t in enumerate(TEMPLATES)]
)


@EACH_TEMPLATE
@FUZZ_EACH
@given(data=st.data())
def test_any_field_of_any_resource_replaced_by_junk_never_raises(
    policy: Policy, template: dict[str, Any], data: st.DataObject
) -> None:
    mutated = copy.deepcopy(template)
    paths = list(_paths(template))[1:]
    for path in data.draw(st.lists(st.sampled_from(paths), min_size=1, max_size=3)):
        try:
            mutated = _replace(mutated, path, data.draw(JSONISH))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier replacement removed this path
    _read_everything(policy, [mutated, copy.deepcopy(template)])


@EACH_TEMPLATE
@FUZZ_EACH
@given(values=st.dictionaries(st.text(max_size=30), JSONISH, max_size=4), data=st.data())
def test_every_top_level_field_with_arbitrary_json_never_raises(
    policy: Policy, template: dict[str, Any], values: dict[str, Any], data: st.DataObject
) -> None:
    resource: dict[str, Any] = {"resourceType": template["resourceType"]}
    for key in template:
        if key != "resourceType" and data.draw(st.booleans()):
            resource[key] = data.draw(JSONISH)
    resource.update(values)
    _read_everything(policy, [resource])


@FUZZ
@given(resources=st.lists(JSONISH, max_size=5), selections=JSONISH)
def test_arbitrary_json_as_the_whole_input_never_raises(
    policy: Policy, resources: list[Any], selections: Any
) -> None:
    _read_everything(policy, resources)
    read_orders(resources, selections, policy)
    read_orders(selections, None, policy)
