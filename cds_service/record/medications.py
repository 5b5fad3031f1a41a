"""MedicationRequest / MedicationStatement / MedicationAdministration -> `MedicationUse`.

Only the agents the rules care about (B12, folic acid, metformin, PPIs) are read; the
drug is recognised by code first (the resource's own concept, or the referenced
Medication's code and ingredients), never when any code is EXCLUDED (cyanide-antidote
hydroxocobalamin, folinates), and by name only as a last resort, which is flagged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from cds_service.policy import Policy
from cds_service.record.dates import fuzzy_date, partial_words
from cds_service.record.index import AGENT_ORDER, PolicyIndex
from cds_service.record.jsonish import (
    JSON,
    code,
    coding_keys,
    concept_texts,
    first_obj,
    integer,
    number,
    obj,
    objs,
    reference,
    text,
)
from cds_service.record.model import Agent, DataGap, FuzzyDate, MedicationUse, Route, Source
from cds_service.record.timing import code_interval, duration_days, repeat_interval, text_interval
from cds_service.record.units import unit_key

SOURCES: Mapping[str, Source] = {s.value: s for s in Source}
KIND = {
    Source.REQUEST: "order",
    Source.STATEMENT: "medication statement",
    Source.ADMINISTRATION: "administration",
}

_INJECTION = re.compile(
    r"intramuscular|injection|injectable|subcutaneous|intravenous|parenteral|\bi\.m\.|"
    r"\bsubcut\b|\bintra-muscular\b|\binj\b",
    re.IGNORECASE,
)
_INJECTION_ABBR = re.compile(r"\b(IM|IV|SC|SUBCUT|INJ)\b")
_NASAL = re.compile(r"nasal|\bnose\b", re.IGNORECASE)
_ORAL = re.compile(
    r"\boral|\bby mouth\b|sublingual|buccal|tablet|capsule|lozenge|chewable|orodispersible|"
    r"\bp\.o\.",
    re.IGNORECASE,
)
_ORAL_ABBR = re.compile(r"\b(PO|SL)\b")
_DOSE_MG = {"mg": 1.0, "milligram": 1.0, "milligrams": 1.0, "g": 1000.0, "gram": 1000.0}
_DOSE_MG |= {"grams": 1000.0, "ug": 0.001, "ugs": 0.001}


# --- which Medication a resource is about --------------------------------------------------


def medication_key(ref: str) -> str | None:
    """The key "Medication/<id>" from a relative, absolute or versioned reference."""
    parts = ref.split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) >= 2 and parts[-2] == "Medication" and parts[-1]:
        return f"Medication/{parts[-1]}"
    return None


def index_medications(resources: Iterable[JSON]) -> dict[str, JSON]:
    """Included Medication resources by "Medication/<id>"."""
    found: dict[str, JSON] = {}
    for resource in resources:
        ident = text(resource.get("id"))
        if resource.get("resourceType") == "Medication" and ident is not None:
            found.setdefault(f"Medication/{ident}", resource)
    return found


def _contained(resource: JSON, local_id: str) -> JSON | None:
    for item in objs(resource.get("contained")):
        if item.get("resourceType") == "Medication" and text(item.get("id")) == local_id:
            return item
    return None


def _medication_parts(resource: JSON, included: Mapping[str, JSON]) -> tuple[Any, JSON | None]:
    """The resource's own medication concept and the Medication it references, if any."""
    concept = resource.get("medicationCodeableConcept")
    ref = reference(resource.get("medicationReference"))
    r5 = obj(resource.get("medication"))  # R5 CodeableReference, tolerated
    if r5 is not None:
        concept = concept if concept is not None else r5.get("concept")
        ref = ref or reference(r5.get("reference"))
    medication: JSON | None = None
    if ref is not None:
        if ref.startswith("#"):
            medication = _contained(resource, ref[1:])
        else:
            key = medication_key(ref)
            medication = included.get(key) if key is not None else None
    return concept, medication


def _concepts(concept: Any, medication: JSON | None) -> list[Any]:
    found = [concept]
    if medication is not None:
        found.append(medication.get("code"))
        for ingredient in objs(medication.get("ingredient")):
            found.append(ingredient.get("itemCodeableConcept"))
    return found


def _identify(
    concepts: list[Any], policy: Policy, index: PolicyIndex
) -> tuple[Agent, bool, list[str]] | None:
    """(agent, matched by text, product codes) or None when not an agent we read."""
    keys = [key for concept in concepts for key in coding_keys(concept)]
    if any(key in index.excluded for key in keys):
        return None
    agents = {index.agent[key] for key in keys if key in index.agent}
    for agent in AGENT_ORDER:
        if agent in agents:
            return agent, False, keys
    words = [label[:300] for concept in concepts for label in concept_texts(concept)]
    if not any(index.any_agent_name.matches(w) for w in words):
        return None  # no agent's name word anywhere: no agent matches by text
    for agent in AGENT_ORDER:
        matcher = policy.text_match.get(agent.value)
        if matcher is not None and any(matcher.matches(w) for w in words):
            return agent, True, keys
    return None


