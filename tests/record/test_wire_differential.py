"""The typed decoder (`protocol.body`, `wire.observation`) is a speed-up, never a change: for
every fixture and for property-generated messy Observations, the record read from a body
decoded typed equals the record read from the same body parsed plain (`orjson.loads`), gaps
and their order included, and the data layer reports the same completeness."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cds_service.data import gather
from cds_service.data.fhir_client import entries
from cds_service.data.prefetch import DataMissing
from cds_service.policy import load_policy
from cds_service.protocol.body import decode_hook_body
from cds_service.protocol.catalog import load_catalog
from cds_service.protocol.errors import BadRequest
from cds_service.protocol.request import hook_request_from
from cds_service.record import read_record
from cds_service.record.model import PatientRecord
from cds_service.rules import analytes_for, series_for
from cds_service.settings import Settings
from cds_service.wire.observation import Observation

REPO = Path(__file__).resolve().parents[2]
REQUESTS = sorted(
    [*REPO.glob("fixtures/*/request.json"), *REPO.glob("fixtures/ehr-shapes/*/request.json")]
)
CATALOG = load_catalog()
POLICY = load_policy()
SETTINGS = Settings()
PATIENT = "p1"


def _record(data: Any, service_id: str) -> tuple[PatientRecord, Any] | str:
    """The record and data reports a body gives, or the 400 it gets."""
    service = CATALOG.service(service_id)
    assert service is not None
    try:
        request = hook_request_from(data, service, CATALOG)
    except BadRequest as exc:
        return f"400 {exc.outcome()}"
    try:
        raw = gather(request, service, fetcher=None, settings=SETTINGS)
    except DataMissing as exc:  # an EHR shape that relies on the FHIR fallback
        return f"412 {exc}"
    record = read_record(
        request.patient_id,
        raw.resources,
        POLICY,
        tuple(raw.notes),  # type: ignore[arg-type]
        analytes_for(request.hook),
        series_for(request.hook),
    )
    return record, (raw.reports, raw.notes, raw.keys_present)


def _both(body: bytes, service_id: str) -> tuple[Any, Any, int]:
    service = CATALOG.service(service_id)
    assert service is not None
    plain = orjson.loads(body)
    typed = decode_hook_body(body, service.observation_keys)
    count = sum(
        isinstance(resource, Observation)
        for value in (typed.get("prefetch") or {}).values()
        if isinstance(value, dict)
        for resource in entries(value)
    )
    return _record(plain, service_id), _record(typed, service_id), count


@pytest.mark.parametrize("path", REQUESTS, ids=[p.parent.name for p in REQUESTS])
def test_every_fixture_reads_the_same_either_way(path: Path) -> None:
    body = path.read_bytes()
    hook = json.loads(body)["hook"]
    for service_id in (f"b12-{hook}",):
        plain, typed, _ = _both(body, service_id)
        assert typed == plain


def test_the_fixtures_do_exercise_the_typed_path() -> None:
    """Every prefetched Observation of the fixtures (97) fits the typed path."""
    typed_total = plain_total = 0
    for path in REQUESTS:
        body = path.read_bytes()
        typed_total += _both(body, f"b12-{json.loads(body)['hook']}")[2]
        labs = (orjson.loads(body).get("prefetch") or {}).get("labs") or {}
        plain_total += sum(
            (e.get("resource") or {}).get("resourceType") == "Observation"
            for e in labs.get("entry") or ()
        )
    assert typed_total == plain_total > 90


# --- property-generated messy Observations ------------------------------------------------

LOINC = "http://loinc.org"
B12, HCY, PHQ9, FOLATE = "14685-2", "13965-9", "44261-6", "2284-8"
TEXTS = st.sampled_from(["", " ", "x", " final ", "FINAL", "entered-in-error", "Preliminary"])
ODD = st.none() | st.booleans() | st.integers(-5, 10**20) | st.floats(-1e3, 1e3) | TEXTS
DATES = st.sampled_from(
    [
        "2026-11-01",
        "2026-11-01T23:30:00+10:00",
        "2026-11-01 08:00",
        "2026-02-30",
        "2026-05",
        "2025",
        " 2026-10-01 ",
        "not a date",
        "",
        "２０２６-１１-０１",
        "2026-11-01T08:00:00.123456789Z",
    ]
)
SYSTEMS = st.sampled_from(
    [LOINC, "urn:oid:2.16.840.1.113883.6.1", "https://loinc.org/", "http://snomed.info/sct", ""]
)
CODES = st.sampled_from([B12, HCY, PHQ9, FOLATE, "2345-7", " 14685-2", "16695-9", ""])
UNITS = st.sampled_from(
    ["pmol/L", "pg/mL", "ng/L", "umol/L", "µmol/L", "{score}", "mmol/L", " pmol/L ", "", "1"]
)


REFERENCE = st.sampled_from(
    [
        {"reference": f"Patient/{PATIENT}"},
        {"reference": "Patient/other"},
        {"reference": f"https://ehr.example/fhir/Patient/{PATIENT}"},
        {"reference": f"Patient/{PATIENT}/_history/2"},
        {"display": "someone"},
        {"reference": " "},
        f"Patient/{PATIENT}",
    ]
)


def _observation(odd: bool) -> st.SearchStrategy[dict[str, Any]]:
    """Observations as servers send them, with (`odd`) any field sometimes the wrong JSON."""

    def o(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return strategy | ODD if odd else strategy

    coding = st.fixed_dictionaries(
        {}, optional={"system": o(SYSTEMS), "code": o(CODES), "display": o(TEXTS)}
    )
    concept = st.fixed_dictionaries(
        {},
        optional={
            "coding": o(st.lists(coding, min_size=0, max_size=3) | coding),
            "text": o(TEXTS),
        },
    )
    quantity = st.fixed_dictionaries(
        {},
        optional={
            "value": o(st.floats(0, 2000, allow_nan=False) | st.integers(0, 2000)),
            "comparator": o(st.sampled_from(["<", ">=", "≤", " < ", "~"])),
            "unit": o(UNITS),
            "code": o(UNITS),
            "system": st.just("http://unitsofmeasure.org"),
        },
    )
    return st.fixed_dictionaries(
        {"resourceType": st.just("Observation"), "code": concept},
        optional={
            "id": o(st.sampled_from(["a", "b", "c", " a ", ""])),
            "meta": o(st.fixed_dictionaries({}, optional={"lastUpdated": o(DATES)})),
            "status": o(TEXTS | concept),
            "subject": o(REFERENCE),
            "patient": REFERENCE,
            "effectiveDateTime": o(DATES),
            "effectiveInstant": DATES,
            "effectivePeriod": o(
                st.fixed_dictionaries({}, optional={"start": o(DATES), "end": DATES})
            ),
            "issued": o(DATES),
            "valueQuantity": o(quantity),
            "valueInteger": o(st.integers(-3, 40)),
            "valueString": o(st.sampled_from(["<150 pg/mL", "250", "1,5 umol/L", "high", " 12 "])),
            "dataAbsentReason": concept | TEXTS,
            "referenceRange": o(
                st.lists(st.fixed_dictionaries({}, optional={"high": o(quantity)}), max_size=2)
                | st.fixed_dictionaries({"high": quantity})
            ),
            "text": st.just({"status": "generated", "div": "<div>narrative</div>"}),
            "extension": st.just([{"url": "https://x.example/e", "valueString": "x"}]),
        },
    )


OBSERVATION = _observation(odd=False) | _observation(odd=True)
ENTRY = st.fixed_dictionaries(
    {},
    optional={
        "resource": OBSERVATION | st.just({"resourceType": "OperationOutcome", "issue": []}) | ODD,
        "search": st.sampled_from([{"mode": "match"}, {"mode": "include"}]) | ODD,
        "fullUrl": st.just("https://ehr.example/fhir/Observation/x"),
    },
)
LABS = st.fixed_dictionaries(
    {"resourceType": st.just("Bundle"), "entry": st.lists(ENTRY, max_size=8)},
    optional={"type": st.just("searchset"), "total": st.integers(0, 12) | ODD},
)


def _dumps(data: Any) -> bytes:
    """Big integers too (orjson stops at 64 bits; the wire does not)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def _body(labs: Any) -> bytes:
    empty = {"resourceType": "Bundle", "type": "searchset"}
    return _dumps(
        {
            "hook": "patient-view",
            "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "context": {"patientId": PATIENT, "userId": "Practitioner/x"},
            "prefetch": {
                "patient": {"resourceType": "Patient", "id": PATIENT},
                "conditions": empty,
                "procedures": empty,
                "medrequests": empty,
                "medstatements": empty,
                "medadmins": empty,
                "labs": labs,
            },
        }
    )


