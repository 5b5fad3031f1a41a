"""How much of a substance one administration gives, and how many administrations a day.

A dose is read as a pharmacist reads it: a mass is the substance's own dose (only when the
product holds nothing else), a volume multiplies a per-mL strength, a unit dose ("{pill}",
"tablet", "spray") multiplies a per-unit strength. Nothing stated for a unit-dose product is
one unit, and that is said (`Basis.ASSUMED`); a liquid without a volume stays unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

from cds_service.record.jsonish import JSON, number, obj, text
from cds_service.record.medicines.model import MASS_MG, Basis, Product, Substance
from cds_service.record.units import unit_key

_MASS = MASS_MG | {"microgram": 0.001, "micrograms": 0.001, "milligram": 1.0, "gram": 1000.0}
_VOLUME = frozenset({"ml", "milliliter", "millilitre", "milliliters", "millilitres", "cc"})
_UNIT_DOSE = frozenset(
    {
        "{pill}",
        "pill",
        "{tbl}",
        "tbl",
        "tab",
        "tabs",
        "tablet",
        "tablets",
        "{tablet}",
        "{capsule}",
        "capsule",
        "capsules",
        "cap",
        "caps",
        "{lozenge}",
        "lozenge",
        "1",
        "{unit}",
        "{each}",
        "each",
        "ea",
        "{dose}",
        "dose",
        "{spray}",
        "spray",
        "sprays",
        "{actuation}",
        "actuation",
        "actuat",
        "puff",
        "{puff}",
    }
)
# One ampoule or vial of a per-mL injectable: the 1 mL presentation (hydroxocobalamin and
# cyanocobalamin 1 mg/1 mL), said as an assumption.
_CONTAINER = frozenset({"ampoule", "ampule", "amp", "vial", "{ampoule}", "{vial}", "syringe"})


@dataclass(frozen=True, slots=True)
class Amount:
    low_mg: float
    high_mg: float
    basis: Basis  # DOSAGE (read from the dose) or ASSUMED (one unit, one mL ampoule)


def strength_mg(product: Product, group: frozenset[Substance]) -> tuple[float, str | None] | None:
    """(mg per unit, per) of the group's ingredients together, when every one has a mass
    strength on the same basis (per tablet, per mL, per actuation). For a pack, the largest
    component's amount (a pack's components are taken one at a time)."""
    parts = product.of(group)
    if not parts:
        return None
    amounts: dict[str | None, float] = {}
    for ingredient in parts:
        strength = ingredient.strength
        if strength is None or strength.mg is None:
            return None
        if product.is_pack:
            amounts[strength.per] = max(amounts.get(strength.per, 0.0), strength.mg)
        else:
            amounts[strength.per] = amounts.get(strength.per, 0.0) + strength.mg
    if len(amounts) != 1:
        return None
    per, mg = next(iter(amounts.items()))
    return round(mg, 9), per


def _only(product: Product, group: frozenset[Substance]) -> bool:
    return bool(product.ingredients) and all(i.substance in group for i in product.ingredients)


def _quantity_units(quantity: JSON) -> str | None:
    for field in ("code", "unit"):
        found = text(quantity.get(field))
        if found is not None:
            return unit_key(found)
    return None


def per_administration(
    product: Product, group: frozenset[Substance], quantity: JSON | None, range_: JSON | None
) -> Amount | None:
    """The group's mg in one administration (a doseRange gives low and high)."""
    per_unit = strength_mg(product, group)
    if quantity is None and range_ is not None:
        low = obj(range_.get("low"))
        high = obj(range_.get("high"))
        low_amount = _amount(product, group, per_unit, low) if low is not None else None
        high_amount = _amount(product, group, per_unit, high) if high is not None else None
        if low_amount is None and high_amount is None:
            return None
        low_mg = (low_amount or high_amount).low_mg  # type: ignore[union-attr]
        high_mg = (high_amount or low_amount).high_mg  # type: ignore[union-attr]
        return Amount(low_mg, high_mg, Basis.DOSAGE)
    if quantity is not None:
        return _amount(product, group, per_unit, quantity)
    if per_unit is not None and per_unit[1] in (None, "actuation"):
        return Amount(per_unit[0], per_unit[0], Basis.ASSUMED)  # one tablet, one spray
    return None


def _amount(
    product: Product,
    group: frozenset[Substance],
    per_unit: tuple[float, str | None] | None,
    quantity: JSON,
) -> Amount | None:
    value = number(quantity.get("value"))
    if value is None or value < 0:
        return None
    unit = _quantity_units(quantity)
    if unit is None:
        return None
    if unit in _MASS:
        if not _only(product, group):
            return None  # a mass dose of a combination names its main ingredient, not ours
        mg = round(value * _MASS[unit], 9)
        return Amount(mg, mg, Basis.DOSAGE)
    if per_unit is None:
        return None
    mg_per, per = per_unit
    if unit in _VOLUME and per == "mL":
        return Amount(round(value * mg_per, 9), round(value * mg_per, 9), Basis.DOSAGE)
    if unit in _UNIT_DOSE and per in (None, "actuation"):
        return Amount(round(value * mg_per, 9), round(value * mg_per, 9), Basis.DOSAGE)
    if unit in _CONTAINER and per == "mL":
        return Amount(round(value * mg_per, 9), round(value * mg_per, 9), Basis.ASSUMED)
    return None
