"""Codes, names and Medication resources -> one `Product`, in order of trust.

1. A product code in the shipped RxNorm table gives everything (ingredients, strengths, dose
   form, route): `Basis.CODE`. So does a Medication resource's own ingredient list with
   strengths.
2. A substance code (an RxNorm ingredient, an ATC or dm+d code from the policy's `MED_*`
   value sets) gives the substances; strengths and dose form then come from the name when
   the name names the same substances (`Basis.NAME`).
3. A name alone (RxNorm's grammar, older spellings, free text, a brand): `Basis.NAME` when it
   is written in RxNorm's grammar, `Basis.TEXT` otherwise.
When the code and the order's own text name different substances, the code wins and
`Product.conflict` says so in words for the card. Results are cached per classifier (one
per policy) by the codes and words they were made from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from cds_service.record.jsonish import JSON, coding_keys, concept_texts, number, obj, objs, text
from cds_service.record.medicines.forms import FORMS
from cds_service.record.medicines.model import (
    Basis,
    Ingredient,
    Product,
    Route,
    Strength,
    Substance,
)
from cds_service.record.medicines.names import MAX_NAME, ParsedName, parse_name
from cds_service.record.medicines.rxnorm import RXNORM, tables
from cds_service.record.medicines.substances import brand_substances, normalise, substances_in

_CACHE_MAX = 8192
_SYSTEM_WORDS = {
    RXNORM: "RxNorm",
    "http://www.whocc.no/atc": "ATC",
    "http://snomed.info/sct": "SNOMED",
    "https://dmd.nhs.uk": "dm+d",
}


def code_words(key: str) -> str:
    """'RxNorm 309593' for 'http://www.nlm.nih.gov/research/umls/rxnorm|309593'."""
    system, _, value = key.rpartition("|")
    return f"{_SYSTEM_WORDS.get(system, system)} {value}"


class Classifier:
    """One policy's view of medicines: its substance codes, the shipped RxNorm tables."""

    def __init__(self, substance_codes: Mapping[str, tuple[Substance, ...]]) -> None:
        self._substance_codes = substance_codes
        self._tables = tables()
        self._cache: dict[tuple[Any, ...], Product | None] = {}
        self._names: dict[str, ParsedName | None] = {}

    # --- public --------------------------------------------------------------------------

    def classify(self, concept: Any, medication: JSON | None = None) -> Product | None:
        """The product a medication[x] names (`concept`, and the Medication it references)."""
        keys = tuple(coding_keys(concept))
        texts = tuple(t[:MAX_NAME] for t in concept_texts(concept))
        med_key: tuple[Any, ...] = ()
        if medication is not None:
            med_key = _medication_key(medication)
        key = (keys, texts, med_key)
        try:
            return self._cache[key]
        except KeyError:
            pass
        found = self._classify(keys, texts, medication)
        if len(self._cache) < _CACHE_MAX:
            self._cache[key] = found
        return found

    def parse(self, name: str) -> ParsedName | None:
        """`parse_name`, cached, with brand-only ingredients resolved to their substances."""
        try:
            return self._names[name]
        except KeyError:
            pass
        parsed = parse_name(name)
        if parsed is not None and not parsed.substances:
            parsed = self._with_brands(parsed)
        if len(self._names) < _CACHE_MAX:
            self._names[name] = parsed
        return parsed

    # --- steps ---------------------------------------------------------------------------

    def _classify(
        self, keys: Sequence[str], texts: Sequence[str], medication: JSON | None
    ) -> Product | None:
        med_keys: tuple[str, ...] = ()
        med_texts: tuple[str, ...] = ()
        form_text: str | None = None
        structured: tuple[Ingredient, ...] = ()
        if medication is not None:
            med_keys = tuple(coding_keys(medication.get("code")))
            med_texts = tuple(t[:MAX_NAME] for t in concept_texts(medication.get("code")))
            form_text = next(concept_texts(medication.get("form")), None)
            structured = self._structured(medication)
        all_keys = (*keys, *med_keys)
        names = [*texts, *med_texts]
        order_name = names[0] if names else ""
        parsed = self._best_parse(names)

        table = self._table_product(all_keys)
        if table is not None:
            return self._checked(replace(table, name=order_name or table.name), parsed)
        coded = self._substance_ingredients(all_keys)
        if structured:
            coded = structured
        if coded:
            return self._from_codes(coded, order_name, parsed, form_text, all_keys)
        if parsed is not None and parsed.substances:
            return self._from_name(parsed, order_name, form_text)
        return None

    def _table_product(self, keys: Iterable[str]) -> Product | None:
        for key in keys:
            system, _, value = key.rpartition("|")
            if system == RXNORM:
                found = self._tables.products.get(value)
                if found is not None:
                    return found
        return None

    def _substance_ingredients(self, keys: Iterable[str]) -> tuple[Ingredient, ...]:
        found: list[Ingredient] = []
        for key in keys:
            for substance in self._substance_codes.get(key, ()):
                if all(i.substance is not substance for i in found):
                    found.append(Ingredient(substance.value.replace("-", " "), substance))
        return tuple(found)

    def _structured(self, medication: JSON) -> tuple[Ingredient, ...]:
        """Medication.ingredient: item codes (or words) with Ratio strengths."""
        found: list[Ingredient] = []
        for item in objs(medication.get("ingredient")):
            if item.get("isActive") is False:
                continue
            concept = item.get("itemCodeableConcept")
            keys = tuple(coding_keys(concept))
            words = next(concept_texts(concept), None)
            substances = [s for k in keys for s in self._substance_codes.get(k, ())]
            component = self._table_product(keys)  # an SCDC names its strength too
            if component is not None and len(component.ingredients) == 1:
                substances.append(component.ingredients[0].substance)  # type: ignore[arg-type]
            if not substances and words is not None:
                substances.extend(substances_in(normalise(words)))
            strength = _ratio(item.get("strength"))
            if strength is None and component is not None and component.ingredients:
                strength = component.ingredients[0].strength
            name = words or (component.ingredients[0].name if component else None)
            for substance in dict.fromkeys(s for s in substances if s is not None):
                found.append(Ingredient(name or substance.value, substance, strength))
        return tuple(found)

    def _best_parse(self, names: Sequence[str]) -> ParsedName | None:
        first: ParsedName | None = None
        for name in names:
            parsed = self.parse(name)
            if parsed is None:
                continue
            if parsed.substances:
                return parsed
            first = first or parsed
        return first

    def _with_brands(self, parsed: ParsedName) -> ParsedName:
        """'Cyanokit 5 g', 'Neo-Cytamen 1mg/1ml': a name that is a brand, with no substance
        named, stands for the brand's substances (never when any substance is named)."""
        if parsed.substances or len(parsed.ingredients) != 1:
            return parsed
        (ingredient,) = parsed.ingredients
        named = brand_substances(ingredient.name, self._tables.brands)
        if not named and parsed.brand:
            named = brand_substances(parsed.brand, self._tables.brands)
        if not named:
            return parsed
        resolved = (
            (replace(ingredient, substance=named[0]),)
            if len(named) == 1
            else tuple(Ingredient(ingredient.name, s) for s in named)
        )
        return replace(parsed, ingredients=resolved, grammar=False)

    def _from_codes(
        self,
        coded: tuple[Ingredient, ...],
        order_name: str,
        parsed: ParsedName | None,
        form_text: str | None,
        keys: Sequence[str],
    ) -> Product:
        substances = frozenset(i.substance for i in coded if i.substance is not None)
        ingredients = coded
        form, route, form_basis = _form(form_text)
        if parsed is not None and parsed.substances == substances:
            # the name names what the code says: take its strengths and dose form
            named = {i.substance: i.strength for i in parsed.ingredients if i.substance}
            ingredients = tuple(
                replace(i, strength=named.get(i.substance))
                if i.strength is None and i.substance is not None
                else i
                for i in coded
            )
            if form is None and parsed.dose_form is not None:
                form, route, form_basis = parsed.dose_form, parsed.route, Basis.NAME
        code = next((k for k in keys if any(self._substance_codes.get(k, ()))), None)
        product = Product(
            name=order_name or ", ".join(i.name for i in coded),
            ingredients=ingredients,
            dose_form=form,
            route=route,
            basis=Basis.CODE if any(i.strength for i in coded) else Basis.NAME,
            form_basis=form_basis,
            code=code,
        )
        return self._checked(product, parsed)

    def _from_name(self, parsed: ParsedName, order_name: str, form_text: str | None) -> Product:
        form, route, form_basis = _form(form_text)
        if form is None and parsed.dose_form is not None:
            form, route, form_basis = parsed.dose_form, parsed.route, Basis.NAME
        return Product(
            name=order_name,
            ingredients=parsed.ingredients,
            dose_form=form,
            route=route,
            basis=Basis.NAME if parsed.grammar else Basis.TEXT,
            form_basis=form_basis,
            brand=parsed.brand,
        )

    def _checked(self, product: Product, parsed: ParsedName | None) -> Product:
        """Say when the order's own words name other substances, or other strengths of the
        same substances, than its code: the code is used, and the card says so."""
        if parsed is None or not parsed.substances or product.code is None:
            return product
        if parsed.substances != product.substances:
            said = _substance_words(parsed.substances)
            meant = _substance_words(product.substances) or "none of the substances the rules read"
        else:
            said, meant = _strength_words(parsed.ingredients), _strength_words(product.ingredients)
            if not said or not meant or said == meant or not _differ(parsed, product):
                return product
        conflict = (
            f"{code_words(product.code)} is {meant}, but the order's text says {said}: "
            "the code was used"
        )
        return replace(product, conflict=conflict)