GENERATED = int(os.environ.get("B12CDS_DIFFERENTIAL_EXAMPLES", "1000"))


@settings(max_examples=GENERATED, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LABS)
def test_messy_observations_read_the_same_either_way(labs: dict[str, Any]) -> None:
    body = _body(labs)
    for service_id in ("b12-patient-view", "b12-order-select"):
        if service_id == "b12-order-select":
            data = orjson.loads(body)
            data["hook"] = "order-select"
            data["context"] = {
                "patientId": PATIENT,
                "userId": "Practitioner/x",
                "selections": ["MedicationRequest/m"],
                "draftOrders": {"resourceType": "Bundle", "entry": []},
            }
            del data["prefetch"]["patient"]
            body = _dumps(data)
        plain, typed, _ = _both(body, service_id)
        assert typed == plain


@settings(max_examples=60, deadline=None)
@given(LABS)
def test_a_body_the_typed_decoder_refuses_is_read_plain(labs: dict[str, Any]) -> None:
    """An unknown top-level field or non-UTF-8 text: the whole body goes the plain way."""
    body = _body(labs)
    odd = body[:-1] + b',"somethingNew":{"x":1}}'
    assert decode_hook_body(odd, {"labs"}) == orjson.loads(odd)
    assert not any(
        isinstance(r, Observation)
        for r in entries(decode_hook_body(odd, {"labs"})["prefetch"]["labs"])
    )


def test_invalid_json_is_refused_the_same_way() -> None:
    body = _body({"resourceType": "Bundle", "entry": []})
    for broken in (
        body[:-2],
        body.replace(
            b'"entry":[]', b'"entry":[{"resource":{"resourceType":"Observation","x":"\xff"}}]'
        ),
        body.replace(
            b'"entry":[]', b'"entry":[{"resource":{"resourceType":"Observation","x":"\\ud800"}}]'
        ),
        body.replace(b'"entry":[]', b'"entry":[' + b"[" * 1100 + b"]" * 1100 + b"]"),
    ):
        with pytest.raises(orjson.JSONDecodeError) as plain:
            orjson.loads(broken)
        with pytest.raises(orjson.JSONDecodeError) as typed:
            decode_hook_body(broken, {"labs"})
        assert str(typed.value) == str(plain.value)
