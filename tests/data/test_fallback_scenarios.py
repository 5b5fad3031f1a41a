"""Every fixture scenario three ways over real HTTP, against a real FHIR server.

The scenario's data is PUT into the test FHIR server (Medplum engine, tests/fhirserver), then
the request goes to the real service (today frozen at 2026-11-25) with the prefetch in full,
with no prefetch at all (everything fetched from `fhirServer`), and with the empty keys sent
as `null` and some data keys left out. All three must give the rule ids and indicators of
`expected.json`; a full prefetch fetches nothing, and a `null` key is never fetched.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cds_service.edge.evaluation import concerns_b12
from cds_service.policy import load_policy
from cds_service.record import read_orders
from tests.data.scenarios import KEY_TYPES, SCENARIOS, Scenario, check_expected, transaction
from tests.support.fhir_server import FhirServer
from tests.support.hook_calls import call_hook
from tests.support.live import LiveService


def fetched_types(server: FhirServer) -> set[str]:
    return {entry["path"].strip("/").split("/")[0] for entry in server.request_log()}


def needs_patient_data(scenario: Scenario) -> bool:
    """False for an order call with no B12 or folic acid order: the service reads nothing."""
    context = scenario.request["context"]
    if "draftOrders" not in context:
        return True
    orders = read_orders(context["draftOrders"], context.get("selections"), load_policy())
    return concerns_b12(orders)


@pytest.mark.parametrize("folder", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_scenario_three_ways(
    folder: Path, scenario_fhir: FhirServer, frozen_server: LiveService
) -> None:
    scenario = Scenario.load(folder)
    assert scenario.expected["status"] == 200
    scenario_fhir.reset_data()
    scenario_fhir.load(transaction(scenario.resources()))
    base = scenario_fhir.base_url

    scenario_fhir.clear_request_log()
    response = call_hook(frozen_server.base_url, scenario.full_prefetch(base))
    assert response.status_code == 200, response.text
    check_expected(response.json(), scenario.expected, "full prefetch")
    assert scenario_fhir.request_log() == [], "a full prefetch must fetch nothing"

    scenario_fhir.clear_request_log()
    response = call_hook(frozen_server.base_url, scenario.no_prefetch(base))
    assert response.status_code == 200, response.text
    check_expected(response.json(), scenario.expected, "no prefetch")
    if needs_patient_data(scenario):
        wanted = {KEY_TYPES[k] for k in scenario.request["prefetch"]}
        assert wanted <= fetched_types(scenario_fhir), "every key must be fetched"
    else:
        assert scenario_fhir.request_log() == [], "nothing to read, so nothing to fetch"

    scenario_fhir.clear_request_log()
    body, nulls, missing = scenario.mixed(base)
    response = call_hook(frozen_server.base_url, body)
    assert response.status_code == 200, response.text
    check_expected(response.json(), scenario.expected, f"null {nulls}, missing {missing}")
    fetched = fetched_types(scenario_fhir)
    if needs_patient_data(scenario):
        assert {KEY_TYPES[k] for k in missing} <= fetched
    assert not {KEY_TYPES[k] for k in nulls} & fetched, "a null key must never be fetched"
