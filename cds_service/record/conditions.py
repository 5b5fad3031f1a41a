"""Condition -> `Diagnosis`, Procedure -> `ProcedureRecord`, for what the rules ask about.

The rules ask "is there a condition in VS_x", so a resource whose codes belong to no
policy value set is skipped before its dates are parsed, with three exceptions read by
their words: a Procedure that records a B12 injection (concept `B12_ADMINISTRATION`, a
dose), a Condition naming nitrous oxide use (`N2O_EXPOSURE`: total B12 can be normal after
it), and the links a Condition states (dueTo, evidence, "due to B12"). A small-bowel
excision is an irreversible cause only when the record says the terminal ileum went.
Resolved and inactive entries are kept: surgical history is often recorded that way.
"""

from __future__ import annotations

import re
from typing import Any

from cds_service.policy import Policy
from cds_service.record.dates import fuzzy_date
from cds_service.record.index import PolicyIndex
from cds_service.record.jsonish import JSON, code, coding_keys, concept_texts, obj, objs, reference
from cds_service.record.medicines.forms import route_of_words
from cds_service.record.medicines.model import COBALAMINS, Route
from cds_service.record.model import DataGap, Diagnosis, FuzzyDate, ProcedureRecord

DROP_VERIFICATION = frozenset({"entered-in-error", "refuted"})
DROP_PROCEDURE = frozenset({"entered-in-error", "not-done"})
TOPIC = "conditions"
B12_DOSE = "B12_ADMINISTRATION"
N2O = "N2O_EXPOSURE"
IRREVERSIBLE = "VS_MALABSORPTION_IRREVERSIBLE"
SMALL_BOWEL = "VS_SMALL_BOWEL_RESECTION"
DEFICIENCY = "VS_B12_DEFICIENCY"

_B12_WORDS = re.compile(r"b\s?-?\s?12|cobalamin", re.IGNORECASE)
_N2O_WORDS = re.compile(
    r"\bnitrous\b|\bn2o\b|\bn₂o\b|laughing gas|\bwhippets?\b|\bnangs?\b|\bhippy crack\b",
    re.IGNORECASE,
)
_ILEUM_WORDS = re.compile(r"\bile(?:um|al|ectomy|ocaecal|ocecal|o-?caecal|o-?cecal)\b", re.I)
_DUE_TO = "http://hl7.org/fhir/StructureDefinition/condition-dueTo"
# words that make a procedure a dose given (not "Vitamin B12 level", a test)
_GIVEN_WORDS = re.compile(r"\badminist|\bgiven\b|\bdose\b|\bshot\b|\bjab\b", re.IGNORECASE)


def words_name_b12(texts: list[str]) -> bool:
    return any(_B12_WORDS.search(t) for t in texts)


_N2O_HINTS = ("nitrous", "n2o", "n₂o", "laughing", "whippet", "nang", "hippy")


def mentions_nitrous_oxide(concept: Any) -> bool:
    """The cheap pre-filter (it runs on every Condition outside the value sets): do its words
    name nitrous oxide use? A substring test first, the word pattern only on a hint."""
    for words in concept_texts(concept):
        low = words[:300].lower()
        if any(hint in low for hint in _N2O_HINTS) and _N2O_WORDS.search(low):
            return True
    return False


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


def _terminal_ileum(resource: JSON) -> str | None:
    """Where the record says the terminal ileum was resected: its body site or its words."""
    for site in objs(resource.get("bodySite")):
        if any(_ILEUM_WORDS.search(t) for t in concept_texts(site)):
            return "terminal ileum (body site)"
    if any(_ILEUM_WORDS.search(t) for t in concept_texts(resource.get("code"))):
        return "ileum (named in the record)"
    for note in objs(resource.get("note")):
        words = note.get("text")
        if isinstance(words, str) and _ILEUM_WORDS.search(words[:500]):
            return "ileum (in the note)"
    return None


def _qualified(resource: JSON, concepts: frozenset[str]) -> tuple[frozenset[str], str | None]:
    """A small-bowel excision counts as irreversible only with the terminal ileum named."""
    if SMALL_BOWEL not in concepts or IRREVERSIBLE in concepts:
        return concepts, None
    where = _terminal_ileum(resource)
    return (concepts | {IRREVERSIBLE}, where) if where else (concepts, None)