def _substance_words(substances: frozenset[Substance]) -> str:
    return ", ".join(sorted(s.value.replace("-", " ") for s in substances))


def _strength_words(ingredients: Sequence[Ingredient]) -> str:
    return ", ".join(
        f"{i.substance.value.replace('-', ' ')} {i.strength}"
        for i in ingredients
        if i.substance is not None and i.strength is not None
    )


def _differ(parsed: ParsedName, product: Product) -> bool:
    """True when a substance has a stated strength in both and the two are not the same."""
    coded: dict[Substance, set[tuple[float | None, str | None]]] = {}
    for i in product.ingredients:
        if i.substance is not None and i.strength is not None:
            coded.setdefault(i.substance, set()).add((i.strength.mg, i.strength.per))
    for i in parsed.ingredients:
        if i.substance in coded and i.strength is not None:
            if (i.strength.mg, i.strength.per) not in coded[i.substance]:
                return True
    return False


def _form(form_text: str | None) -> tuple[str | None, Route, Basis | None]:
    if form_text is None:
        return None, Route.UNKNOWN, None
    found = FORMS.get(normalise(form_text))
    if found is None:
        parsed = parse_name(f"x {form_text}")
        if parsed is not None and parsed.dose_form is not None:
            return parsed.dose_form, parsed.route, Basis.CODE
        return None, Route.UNKNOWN, None
    return found[0], found[1], Basis.CODE


