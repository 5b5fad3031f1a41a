"""Cut searches never raise an alarm from absence: a FHIR server that pages at 3, real HTTP.

The client here prefetches as the CDS Hooks Sandbox does (tests/support/prefetching_client):
every template run on the test FHIR server (page size 3), the Bundle sent as answered, first
page only. For each prefetch key of each hook (patient-view, order-select, order-sign), that
key alone is cut (the others complete), and the call goes to the real service without a
fhirServer (no fallback) and with one (the service follows `next`). Without fallback, no card may be warning or critical unless the
complete record makes it so too, and every card names the cut search; with fallback, the
cards are those of the complete record. The issue's own case (the administrations search
without a sort, the newest dose on page 2) is checked before and after the templates were
sorted. `patient` is a read, not a search: it cannot be cut.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from cds_service.policy import DEFAULT_POLICY_PATH
from cds_service.rules.base import SEVERITY
from tests.data.scenarios import rule_indicators, transaction
from tests.support.fhir_server import FhirServer, start_fhir_server
from tests.support.hook_calls import call_hook
from tests.support.live import LiveService, start_frozen
from tests.support.prefetching_client import prefetch, templates_of
from tests.support.synthetic_fhir import stable_id

TODAY = date(2026, 11, 25)  # the frozen service's today
PATIENT = "3b9d7e21-5c4a-4f0b-8e6d-2a1c0f9e8d01"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
PAGE_SIZE = 3
INJECTIONS_DAYS_AGO = (250, 340, 430, 150, 520)  # loaded in this order; newest is 150
OLD_MEDADMINS_TEMPLATE = "MedicationAdministration?patient={{context.patientId}}"
SERVICES = {
    "patient-view": "b12-patient-view",
    "order-select": "b12-order-select",
    "order-sign": "b12-order-sign",
}
B12_IM = {
    "coding": [
        {
            "system": RXNORM,
            "code": "317106",
            "display": "hydroxocobalamin 1 MG/ML Injectable Solution",
        }
    ],
    "text": "hydroxocobalamin 1 MG/ML Injectable Solution",
}
IM_ROUTE = {"coding": [{"system": SNOMED, "code": "78421000", "display": "Intramuscular route"}]}


def ago(days: int) -> str:
    return (TODAY - timedelta(days=days)).isoformat()


def _id(*parts: object) -> str:
    return stable_id(PATIENT, *parts)


def subject() -> dict[str, str]:
    return {"reference": f"Patient/{PATIENT}"}


def condition(name: str, days: int, coding: dict[str, str] | None = None) -> dict[str, Any]:
    code: dict[str, Any] = {"text": name}
    if coding:
        code["coding"] = [coding]
    return {
        "resourceType": "Condition",
        "id": _id("condition", name, days),
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "code": code,
        "subject": subject(),
        "onsetDateTime": ago(days),
        "recordedDate": ago(days),
    }


def other_order(name: str, days: int, kind: str) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": kind,
        "id": _id(kind, name, days),
        "status": "active" if kind != "MedicationAdministration" else "completed",
        "medicationCodeableConcept": {"text": name},
        "subject": subject(),
    }
    if kind == "MedicationRequest":
        resource.update(intent="order", authoredOn=ago(days))
    else:
        resource["effectiveDateTime"] = ago(days)
    return resource


def b12_result(days: int, value: float, loinc: str = "14685-2") -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": _id("lab", loinc, days),
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "subject": subject(),
        "effectiveDateTime": ago(days),
        "valueQuantity": {"value": value, "unit": "pmol/L" if loinc == "14685-2" else "umol/L"},
    }


def patient_record() -> list[dict[str, Any]]:
    """Pernicious anaemia on 12-weekly IM hydroxocobalamin; the last dose 150 days ago.

    Every search holds more than a page: the order, the cause and the oldest injections are
    the OLDEST records of their searches, so a newest-first first page lacks them.
    """
    pa = condition(
        "Pernicious anemia",
        1100,
        {"system": SNOMED, "code": "84027009", "display": "Pernicious anemia"},
    )
    resources: list[dict[str, Any]] = [
        {"resourceType": "Patient", "id": PATIENT, "birthDate": "1958-04-02", "gender": "female"},
        pa,
        *(condition("Essential hypertension", d) for d in (30, 200, 400)),
        *(
            {
                "resourceType": "Procedure",
                "id": _id("procedure", d),
                "status": "completed",
                "code": {"text": "Dental extraction"},
                "subject": subject(),
                "performedDateTime": ago(d),
            }
            for d in (60, 160, 360, 760)
        ),
        {
            "resourceType": "MedicationRequest",
            "id": _id("b12-order"),
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": B12_IM,
            "subject": subject(),
            "authoredOn": ago(900),
            "dosageInstruction": [
                {
                    "route": IM_ROUTE,
                    "timing": {"repeat": {"frequency": 1, "period": 12, "periodUnit": "wk"}},
                    "doseAndRate": [
                        {"doseQuantity": {"value": 1, "unit": "mg", "system": UCUM, "code": "mg"}}
                    ],
                }
            ],
        },
        *(
            other_order("amlodipine 5 MG Oral Tablet", d, "MedicationRequest")
            for d in (20, 100, 300)
        ),
        *(
            other_order("paracetamol 500 MG Oral Tablet", d, "MedicationStatement")
            for d in (10, 50, 90, 130)
        ),
        *(
            {
                "resourceType": "MedicationAdministration",
                "id": _id("injection", d),
                "status": "completed",
                "medicationCodeableConcept": B12_IM,
                "subject": subject(),
                "effectiveDateTime": ago(d),
                "dosage": {"route": IM_ROUTE, "dose": {"value": 1, "unit": "mg"}},
            }
            for d in INJECTIONS_DAYS_AGO
        ),
        *(b12_result(d, 350) for d in (40, 130, 220, 310)),
        b12_result(400, 8, "13965-9"),
    ]
    return resources


def folic_acid_draft() -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": "draft-folic-acid",
        "status": "draft",
        "intent": "order",
        "subject": subject(),
        "authoredOn": TODAY.isoformat(),
        "medicationCodeableConcept": {
            "coding": [
                {"system": RXNORM, "code": "310410", "display": "folic acid 1 MG Oral Tablet"}
            ],
            "text": "folic acid 1 MG Oral Tablet",
        },
    }


def context(hook: str) -> dict[str, Any]:
    found: dict[str, Any] = {"patientId": PATIENT, "userId": "Practitioner/example"}
    if hook in ("order-select", "order-sign"):
        found["draftOrders"] = {
            "resourceType": "Bundle",
            "entry": [{"resource": folic_acid_draft()}],
        }
        if hook == "order-select":
            found["selections"] = ["MedicationRequest/draft-folic-acid"]
    return found


@pytest.fixture(scope="module")
def small_pages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FhirServer]:
    server = start_fhir_server(
        tmp_path_factory, bundle=transaction(patient_record()), page_size=PAGE_SIZE
    )
    yield server
    server.stop()


def body(
    fhir: FhirServer,
    hook: str,
    *,
    cut: frozenset[str],
    fallback: bool,
    templates: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A request whose prefetch is complete except for the `cut` keys (first page only)."""
    service = SERVICES[hook]
    keys = templates_of(service)
    sent: dict[str, Any] = {
        "hook": hook,
        "hookInstance": stable_id(hook, *sorted(cut), fallback),
        "context": context(hook),
        "prefetch": prefetch(
            fhir,
            service,
            context(hook),
            all_pages=set(keys) - cut,
            templates={**keys, **(templates or {})},
        ),
    }
    if fallback:
        sent["fhirServer"] = fhir.base_url
    return sent