# --- route, dose, interval ----------------------------------------------------------------


def _policy_names(keys: list[str], policy: Policy) -> list[str]:
    """The policy's display for each product code: the dose form is in the name."""
    return [policy.displays[key] for key in keys if key in policy.displays]


def _route_of_text(words: str) -> Route | None:
    if _INJECTION.search(words) or _INJECTION_ABBR.search(words):
        return Route.INJECTION
    if _NASAL.search(words):
        return Route.NASAL
    if _ORAL.search(words) or _ORAL_ABBR.search(words):
        return Route.ORAL
    return None


def _route(
    keys: list[str],
    dosage: JSON | None,
    medication: JSON | None,
    names: list[str],
    index: PolicyIndex,
) -> Route:
    """Product code, then route code, then route, dose-form, product-name, directions text."""
    if any(key in index.b12_injectable for key in keys):
        return Route.INJECTION
    if any(key in index.b12_oral for key in keys):
        return Route.ORAL
    route = dosage.get("route") if dosage is not None else None
    route_keys = list(coding_keys(route))
    if any(key in index.b12_injectable for key in route_keys):
        return Route.INJECTION
    if any(key in index.b12_oral for key in route_keys):
        return Route.ORAL
    candidates: list[str] = list(concept_texts(route))
    if medication is not None:
        candidates.extend(concept_texts(medication.get("form")))
    candidates.extend(names)
    if dosage is not None:
        candidates.extend(w for w in (text(dosage.get("text")),) if w)
    for words in candidates:
        found = _route_of_text(words[:300])
        if found is not None:
            return found
    return Route.UNKNOWN


# Unit doses ("{pill}", tablet...) take the strength from a solid product's name, e.g.
# RxNorm "vitamin B12 0.05 MG Oral Tablet": the CDS Hooks sandbox always sends {pill}.
_UNIT_DOSES = frozenset(
    {
        "{pill}",
        "pill",
        "{tbl}",
        "tbl",
        "tab",
        "tablet",
        "{tablet}",
        "{capsule}",
        "capsule",
        "cap",
        "{lozenge}",
        "lozenge",
        "1",
        "{unit}",
    }
)
_STRENGTH = re.compile(r"(\d+(?:\.\d+)?)\s*(mg|mcg|ug|µg|microgram)s?\b(?!\s*/)", re.IGNORECASE)
_SOLID = re.compile(r"tablet|capsule|lozenge|chewable|pill", re.IGNORECASE)


def _unit_strength_mg(names: Sequence[str]) -> float | None:
    """The strength of one solid unit, when exactly one is named (never for solutions)."""
    for name in names:
        if not _SOLID.search(name):
            continue
        found = {(float(m[1]), m[2].lower()) for m in _STRENGTH.finditer(name)}
        if len(found) == 1:
            amount, unit = found.pop()
            return amount if unit == "mg" else amount / 1000
    return None


def _dose_mg(
    quantity: JSON | None, keys: list[str], index: PolicyIndex, names: Sequence[str] = ()
) -> float | None:
    """One dose in mg; mL only for the 1 mg/mL injectable products; unit doses by strength."""
    if quantity is None:
        return None
    value = number(quantity.get("value"))
    if value is None or value < 0:
        return None
    for unit in (text(quantity.get("code")), text(quantity.get("unit"))):
        if unit is None:
            continue
        key = unit_key(unit)
        if key in _DOSE_MG:
            return round(value * _DOSE_MG[key], 6)
        if key in ("ml", "milliliter", "millilitre") and any(
            k in index.b12_injectable for k in keys
        ):
            return value
        if key in _UNIT_DOSES:
            strength = _unit_strength_mg(names)
            return None if strength is None else round(value * strength, 6)
    return None


def _dose_quantity(dosage: JSON | None, source: Source) -> JSON | None:
    if dosage is None:
        return None
    if source is Source.ADMINISTRATION:
        return obj(dosage.get("dose"))
    rate = first_obj(dosage.get("doseAndRate"))
    found = obj(rate.get("doseQuantity")) if rate is not None else None
    return found if found is not None else obj(dosage.get("doseQuantity"))


def _free_texts(dosage: JSON, timing: JSON | None) -> Iterator[str]:
    for key in ("text", "patientInstruction"):
        found = text(dosage.get(key))
        if found is not None:
            yield found
    timing_code = obj(timing.get("code")) if timing is not None else None
    if timing_code is not None:
        yield from concept_texts(timing_code)


