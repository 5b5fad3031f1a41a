"""MedicationRequest / MedicationStatement / MedicationAdministration -> `MedicationUse`.

The medicine is classified into a `Product` (`medicines.classify`: the product code, a
substance code, the Medication it references, its name), then read as a pharmacist reads an
order: the route (the dosage's route, else the dose form's, else the words), the cobalamin
in one dose and in a day, the interval, and what it means to the rules (`agents`). A
cobalamin counts as B12 therapy only at a replacement strength: a multivitamin's micrograms
and gram doses of the cyanide antidote (or any cobalamin given IV) do not. Any product
containing folic acid is folic acid. A code in the policy's EXCLUDED set never counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from cds_service.policy import Policy
from cds_service.record.dates import fuzzy_date, partial_words
from cds_service.record.index import PolicyIndex
from cds_service.record.jsonish import (
    JSON,
    code,
    coding_keys,
    concept_texts,
    first_obj,
    integer,
    obj,
    objs,
    reference,
    text,
)
from cds_service.record.medicines.classify import code_words
from cds_service.record.medicines.dosage import Amount, per_administration, strength_mg
from cds_service.record.medicines.forms import route_of_words
from cds_service.record.medicines.model import (
    COBALAMINS,
    FOLATE_ANALOGUES,
    PROTON_PUMP_INHIBITORS,
    Basis,
    Product,
    Route,
    Substance,
)
from cds_service.record.model import (
    ENTERAL,
    Agent,
    DataGap,
    FuzzyDate,
    MedicationUse,
    Source,
)
from cds_service.record.timing import (
    code_interval,
    duration_days,
    repeat_interval,
    repeat_per_day,
    text_interval,
)

SOURCES: Mapping[str, Source] = {s.value: s for s in Source}
KIND = {
    Source.REQUEST: "order",
    Source.STATEMENT: "medication statement",
    Source.ADMINISTRATION: "administration",
}
_FOLIC = frozenset({Substance.FOLIC_ACID})
_METFORMIN = frozenset({Substance.METFORMIN})
_SUPPLEMENT_FOLIC_MG = 1.0  # 0.4 and 0.8 mg folic acid are supplement strengths


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


def _all_keys(concept: Any, medication: JSON | None) -> Iterator[str]:
    yield from coding_keys(concept)
    if medication is not None:
        yield from coding_keys(medication.get("code"))
        for ingredient in objs(medication.get("ingredient")):
            yield from coding_keys(ingredient.get("itemCodeableConcept"))


# --- route, dose, interval ----------------------------------------------------------------


def _route(dosage: JSON | None, product: Product, index: PolicyIndex) -> tuple[Route, Basis | None]:
    """The dosage's route (code, then words), else the dose form's, else the directions."""
    concept = dosage.get("route") if dosage is not None else None
    for key in coding_keys(concept):
        if key in index.route_im:
            return Route.INJECTION, Basis.DOSAGE
        if key in index.route_oral:
            return Route.ORAL, Basis.DOSAGE
    for words in concept_texts(concept):
        found = route_of_words(words)
        if found is not None:
            return found, Basis.DOSAGE
    if product.route is not Route.UNKNOWN:
        return product.route, product.form_basis
    candidates: list[str | None] = [text(dosage.get("text"))] if dosage is not None else []
    candidates.append(product.name)
    for candidate in candidates:
        found = route_of_words(candidate) if candidate else None
        if found is not None:
            return found, Basis.TEXT
    return Route.UNKNOWN, None


def _dose(dosage: JSON | None, source: Source) -> tuple[JSON | None, JSON | None]:
    """(doseQuantity, doseRange) of the first dose."""
    if dosage is None:
        return None, None
    if source is Source.ADMINISTRATION:
        return obj(dosage.get("dose")), None
    rate = first_obj(dosage.get("doseAndRate"))
    quantity = obj(rate.get("doseQuantity")) if rate is not None else None
    range_ = obj(rate.get("doseRange")) if rate is not None else None
    if quantity is None and range_ is None:
        quantity = obj(dosage.get("doseQuantity"))
    return quantity, range_


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


def _per_day(dosage: JSON | None) -> float | None:
    """Administrations a day (the fewest the timing allows), or None when not stated."""
    if dosage is None:
        return None
    timing = obj(dosage.get("timing"))
    repeat = obj(timing.get("repeat")) if timing is not None else None
    found = repeat_per_day(repeat)
    if found is not None:
        return found
    days = code_interval(timing.get("code")) if timing is not None else None
    if days is None:
        for words in _free_texts(dosage, timing):
            days = text_interval(words)
            if days is not None:
                break
    return 1 / days if days else None


def _b12_amounts(
    product: Product, dosage: JSON | None, source: Source, route: Route
) -> tuple[Amount | None, float | None, Basis | None]:
    """(one dose, mg a day, how sure) of the cobalamin."""
    quantity, range_ = _dose(dosage, source)
    amount = per_administration(product, COBALAMINS, quantity, range_)
    if amount is None or source is Source.ADMINISTRATION:
        return amount, None, amount.basis if amount else None
    per_day = _per_day(dosage)
    basis = amount.basis
    if per_day is None:
        if route not in ENTERAL:
            return amount, None, basis
        per_day, basis = 1.0, Basis.ASSUMED  # an oral B12 order without timing: once daily
    return amount, round(amount.low_mg * per_day, 9), basis


def _b12_counts(
    product: Product, route: Route, amount: Amount | None, policy: Policy
) -> str | None:
    """None when the cobalamin in this product is B12 therapy, else why it is not."""
    per_unit = strength_mg(product, COBALAMINS)
    antidote = policy.threshold("b12_antidote_min_mg")
    if (per_unit is not None and per_unit[0] >= antidote) or (
        amount is not None and amount.high_mg >= antidote
    ):
        return "a gram dose of hydroxocobalamin is the cyanide antidote"
    if route is Route.INTRAVENOUS:
        return "cobalamin given intravenously is not B12 maintenance"
    minimum = policy.threshold("b12_replacement_min_mg")
    if per_unit is not None:
        if per_unit[0] >= minimum or (amount is not None and amount.low_mg >= minimum):
            return None
        return "its B12 content is a supplement's, below a replacement dose"
    if all(i.substance in COBALAMINS for i in product.ingredients):
        return None  # a B12 medicine whose strength is not stated
    return "its B12 content is not stated (a multi-ingredient product)"


def _agents(product: Product, b12_excluded: str | None, policy: Policy) -> frozenset[Agent]:
    agents: set[Agent] = set()
    if product.contains(COBALAMINS) and b12_excluded is None:
        agents.add(Agent.B12)
    folic = product.of(_FOLIC)
    if folic and (
        policy.options.get("folic_acid_include_supplement_strengths", True)
        or not all(
            i.strength is not None
            and i.strength.mg is not None
            and i.strength.mg < _SUPPLEMENT_FOLIC_MG
            for i in folic
        )
    ):
        agents.add(Agent.FOLIC_ACID)
    if policy.options.get("folate_analogues_are_folic_acid") and product.contains(FOLATE_ANALOGUES):
        agents.add(Agent.FOLIC_ACID)
    if product.contains(_METFORMIN):
        agents.add(Agent.METFORMIN)
    if product.contains(PROTON_PUMP_INHIBITORS):
        agents.add(Agent.PPI)
    return frozenset(agents)


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


def _taken(resource: JSON, source: Source, start: FuzzyDate | None) -> FuzzyDate | None:
    """The last day a dose was given or taken, by the resource's own effective dates."""
    if source is Source.ADMINISTRATION:
        return start
    if source is not Source.STATEMENT:
        return None
    for raw in (
        _edge(resource.get("effectivePeriod"), "end"),
        resource.get("effectiveDateTime"),
        _edge(resource.get("effectivePeriod"), "start"),
    ):
        if raw is not None:
            return fuzzy_date(raw)
    return None