def cards_of(service: LiveService, sent: dict[str, Any]) -> list[dict[str, Any]]:
    response = call_hook(service.base_url, sent)
    assert response.status_code == 200, response.text
    cards: list[dict[str, Any]] = response.json()["cards"]
    return cards


def rule_of(card: dict[str, Any]) -> str:
    return str(card["source"]["topic"]["code"])


CUTS = [
    (hook, key)
    for hook, service in SERVICES.items()
    for key, template in templates_of(service).items()
    if "?" in template  # a search (`patient` is a read: there is nothing to cut)
]


@pytest.fixture(scope="module")
def complete(small_pages: FhirServer, frozen_server: LiveService) -> dict[str, dict[str, str]]:
    """Rule -> indicator with every search complete, per hook."""
    found = {
        hook: rule_indicators(
            {
                "cards": cards_of(
                    frozen_server, body(small_pages, hook, cut=frozenset(), fallback=False)
                )
            }
        )
        for hook in SERVICES
    }
    # the complete record: overdue (150 days > 12 weeks + 14), but not 2x the interval; the
    # lapsed dose is also "no current therapy" in PA: one card, the overdue one carries it
    assert found["patient-view"]["maintenance-injection-overdue"] == "warning"
    assert "b12-therapy-stopped" not in found["patient-view"]
    # the order's status is no cover: the last dose 150 days ago covers nothing today, and PA
    # is a known deficiency, so folic acid is critical on the complete record
    assert found["order-select"]["folic-acid-without-b12"] == "critical"
    assert found["order-sign"]["folic-acid-without-b12"] == "critical"
    return found