_RATIO_UNITS = {"mg": "mg", "ug": "mcg", "mcg": "mcg", "microgram": "mcg", "g": "g", "[iu]": "unt"}


def _ratio(value: Any) -> Strength | None:
    """A Medication.ingredient.strength Ratio: 1 mg / 1 mL, 1000 ug / 1 {tbl}."""
    ratio = obj(value)
    if ratio is None:
        return None
    numerator, denominator = obj(ratio.get("numerator")), obj(ratio.get("denominator"))
    if numerator is None:
        return None
    amount = number(numerator.get("value"))
    unit = text(numerator.get("code")) or text(numerator.get("unit"))
    if amount is None or unit is None or amount < 0:
        return None
    unit = _RATIO_UNITS.get(unit.lower(), unit.lower())
    per_value = (number(denominator.get("value")) if denominator is not None else None) or 1.0
    if per_value <= 0:
        return None
    per_unit = ""
    if denominator is not None:
        per_unit = (text(denominator.get("code")) or text(denominator.get("unit")) or "").lower()
    per: str | None = None
    if per_unit in ("ml", "milliliter", "millilitre"):
        per = "mL"
    elif per_unit in ("{actuat}", "actuat", "{actuation}", "actuation", "{spray}", "spray"):
        per = "actuation"
    return Strength(round(amount / per_value, 9), unit, per)


def _medication_key(medication: JSON) -> tuple[Any, ...]:
    """What a Medication contributes to a classification, hashable, for the cache."""
    parts: list[Any] = [
        tuple(coding_keys(medication.get("code"))),
        tuple(t[:MAX_NAME] for t in concept_texts(medication.get("code"))),
        next(concept_texts(medication.get("form")), None),
    ]
    for item in objs(medication.get("ingredient")):
        strength = _ratio(item.get("strength"))
        parts.append(
            (
                tuple(coding_keys(item.get("itemCodeableConcept"))),
                next(concept_texts(item.get("itemCodeableConcept")), None),
                strength,
                item.get("isActive") is False,
            )
        )
    return tuple(parts)
