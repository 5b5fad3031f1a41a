"""`gather` and `FhirFetcher` in-process, against the fault server and the real FHIR server.

What arrives for each key decides what is fetched: null never, an OperationOutcome (alone or
as an error inside a Bundle) always, a Bundle with a `next` link only its later pages, and
only from the request's own fhirServer, checked before any request is made.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from cds_service.data import gather
from cds_service.data.fhir_client import (
    Continuation,
    Fetched,
    FetchError,
    FhirFetcher,
    FhirTarget,
    same_server,
)
from cds_service.data.prefetch import NOT_ALLOWED, OFFLINE
from cds_service.data.templates import fill
from cds_service.protocol.catalog import ServiceDefinition, load_catalog
from cds_service.protocol.errors import DataUnavailable
from cds_service.protocol.request import HookRequest, hook_request_from
from cds_service.settings import Settings
from tests.data.fault_server import FaultServer
from tests.data.scenarios import FIXTURES, Scenario, transaction
from tests.support.fhir_server import FhirServer

SCENARIO = Scenario.load(FIXTURES / "fires-injection-overdue-106-days")
SETTINGS = Settings(fhir_timeout=0.5, fhir_page_cap=3)
TOKEN = "canary-token-in-process"


@pytest.fixture(scope="module")
def fetcher() -> Iterator[FhirFetcher]:
    made = FhirFetcher()
    yield made
    made.close()


@pytest.fixture(scope="module")
def faults(fault_fhir: FaultServer) -> Iterator[FaultServer]:
    fault_fhir.resources = SCENARIO.resources()
    yield fault_fhir
    fault_fhir.resources = []


def service() -> ServiceDefinition:
    found = load_catalog().service_for_hook("patient-view")
    assert found is not None
    return found


def request(body: dict[str, Any]) -> HookRequest:
    catalog = load_catalog()
    return hook_request_from(body, service(), catalog)


def body_with(fhir_server: str | None, **prefetch: Any) -> dict[str, Any]:
    """The scenario's request: its prefetch with `prefetch` applied (a value of ... drops a key)."""
    body = SCENARIO.full_prefetch(fhir_server or "")
    if fhir_server is None:
        del body["fhirServer"]
    for key, value in prefetch.items():
        if value is ...:
            del body["prefetch"][key]
        else:
            body["prefetch"][key] = value
    if fhir_server is None:
        return body
    body["fhirAuthorization"] = {
        "access_token": TOKEN,
        "token_type": "Bearer",
        "expires_in": 60,
        "scope": "patient/*.read",
        "subject": "b12-cds",
    }
    return body


def searched(faults: FaultServer, before: int) -> list[str]:
    return [s.path.split("?")[0] for s in faults.seen[before:]]


# --- which keys are fetched ------------------------------------------------------------------