@pytest.mark.parametrize(("hook", "key"), CUTS, ids=[f"{h}-{k}" for h, k in CUTS])
def test_one_cut_search_without_fallback_raises_no_alarm_from_absence(
    small_pages: FhirServer,
    frozen_server: LiveService,
    complete: dict[str, dict[str, str]],
    hook: str,
    key: str,
) -> None:
    sent = body(small_pages, hook, cut=frozenset({key}), fallback=False)
    page = sent["prefetch"][key]
    assert page["total"] > PAGE_SIZE and any(link["relation"] == "next" for link in page["link"])
    cards = cards_of(frozen_server, sent)
    for card in cards:
        rule, indicator = rule_of(card), card["indicator"]
        if indicator != "info":
            assert SEVERITY[indicator] <= SEVERITY.get(complete[hook].get(rule, ""), -1), (
                f"{rule} went {indicator} on a cut {key!r} (complete record: "
                f"{complete[hook].get(rule, 'silent')})"
            )
        if rule != "maintenance-interval-too-long":  # judged on the draft alone
            assert (
                "Records incomplete: " in card["detail"] and f"('{key}'), 3 of " in card["detail"]
            )
            assert "older records are missing" in card["detail"]  # every template: newest first


@pytest.mark.parametrize(("hook", "key"), CUTS, ids=[f"{h}-{k}" for h, k in CUTS])
def test_one_cut_search_with_fallback_is_read_in_full(
    small_pages: FhirServer,
    frozen_server: LiveService,
    complete: dict[str, dict[str, str]],
    hook: str,
    key: str,
) -> None:
    cards = cards_of(frozen_server, body(small_pages, hook, cut=frozenset({key}), fallback=True))
    assert rule_indicators({"cards": cards}) == complete[hook]
    assert not any("Records incomplete" in card["detail"] for card in cards)


def test_the_false_alarms_a_cut_would_raise_are_unconfirmed_info(
    small_pages: FhirServer, frozen_server: LiveService
) -> None:
    """The control: without the downgrade these would be critical and warning cards."""
    cards = cards_of(
        frozen_server,
        body(small_pages, "patient-view", cut=frozenset({"medrequests"}), fallback=False),
    )
    # "no current therapy" (critical without the order) and "injection overdue" are one fact:
    # one card carries both, and neither may alarm on the cut order search
    (stopped,) = [c for c in cards if "No current B12" in c["summary"] + c["detail"]]
    assert stopped["indicator"] == "info"
    assert "Unconfirmed, medication orders incomplete: " in stopped["summary"]
    assert "Unconfirmed (it would be warning)" in stopped["detail"]  # a dose missed in a regimen
    assert not any(s.get("isRecommended") for s in stopped.get("suggestions", []))
    cards = cards_of(
        frozen_server,
        body(small_pages, "order-select", cut=frozenset({"medrequests"}), fallback=False),
    )
    folic = next(c for c in cards if rule_of(c) == "folic-acid-without-b12")
    assert folic["indicator"] == "info" and "Unconfirmed (it would be critical)" in folic["detail"]


@pytest.mark.parametrize("hook", list(SERVICES))
def test_every_search_cut_as_the_sandbox_sends_it(
    small_pages: FhirServer,
    frozen_server: LiveService,
    complete: dict[str, dict[str, str]],
    hook: str,
) -> None:
    every = frozenset(templates_of(SERVICES[hook]))
    cards = cards_of(frozen_server, body(small_pages, hook, cut=every, fallback=False))
    for card in cards:
        if card["indicator"] != "info":
            rule = rule_of(card)
            assert SEVERITY[card["indicator"]] <= SEVERITY.get(complete[hook].get(rule, ""), -1)
    cards = cards_of(frozen_server, body(small_pages, hook, cut=every, fallback=True))
    assert rule_indicators({"cards": cards}) == complete[hook]


