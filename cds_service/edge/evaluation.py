"""One hook call, end to end, without HTTP: shared by the web API and `b12-cds evaluate`.

request -> (order hooks: read the draft orders first) -> data.gather -> read_record ->
run_rules -> (with a store) hold back fatigued cards -> render_cards -> (with a store)
ledger the issued cards -> (optionally) check the response against its schema.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from cds_service.cards import RenderContext, render_cards
from cds_service.cards.profiles import GENERIC, CardProfile
from cds_service.data import gather
from cds_service.data.completeness import KeyReport
from cds_service.data.fhir_client import FhirFetcher
from cds_service.data.prefetch import DataMissing
from cds_service.data.references import draft_resources, unresolved, with_medications
from cds_service.edge import ledger, metrics
from cds_service.policy import Policy
from cds_service.protocol.catalog import Catalog, ServiceDefinition, first_error
from cds_service.protocol.errors import ServiceError
from cds_service.protocol.limits import within_shape
from cds_service.protocol.request import HookRequest
from cds_service.record import read_orders, read_record
from cds_service.record.completeness import Completeness, Coverage, Missing, SearchStatus
from cds_service.record.model import Agent, DataGap, Orders, PatientRecord, Source
from cds_service.rules import analytes_for, run_rules, series_for
from cds_service.rules.base import RuleInput
from cds_service.settings import Settings
from cds_service.store import Store

log = logging.getLogger(__name__)

Clock = Callable[[], date]

# The order rules speak only about these agents; other orders need no patient data.
ORDER_AGENTS = frozenset({Agent.B12, Agent.FOLIC_ACID})


def utc_today() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True, slots=True)
class Evaluation:
    response: dict[str, Any]
    rule_ids: tuple[str, ...]  # rules whose card is in the response
    failed_rules: tuple[str, ...]

    @property
    def card_count(self) -> int:
        return len(self.response["cards"])


@dataclass(frozen=True, slots=True)
class Evaluator:
    catalog: Catalog
    policy: Policy
    settings: Settings
    clock: Clock
    store: Store | None = None  # None (offline `evaluate`): no suppression, no ledger
    fetcher: FhirFetcher | None = None  # None (offline `evaluate`): no FHIR fallback

    def evaluate(
        self, service: ServiceDefinition, request: HookRequest, profile: CardProfile = GENERIC
    ) -> Evaluation:
        """The response to one hook call, its cards fitted to the caller's card `profile`."""
        orders: Orders | None = None
        if service.is_order_hook:
            orders = read_orders(request.draft_orders, request.selections, self.policy)
            # a draft naming its drug only as Medication/<id> is read once that is fetched
            pending = request.fhir_server is not None and bool(
                unresolved(draft_resources(request.draft_orders), request.fhir_server)
            )
            if not concerns_b12(orders) and not pending:
                # e.g. order-select fired before a drug was chosen: nothing to say
                return Evaluation({"cards": []}, (), ())
        try:
            raw = gather(request, service, fetcher=self.fetcher, settings=self.settings)
        except DataMissing as exc:
            _count_fetches(exc.fetches)
            raise
        _count_fetches(raw.fetches)
        if orders is not None and raw.medications:
            drafts = with_medications(request.draft_orders, raw.medications)
            orders = read_orders(drafts, request.selections, self.policy)
        if orders is not None and not concerns_b12(orders):
            return Evaluation({"cards": []}, (), ())
        notes = tuple(DataGap(topic="bundle", message=note) for note in raw.notes)
        record = read_record(
            request.patient_id,
            raw.resources,
            self.policy,
            notes,
            analytes_for(request.hook),
            series_for(request.hook),
        )
        today = self.clock()
        completeness = completeness_of(raw.reports)
        run = run_rules(RuleInput(record, self.policy, today, request.hook, orders, completeness))
        for failure in run.failures:
            log.error(
                "rule_failed", extra={"rule_id": failure.rule_id, "error_type": failure.error}
            )
            metrics.rule_failed(failure.rule_id)
        findings = run.findings
        call = ledger.hook_call(service, request)
        now = datetime.now(UTC)
        if self.store is not None:
            findings = ledger.hold_back(self.store, self.policy, call, findings, now)
        context = RenderContext(
            patient_id=request.patient_id,
            hook=request.hook,
            today=today,
            encounter_id=request.encounter_id,
            user_id=request.user_id,
            resources=_updatable_resources(record, orders),
            drafts=frozenset(d.ref for d in orders.drafts) if orders is not None else frozenset(),
            profile=profile,
        )
        cards = render_cards(findings, context)
        response: dict[str, Any] = {"cards": cards}
        if self.settings.validate_responses:
            problem = first_error(self.catalog.response, response, "response")
            if problem:
                raise ServiceError(f"the service built an invalid response ({problem})")
        if self.store is not None:
            ledger.record(self.store, call, cards, now)
        return Evaluation(
            response,
            tuple(f.rule_id for f in findings),
            tuple(f.rule_id for f in run.failures),
        )


def completeness_of(reports: tuple[KeyReport, ...]) -> Completeness:
    """The data layer's per-key reports as the record's view of them: the incomplete ones
    (a key not listed is complete)."""
    cut = [r for r in reports if r.state != "complete"]
    if not cut:
        return NOTHING_CUT
    return Completeness.of(
        *(
            SearchStatus(r.key, Coverage(r.state), Missing(r.missing), r.words, r.held, r.total)
            for r in cut
        )
    )


NOTHING_CUT = Completeness()


def _count_fetches(outcomes: tuple[str, ...]) -> None:
    for outcome in outcomes:
        metrics.fhir_fetch(outcome)


def concerns_b12(orders: Orders) -> bool:
    """True if any draft order is B12 or folic acid (a stop of B12 included)."""
    return any(
        d.medication is not None and not d.medication.agents.isdisjoint(ORDER_AGENTS)
        for d in orders.drafts
    )


def _updatable_resources(
    record: PatientRecord, orders: Orders | None
) -> Mapping[str, Mapping[str, Any]]:
    """Raw resources a card may suggest updating, by "Type/id": the record's medication
    orders (the reader already kept each one's JSON) and the draft orders."""
    found: dict[str, Mapping[str, Any]] = {
        m.ref: m.raw for m in record.medications if m.source is Source.REQUEST
    }
    drafts = {d.ref: d.raw for d in orders.drafts} if orders is not None else {}
    return _Echoable(found | drafts, frozenset(drafts))


class _Echoable(Mapping[str, Mapping[str, Any]]):
    """Orders a suggestion may echo back. One from prefetch or the FHIR server was never
    walked whole (see `limits`), so it is checked against the shape limits when a card
    first asks for it, and is absent if it breaks them (the card goes without that update).
    Draft orders came in the context, which was checked with the request."""

    def __init__(self, resources: dict[str, Mapping[str, Any]], checked: frozenset[str]) -> None:
        self._resources = resources
        self._verdicts = dict.fromkeys(checked, True)

    def _fits(self, ref: str) -> bool:
        if ref not in self._verdicts:
            self._verdicts[ref] = within_shape(self._resources[ref])
        return self._verdicts[ref]

    def __getitem__(self, ref: str) -> Mapping[str, Any]:
        if ref in self._resources and self._fits(ref):
            return self._resources[ref]
        raise KeyError(ref)

    def __contains__(self, ref: object) -> bool:
        return isinstance(ref, str) and ref in self._resources and self._fits(ref)

    def __iter__(self) -> Iterator[str]:
        return (ref for ref in self._resources if self._fits(ref))

    def __len__(self) -> int:
        return sum(1 for _ in self)