def test_nulls_are_never_fetched_and_missing_keys_are(
    faults: FaultServer, fetcher: FhirFetcher
) -> None:
    before = len(faults.seen)
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "x"}]}
    error_bundle = {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": outcome}]}
    body = body_with(
        faults.base("ok"),
        labs=None,
        conditions=None,
        procedures=outcome,  # an error instead of data: fetched
        medstatements=error_bundle,  # an error inside a Bundle: fetched
        medadmins=...,  # missing: fetched
    )
    raw = gather(request(body), service(), fetcher=fetcher, settings=SETTINGS)
    assert sorted(searched(faults, before)) == [
        "MedicationAdministration",
        "MedicationStatement",
        "Procedure",
    ]
    assert {"labs", "conditions", "medadmins", "procedures"} <= raw.keys_present
    assert sum(r["resourceType"] == "MedicationAdministration" for r in raw.resources) == 6
    assert raw.notes == ()


def test_a_full_prefetch_makes_no_request(faults: FaultServer, fetcher: FhirFetcher) -> None:
    before = len(faults.seen)
    raw = gather(request(body_with(faults.base("ok"))), service(), fetcher=fetcher)
    assert faults.seen[before:] == []
    assert raw.keys_present == frozenset(service().prefetch)


def test_a_server_not_allowed_is_refused_before_any_request(
    faults: FaultServer, fetcher: FhirFetcher
) -> None:
    before = len(faults.seen)
    with pytest.raises(DataUnavailable, match=NOT_ALLOWED) as caught:
        gather(
            request(body_with(faults.base("ok"), labs=...)),
            service(),
            fetcher=fetcher,
            allowed_servers=[faults.base("500"), "https://fhir.example.org/r4"],
        )
    assert "'labs'" in caught.value.diagnostics
    assert faults.seen[before:] == []
    # the same server on the list is used
    raw = gather(
        request(body_with(faults.base("ok"), labs=...)),
        service(),
        fetcher=fetcher,
        allowed_servers=[faults.base("ok") + "/"],
    )
    assert "labs" in raw.keys_present


def test_offline_evaluation_fetches_nothing_and_says_so(faults: FaultServer) -> None:
    before = len(faults.seen)
    with pytest.raises(DataUnavailable, match=re.escape(OFFLINE)):
        gather(request(body_with(faults.base("ok"), labs=...)), service())
    assert faults.seen[before:] == []


def test_without_fhir_server_a_missing_patient_is_quiet_and_a_missing_key_a_412() -> None:
    raw = gather(request(body_with(None, patient=...)), service(), fetcher=FhirFetcher())
    assert raw.notes == () and "patient" not in raw.keys_present
    with pytest.raises(DataUnavailable, match=r"'conditions', 'labs'.*no fhirServer"):
        gather(request(body_with(None, labs=..., conditions=...)), service())


def test_several_failures_are_named_together_without_token_or_patient(
    faults: FaultServer, fetcher: FhirFetcher
) -> None:
    body = body_with(faults.base("401"), labs=..., medadmins=...)
    with pytest.raises(DataUnavailable) as caught:
        gather(request(body), service(), fetcher=fetcher, settings=SETTINGS)
    message = caught.value.diagnostics
    assert "'labs', 'medadmins': FHIR server answered HTTP 401" in message
    assert TOKEN not in message and SCENARIO.patient_id not in message


# --- prefetched Bundles with a next link -------------------------------------------------------


def first_page(scenario_fhir: FhirServer) -> dict[str, Any]:
    """Page 1 of a MedicationAdministration search on the real server (20 of 46)."""
    resources = SCENARIO.resources()
    given = next(r for r in resources if r["resourceType"] == "MedicationAdministration")
    for i in range(40):
        resources.append(
            {**given, "id": f"extra-{i}", "effectiveDateTime": f"2019-01-{i % 28 + 1:02d}"}
        )
    scenario_fhir.reset_data()
    scenario_fhir.load(transaction(resources))
    page = scenario_fhir.get("MedicationAdministration", patient=SCENARIO.patient_id).json()
    assert page["total"] == 46 and len(page["entry"]) == 20
    return dict(page)


def test_a_prefetched_first_page_is_continued_from_fhir_server(
    scenario_fhir: FhirServer, fetcher: FhirFetcher
) -> None:
    page = first_page(scenario_fhir)
    body = body_with(scenario_fhir.base_url, medadmins=page)
    scenario_fhir.clear_request_log()
    raw = gather(request(body), service(), fetcher=fetcher, settings=Settings())
    given = [r for r in raw.resources if r["resourceType"] == "MedicationAdministration"]
    assert len({r["id"] for r in given}) == 46
    assert [e["path"] for e in scenario_fhir.request_log()] == ["/MedicationAdministration"] * 2
    assert raw.notes == ()


def test_a_prefetched_first_page_without_fhir_server_or_cap_is_a_note(
    scenario_fhir: FhirServer, fetcher: FhirFetcher
) -> None:
    page = first_page(scenario_fhir)  # its self link has no _sort: either end may be missing
    raw = gather(request(body_with(None, medadmins=page)), service(), fetcher=fetcher)
    assert raw.notes == (
        "Records incomplete: medication administrations ('medadmins'), 20 of 46 read; "
        "only the first page was supplied, and later pages were not fetched "
        "(no fhirServer to fetch them from); the search had no date sort, so it is unknown "
        "whether older or newer records are missing.",
    )
    report = {r.key: r for r in raw.reports}["medadmins"]
    assert (report.state, report.missing, report.held, report.total) == (
        "truncated",
        "unknown",
        20,
        46,
    )
    assert all(r.state == "complete" for r in raw.reports if r.key != "medadmins")
    capped = Settings(fhir_page_cap=2)
    raw = gather(
        request(body_with(scenario_fhir.base_url, medadmins=page)),
        service(),
        fetcher=fetcher,
        settings=capped,
    )
    assert len(raw.notes) == 1
    assert (
        "40 of 46 read; 2 page(s) were read from the FHIR server, then the page limit"
        in (raw.notes[0])
    )
    assert sum(r["resourceType"] == "MedicationAdministration" for r in raw.resources) == 40


def test_a_sorted_first_page_is_missing_only_older_records(
    scenario_fhir: FhirServer, fetcher: FhirFetcher
) -> None:
    first_page(scenario_fhir)
    page = scenario_fhir.get(
        "MedicationAdministration", patient=SCENARIO.patient_id, _sort="-effective-time"
    ).json()
    raw = gather(request(body_with(None, medadmins=page)), service(), fetcher=fetcher)
    report = {r.key: r for r in raw.reports}["medadmins"]
    assert (report.state, report.missing) == ("truncated", "older")
    assert "sorted newest first, so older records are missing" in raw.notes[0]


def test_a_bundle_with_fewer_entries_than_its_total_is_searched_again(
    scenario_fhir: FhirServer, fetcher: FhirFetcher
) -> None:
    page = first_page(scenario_fhir)
    del page["link"]  # no next link to follow: only the total says entries are missing
    raw = gather(
        request(body_with(scenario_fhir.base_url, medadmins=page)), service(), fetcher=fetcher
    )
    given = [r for r in raw.resources if r["resourceType"] == "MedicationAdministration"]
    assert len({r["id"] for r in given}) == 46
    assert raw.notes == ()
    offline = gather(request(body_with(None, medadmins=page)), service(), fetcher=fetcher)
    report = {r.key: r for r in offline.reports}["medadmins"]
    assert (report.state, report.held, report.total) == ("truncated", 20, 46)
    assert "fewer entries than its total" in offline.notes[0]


def test_a_prefetched_next_link_to_another_server_is_not_followed(
    faults: FaultServer, fetcher: FhirFetcher
) -> None:
    page = {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": [{"relation": "next", "url": faults.base("ok") + "/Condition?page=2"}],
    }
    before = len(faults.seen)
    raw = gather(
        request(body_with(faults.base("ok").replace("/ok/", "/other/"), conditions=page)),
        service(),
        fetcher=fetcher,
    )
    assert faults.seen[before:] == []
    assert len(raw.notes) == 1 and "another server" in raw.notes[0]


# --- the fetcher itself ------------------------------------------------------------------------


def target(base: str, **kw: Any) -> FhirTarget:
    return FhirTarget(base, **{"token": TOKEN, "timeout_s": 0.5, "page_cap": 3, **kw})


def test_search_parameters_are_encoded_and_arrive_unchanged(
    faults: FaultServer, fetcher: FhirFetcher
) -> None:
    query = fill(service().prefetch["labs"], {"patientId": "pat-1"})
    before = len(faults.seen)
    result = fetcher.fetch({"labs": query}, target(faults.base("ok")))
    assert isinstance(result["labs"], Fetched)
    sent = faults.seen[before].path
    assert "|" not in sent and "%7C" in sent  # encoded on the wire
    assert parse_qs(urlsplit(sent).query) == {k: [v] for k, v in query.params}


def test_keys_are_fetched_concurrently_within_one_budget(
    faults: FaultServer, fetcher: FhirFetcher
) -> None:
    queries = {k: fill(t, {"patientId": "p"}) for k, t in service().prefetch.items()}
    started = time.perf_counter()
    results = fetcher.fetch(queries, target(faults.base("stall")))
    elapsed = time.perf_counter() - started
    assert elapsed < 0.5 + 0.3, elapsed  # 7 stalled keys, one shared deadline
    assert all(isinstance(r, FetchError) and "timed out" in r.reason for r in results.values())


def test_a_drip_fed_body_cannot_stretch_the_budget(
    faults: FaultServer, fetcher: FhirFetcher
) -> None:
    started = time.monotonic()
    result = fetcher.fetch(
        {"labs": Continuation(faults.base("drip") + "/Observation")}, target(faults.base("drip"))
    )
    assert time.monotonic() - started < 0.8
    assert isinstance(result["labs"], FetchError) and "timed out" in result["labs"].reason
    # the reading thread itself gave up at the deadline, so the server saw it hang up
    # (without per-read deadline checks it would keep reading the whole ~100 s drip)
    for _ in range(40):
        if any(t > started for t in faults.drip_abandoned):
            break
        time.sleep(0.05)
    hung_up = [t - started for t in faults.drip_abandoned if t > started]
    assert hung_up and hung_up[0] < 1.2, hung_up


def test_an_https_only_rule_refuses_before_connecting(fetcher: FhirFetcher) -> None:
    result = fetcher.fetch({"labs": fill("Observation", {})}, target("http://fhir.example.org/r4"))
    assert isinstance(result["labs"], FetchError)
    assert result["labs"].reason == "fhirServer must use https"
    allowed = fetcher.fetch(
        {"labs": fill("Observation", {})},
        target("http://fhir.invalid/r4", allow_http_hosts=("fhir.invalid",), timeout_s=2),
    )
    assert isinstance(allowed["labs"], FetchError)
    assert "unreachable" in allowed["labs"].reason  # allowed, so it was tried


@pytest.mark.parametrize(
    ("url", "same"),
    [
        ("http://h:1/fhir/Observation?page=2", True),
        ("http://h:1/fhir", True),
        ("http://h:1/fhirx/Observation", False),
        ("http://h:2/fhir/Observation", False),
        ("https://h:1/fhir/Observation", False),
        ("http://other:1/fhir/Observation", False),
        ("http://user@h:1/fhir/Observation", False),
    ],
)
def test_same_server(url: str, same: bool) -> None:
    assert same_server(url, "http://h:1/fhir") is same