# --- the issue's case: page size 3, no fallback, the newest dose on page 2 ---------------------


def overdue_card(cards: list[dict[str, Any]]) -> dict[str, Any]:
    return next(c for c in cards if rule_of(c) == "maintenance-injection-overdue")


def test_issue_case_the_unsorted_search_is_unconfirmed_not_critical(
    small_pages: FhirServer, frozen_server: LiveService
) -> None:
    old = {"medadmins": OLD_MEDADMINS_TEMPLATE}  # the template before this change
    sent = body(
        small_pages, "patient-view", cut=frozenset({"medadmins"}), fallback=False, templates=old
    )
    first_page = [
        e["resource"]["effectiveDateTime"] for e in sent["prefetch"]["medadmins"]["entry"]
    ]
    assert ago(150) not in first_page and ago(250) in first_page  # the newest dose is on page 2
    card = overdue_card(cards_of(frozen_server, sent))
    # before: critical "B12 injection overdue: last given <250 days ago>" (irreversible cause,
    # more than twice the interval); the newest dose was on page 2
    assert card["indicator"] == "info"
    assert card["summary"] == (
        "Unconfirmed, medication administrations incomplete: B12 injection overdue: "
        f"last given {ago(250)}, 250 days ago"
    )
    assert "Unconfirmed (it would be critical)" in card["detail"]
    assert "('medadmins'), 3 of 5 read" in card["detail"]
    assert (
        "no date sort, so it is unknown whether older or newer records are missing"
        in card["detail"]
    )


def test_issue_case_with_the_sorted_template_the_first_page_holds_the_newest_dose(
    small_pages: FhirServer, frozen_server: LiveService
) -> None:
    card = overdue_card(
        cards_of(
            frozen_server,
            body(small_pages, "patient-view", cut=frozenset({"medadmins"}), fallback=False),
        )
    )
    assert card["indicator"] == "warning"
    assert card["summary"] == f"B12 injection overdue: last given {ago(150)}, 150 days ago"
    assert "sorted newest first, so older records are missing" in card["detail"]


def test_issue_case_with_fallback_the_service_reads_page_2(
    small_pages: FhirServer, frozen_server: LiveService
) -> None:
    old = {"medadmins": OLD_MEDADMINS_TEMPLATE}
    card = overdue_card(
        cards_of(
            frozen_server,
            body(
                small_pages,
                "patient-view",
                cut=frozenset({"medadmins"}),
                fallback=True,
                templates=old,
            ),
        )
    )
    assert card["indicator"] == "warning"
    assert card["summary"] == f"B12 injection overdue: last given {ago(150)}, 150 days ago"


@pytest.fixture(scope="module")
def silent_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    folder = tmp_path_factory.mktemp("silent")
    policy = json.loads(Path(DEFAULT_POLICY_PATH).read_text(encoding="utf-8"))
    policy["incomplete_data"] = {"absence_conclusions": "silent"}
    (folder / "policy.json").write_text(json.dumps(policy), encoding="utf-8")
    service = start_frozen(
        {
            "B12CDS_POLICY": str(folder / "policy.json"),
            "B12CDS_DATABASE_URL": f"sqlite:///{folder}/b12cds.sqlite3",
        }
    )
    yield service
    service.stop()


def test_issue_case_the_silent_policy_shows_no_card(
    small_pages: FhirServer, silent_service: LiveService
) -> None:
    old = {"medadmins": OLD_MEDADMINS_TEMPLATE}
    sent = body(
        small_pages, "patient-view", cut=frozenset({"medadmins"}), fallback=False, templates=old
    )
    assert "maintenance-injection-overdue" not in rule_indicators(
        {"cards": cards_of(silent_service, sent)}
    )
    sent = body(small_pages, "patient-view", cut=frozenset({"medadmins"}), fallback=False)
    assert (
        rule_indicators({"cards": cards_of(silent_service, sent)})["maintenance-injection-overdue"]
        == "warning"
    )