def _links(resource: JSON, index: PolicyIndex) -> tuple[frozenset[str], frozenset[str]]:
    """Value sets and Conditions this one is due to or evidenced by."""
    names: set[str] = set()
    refs: set[str] = set()
    for extension in objs(resource.get("extension")):
        if extension.get("url") != _DUE_TO:
            continue
        for key in coding_keys(extension.get("valueCodeableConcept")):
            names |= index.concepts.get(key, frozenset())
        ref = reference(extension.get("valueReference"))
        if ref is not None and "/" in ref:
            refs.add("/".join(ref.split("/")[-2:]))
    for evidence in objs(resource.get("evidence")):
        for concept in objs(evidence.get("code")):
            for key in coding_keys(concept):
                names |= index.concepts.get(key, frozenset())
        for detail in objs(evidence.get("detail")):
            ref = reference(detail)
            if ref is not None and "/" in ref:
                refs.add("/".join(ref.split("/")[-2:]))
    if words_name_b12(list(concept_texts(resource.get("code")))):
        names.add(DEFICIENCY)  # "... due to vitamin B12 deficiency"
    return frozenset(names), frozenset(refs)


def read_condition(
    resource: JSON, ref: str, policy: Policy, index: PolicyIndex, gaps: list[DataGap]
) -> Diagnosis | None:
    concepts, matched = _concepts(resource, index)
    by_text = False
    if mentions_nitrous_oxide(resource.get("code")):
        concepts, by_text = concepts | {N2O}, matched is None
        matched = matched or next(coding_keys(resource.get("code")), None) or "text|nitrous oxide"
    if matched is None:
        return None
    verification = code(resource.get("verificationStatus"))
    if verification in DROP_VERIFICATION:
        return None
    concepts, qualifier = _qualified(resource, concepts)
    display = _display(resource, matched, policy)
    onset_raw = resource.get("onsetDateTime")
    if onset_raw is None:
        onset_raw = _period_edge(resource, "onsetPeriod", "start")
    abatement_raw = resource.get("abatementDateTime")
    if abatement_raw is None:
        abatement_raw = _period_edge(resource, "abatementPeriod", "end")
    if abatement_raw is None:
        abatement_raw = _period_edge(resource, "abatementPeriod", "start")
    linked, linked_refs = _links(resource, index)
    if by_text:
        gaps.append(DataGap(TOPIC, f"{display}: recognised by its words (no recognised code)"))
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
        linked=linked,
        linked_refs=linked_refs,
        qualifier=qualifier,
        matched_by_text=by_text,
    )


def names_a_b12_dose(resource: JSON, index: PolicyIndex) -> bool:
    """A Procedure whose words record a B12 injection ("Vitamin B12 injection", "Injection,
    cyanocobalamin, up to 1000 mcg"): a dose, even without a medication resource."""
    texts = list(concept_texts(resource.get("code")))
    if not words_name_b12(texts):
        return False
    for words in texts:
        parsed = index.medicines.parse(words)
        if parsed is None or not parsed.substances & COBALAMINS:
            continue
        given = route_of_words(words) is Route.INJECTION or _GIVEN_WORDS.search(words)
        return bool(given) and not any(
            i.strength is not None and (i.strength.mg or 0) >= 100 for i in parsed.ingredients
        )
    return False


def read_procedure(
    resource: JSON, ref: str, policy: Policy, index: PolicyIndex, gaps: list[DataGap]
) -> ProcedureRecord | None:
    concepts, matched = _concepts(resource, index)
    by_text = False
    if matched is None:
        if not names_a_b12_dose(resource, index):
            return None
        concepts, by_text = frozenset({B12_DOSE}), True
        matched = next(coding_keys(resource.get("code")), None) or "text|b12 injection"
    status = code(resource.get("status"))
    if status in DROP_PROCEDURE:
        return None
    concepts, qualifier = _qualified(resource, concepts)
    display = _display(resource, matched, policy)
    performed_raw = resource.get("performedDateTime")
    if performed_raw is None:
        performed_raw = _period_edge(resource, "performedPeriod", "start")
    if performed_raw is None:
        performed_raw = _period_edge(resource, "performedPeriod", "end")
    if by_text:
        gaps.append(DataGap("b12", f"{display}: a B12 dose recognised by the procedure's words"))
    return ProcedureRecord(
        ref=ref,
        concepts=concepts,
        display=display,
        code=matched,
        status=status,
        performed=_date(performed_raw, "procedure", display, gaps),
        qualifier=qualifier,
        matched_by_text=by_text,
    )
