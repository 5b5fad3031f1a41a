"""Condition -> `Diagnosis`, Procedure -> `ProcedureRecord`, for value-set members only.

The rules only ask "is there a condition in VS_x", so a resource whose codes belong to no
policy value set is skipped before its dates are parsed. Resolved and inactive entries
are kept: surgical history is often recorded that way and still means malabsorption.
"""

from __future__ import annotations

from typing import Any

from cds_service.policy import Policy
from cds_service.record.dates import fuzzy_date
from cds_service.record.index import PolicyIndex
from cds_service.record.jsonish import JSON, code, coding_keys, concept_texts, obj
from cds_service.record.model import DataGap, Diagnosis, FuzzyDate, ProcedureRecord

DROP_VERIFICATION = frozenset({"entered-in-error", "refuted"})
DROP_PROCEDURE = frozenset({"entered-in-error", "not-done"})
TOPIC = "conditions"


def _concepts(resource: JSON, index: PolicyIndex) -> tuple[frozenset[str], str | None]:
    """The value-set names of all codings, and the first coding that is in one."""
    names: set[str] = set()
    matched: str | None = None
    for key in coding_keys(resource.get("code")):
        found = index.concepts.get(key)
        if found:
            names |= found
            matched = matched or key
    return frozenset(names), matched


def _display(resource: JSON, matched: str, policy: Policy) -> str:
    found = next(concept_texts(resource.get("code")), None) or policy.displays.get(
        matched, matched.rsplit("|", 1)[-1]
    )
    return found[:200]


def _date(value: Any, what: str, display: str, gaps: list[DataGap]) -> FuzzyDate | None:
    """A date; an unreadable one becomes a gap (a missing one is simply unknown)."""
    if value is None:
        return None
    found = fuzzy_date(value)
    if found is None:
        gaps.append(DataGap(TOPIC, f"{display}: {what} date is not a valid date"))
    return found


def _period_edge(resource: JSON, key: str, edge: str) -> Any:
    period = obj(resource.get(key))
    return period.get(edge) if period is not None else None


def read_condition(
    resource: JSON, ref: str, policy: Policy, index: PolicyIndex, gaps: list[DataGap]
) -> Diagnosis | None:
    concepts, matched = _concepts(resource, index)
    if matched is None:
        return None
    verification = code(resource.get("verificationStatus"))
    if verification in DROP_VERIFICATION:
        return None
    display = _display(resource, matched, policy)
    onset_raw = resource.get("onsetDateTime")
    if onset_raw is None:
        onset_raw = _period_edge(resource, "onsetPeriod", "start")
    abatement_raw = resource.get("abatementDateTime")
    if abatement_raw is None:
        abatement_raw = _period_edge(resource, "abatementPeriod", "end")
    if abatement_raw is None:
        abatement_raw = _period_edge(resource, "abatementPeriod", "start")
    return Diagnosis(
        ref=ref,
        concepts=concepts,
        display=display,
        code=matched,
        clinical_status=code(resource.get("clinicalStatus")),
        verification_status=verification,
        onset=_date(onset_raw, "onset", display, gaps),
        recorded=_date(resource.get("recordedDate"), "recorded", display, gaps),
        abatement=_date(abatement_raw, "end", display, gaps),
    )


def read_procedure(
    resource: JSON, ref: str, policy: Policy, index: PolicyIndex, gaps: list[DataGap]
) -> ProcedureRecord | None:
    concepts, matched = _concepts(resource, index)
    if matched is None:
        return None
    status = code(resource.get("status"))
    if status in DROP_PROCEDURE:
        return None
    display = _display(resource, matched, policy)
    performed_raw = resource.get("performedDateTime")
    if performed_raw is None:
        performed_raw = _period_edge(resource, "performedPeriod", "start")
    if performed_raw is None:
        performed_raw = _period_edge(resource, "performedPeriod", "end")
    return ProcedureRecord(
        ref=ref,
        concepts=concepts,
        display=display,
        code=matched,
        status=status,
        performed=_date(performed_raw, "procedure", display, gaps),
    )