def _supply_days(resource: JSON) -> float | None:
    """The supply an order dispenses: expected supply duration x (repeats + 1)."""
    dispense = obj(resource.get("dispenseRequest"))
    if dispense is None:
        return None
    each = duration_days(dispense.get("expectedSupplyDuration"))
    if each is None:
        return None
    repeats = integer(dispense.get("numberOfRepeatsAllowed"))
    fills = 1 + (repeats if repeats is not None and 0 <= repeats <= 100 else 0)
    return each * fills


def _reasons(resource: JSON, index: PolicyIndex) -> frozenset[str]:
    found: set[str] = set()
    for concept in objs(resource.get("reasonCode")):
        for key in coding_keys(concept):
            found |= index.concepts.get(key, frozenset())
    return frozenset(found)


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
    product = index.medicines.classify(concept, medication)
    if product is None:
        return None
    excluded = next((k for k in _all_keys(concept, medication) if k in index.excluded), None)
    if source is Source.ADMINISTRATION:
        dosage = obj(resource.get("dosage"))
    elif source is Source.REQUEST:
        dosage = first_obj(resource.get("dosageInstruction"))
    else:
        dosage = first_obj(resource.get("dosage"))
    route, _route_basis = _route(dosage, product, index)
    amount: Amount | None = None
    daily: float | None = None
    dose_basis: Basis | None = None
    excluded_b12: str | None = None
    if product.contains(COBALAMINS):
        amount, daily, dose_basis = _b12_amounts(product, dosage, source, route)
        excluded_b12 = _b12_counts(product, route, amount, policy)
    agents = _agents(product, excluded_b12, policy)
    name = (product.name or _unnamed(product))[:200]
    kind = KIND[source]
    if excluded_b12 is not None:
        gaps.append(
            DataGap(Agent.B12.value, f"{name}: not counted as B12 therapy ({excluded_b12})")
        )
    if excluded is not None and agents:
        topic = next(a for a in Agent if a in agents).value
        gaps.append(
            DataGap(topic, f"{name}: not counted (the policy excludes {code_words(excluded)})")
        )
        return None
    if not agents:
        return None
    topic = next(a for a in Agent if a in agents).value
    timing = obj(dosage.get("timing")) if dosage is not None else None
    repeat = obj(timing.get("repeat")) if timing is not None else None
    interval, from_text = _interval(dosage)
    raw_start = _raw_start(resource, source, repeat)
    start: FuzzyDate | None = fuzzy_date(raw_start)
    if start is None:
        why = "has no date" if raw_start is None else "has a date that is not a valid date"
        gaps.append(DataGap(topic, f"{name} {kind} {why}"))
    elif partial_words(start) is not None:
        gaps.append(DataGap(topic, f"{name} {kind} dated {start} ({partial_words(start)})"))
    _product_gaps(product, name, agents, route, source, amount, gaps)
    if from_text:
        gaps.append(DataGap(topic, f"{name}: dosing interval read from free-text directions"))
    repeat_count = integer(repeat.get("count")) if repeat is not None else None
    return MedicationUse(
        ref=ref,
        source=source,
        agents=agents,
        product=product,
        route=route,
        status=code(resource.get("status")),
        intent=code(resource.get("intent")),
        start=start,
        end=fuzzy_date(_raw_end(resource, repeat)),
        name=name,
        b12_dose_mg=amount.low_mg if amount is not None and Agent.B12 in agents else None,
        b12_daily_mg=daily if Agent.B12 in agents else None,
        dose_basis=dose_basis if Agent.B12 in agents else None,
        interval_days=interval,
        interval_from_text=from_text,
        repeat_count=repeat_count if repeat_count is not None and repeat_count >= 0 else None,
        bounds_days=_bounds_days(repeat),
        supply_days=_supply_days(resource) if source is Source.REQUEST else None,
        reasons=_reasons(resource, index),
        asserted=fuzzy_date(resource.get("dateAsserted")) if source is Source.STATEMENT else None,
        taken=_taken(resource, source, start),
        raw=resource,
    )


def _unnamed(product: Product) -> str:
    names = [i.name for i in product.ingredients]
    return " / ".join(names) if names else "unnamed product"


def _product_gaps(
    product: Product,
    name: str,
    agents: frozenset[Agent],
    route: Route,
    source: Source,
    amount: Amount | None,
    gaps: list[DataGap],
) -> None:
    """What a clinician should know about how the product was recognised."""
    topic = next(a for a in Agent if a in agents).value
    if product.conflict is not None:
        gaps.append(DataGap(topic, f"{name}: {product.conflict}"))
    if product.code is None:
        gaps.append(DataGap(topic, f"{name}: recognised by its name only (no recognised code)"))
    if Agent.B12 not in agents or source is Source.ADMINISTRATION:
        return
    if strength_mg(product, COBALAMINS) is None and amount is None:
        gaps.append(DataGap(topic, f"{name}: B12 strength not stated"))
    if route is Route.UNKNOWN:
        gaps.append(DataGap(topic, f"{name}: route not stated"))