def _interval(dosage: JSON | None) -> tuple[float | None, bool]:
    """(interval in days, guessed from text)."""
    if dosage is None:
        return None, False
    timing = obj(dosage.get("timing"))
    repeat = obj(timing.get("repeat")) if timing is not None else None
    found = repeat_interval(repeat)
    if found is None and timing is not None:
        found = code_interval(timing.get("code"))
    if found is not None:
        return round(found, 4), False
    for words in _free_texts(dosage, timing):
        guessed = text_interval(words)
        if guessed is not None:
            return round(guessed, 4), True
    return None, False


# --- dates -------------------------------------------------------------------------------


def _edge(value: Any, edge: str) -> Any:
    period = obj(value)
    return period.get(edge) if period is not None else None


def _raw_start(resource: JSON, source: Source, repeat: JSON | None) -> Any:
    if source is Source.REQUEST:
        candidates = [resource.get("authoredOn")]
    else:
        candidates = [
            resource.get("effectiveDateTime"),
            _edge(resource.get("effectivePeriod"), "start"),
            resource.get("occurrenceDateTime"),
        ]
        if source is Source.STATEMENT:
            candidates.append(resource.get("dateAsserted"))
    if repeat is not None:
        candidates.append(_edge(repeat.get("boundsPeriod"), "start"))
    return next((c for c in candidates if c is not None), None)


def _raw_end(resource: JSON, repeat: JSON | None) -> Any:
    dispense = obj(resource.get("dispenseRequest"))
    candidates = [
        _edge(resource.get("effectivePeriod"), "end"),
        _edge(dispense.get("validityPeriod"), "end") if dispense is not None else None,
        _edge(repeat.get("boundsPeriod"), "end") if repeat is not None else None,
    ]
    return next((c for c in candidates if c is not None), None)


def _bounds_days(repeat: JSON | None) -> float | None:
    if repeat is None:
        return None
    found = duration_days(repeat.get("boundsDuration"))
    if found is not None:
        return found
    start = fuzzy_date(_edge(repeat.get("boundsPeriod"), "start"))
    end = fuzzy_date(_edge(repeat.get("boundsPeriod"), "end"))
    if start is None or end is None or end.latest < start.earliest:
        return None
    return float((end.latest - start.earliest).days)


# --- the reader ----------------------------------------------------------------------------


def read_medication(
    resource: JSON,
    ref: str,
    source: Source,
    policy: Policy,
    index: PolicyIndex,
    included: Mapping[str, JSON],
    gaps: list[DataGap],
) -> MedicationUse | None:
    """One medication use, or None when it is not about an agent the rules read."""
    concept, medication = _medication_parts(resource, included)
    concepts = _concepts(concept, medication)
    identified = _identify(concepts, policy, index)
    if identified is None:
        return None
    agent, by_text, keys = identified
    names = [label for c in concepts for label in concept_texts(c)]
    matched_key = next((k for k in keys if k in index.agent), None)
    name = (names[0] if names else policy.displays.get(matched_key or "", "")) or (
        f"unnamed {agent.value} product"
    )
    name = name[:200]
    if source is Source.ADMINISTRATION:
        dosage = obj(resource.get("dosage"))
    elif source is Source.REQUEST:
        dosage = first_obj(resource.get("dosageInstruction"))
    else:
        dosage = first_obj(resource.get("dosage"))
    timing = obj(dosage.get("timing")) if dosage is not None else None
    repeat = obj(timing.get("repeat")) if timing is not None else None
    interval, from_text = _interval(dosage)
    kind = KIND[source]
    raw_start = _raw_start(resource, source, repeat)
    start: FuzzyDate | None = fuzzy_date(raw_start)
    if start is None:
        why = "has no date" if raw_start is None else "has a date that is not a valid date"
        gaps.append(DataGap(agent.value, f"{name} {kind} {why}"))
    elif partial_words(start) is not None:
        gaps.append(DataGap(agent.value, f"{name} {kind} dated {start} ({partial_words(start)})"))
    if by_text:
        gaps.append(
            DataGap(agent.value, f"{name}: recognised by its name only (no recognised code)")
        )
    if from_text:
        gaps.append(DataGap(agent.value, f"{name}: dosing interval read from free-text directions"))
    repeat_count = integer(repeat.get("count")) if repeat is not None else None
    return MedicationUse(
        ref=ref,
        source=source,
        agent=agent,
        route=_route(keys, dosage, medication, names + _policy_names(keys, policy), index),
        status=code(resource.get("status")),
        intent=code(resource.get("intent")),
        start=start,
        end=fuzzy_date(_raw_end(resource, repeat)),
        name=name,
        dose_mg=_dose_mg(
            _dose_quantity(dosage, source), keys, index, names + _policy_names(keys, policy)
        ),
        interval_days=interval,
        interval_from_text=from_text,
        repeat_count=repeat_count if repeat_count is not None and repeat_count >= 0 else None,
        bounds_days=_bounds_days(repeat),
        matched_by_text=by_text,
        raw=resource,
    )
