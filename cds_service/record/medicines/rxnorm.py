"""The shipped RxNorm tables: every current prescribable product with a cobalamin, folic acid,
a folate analogue or metformin (SCD, SBD, packs), and their ingredient-strength components.

Source: NLM RxNorm, current prescribable content, release of 6 October 2025
(`Readme_Full_Prescribe_10062025`), as tabulated in `data/rxnorm-products.tsv` and
`data/rxnorm-components.tsv` (see `data/README.md`). Read once, on first use.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType

from cds_service.record.medicines.forms import route_of_form
from cds_service.record.medicines.model import (
    Basis,
    Ingredient,
    Product,
    Route,
    Strength,
    Substance,
)
from cds_service.record.medicines.substances import normalise, substances_in

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
RELEASE = "RxNorm current prescribable content, 2025-10-06"
DATA = Path(__file__).parent / "data"

_ROUTES = {
    "IM/injection": Route.INJECTION,
    "oral": Route.ORAL,
    "sublingual": Route.SUBLINGUAL,
    "nasal": Route.NASAL,
}
_FLAG = re.compile(r"\s*\[flag:[^\]]*\]")
_STRENGTH = re.compile(r"^\s*(\d+(?:\.\d+)?)\s+([A-Z]+)(?:/(ML|ACTUAT))?\s*$")


@dataclass(frozen=True, slots=True)
class Tables:
    products: Mapping[str, Product]  # rxcui -> product (SCD, SBD, GPCK, BPCK, SCDC)
    brands: Mapping[str, tuple[Substance, ...]]  # normalised brand -> its substances


def parse_strength(text: str) -> Strength | None:
    """RxNorm's "10 MG/ML", "30 UNT", "0.5 MG/ACTUAT"."""
    match = _STRENGTH.match(text)
    if match is None:
        return None
    per = {"ML": "mL", "ACTUAT": "actuation"}.get(match[3] or "")
    return Strength(float(match[1]), match[2].lower(), per)


def _ingredients(names: str, strengths: str) -> tuple[Ingredient, ...]:
    found: list[Ingredient] = []
    for name, strength in zip(names.split(";"), strengths.split(";"), strict=False):
        clean = _FLAG.sub("", name).strip()
        substance = substances_in(normalise(clean))
        for each in strength.split("|"):  # a pack: one strength per component
            found.append(
                Ingredient(
                    clean, substance[0] if len(substance) == 1 else None, parse_strength(each)
                )
            )
    return tuple(found)


def _product(row: Mapping[str, str]) -> Product:
    form = row["dose_form"] if row["dose_form"] not in ("", "?") else None
    route = _ROUTES.get(row["route"]) or route_of_form(form)
    return Product(
        name=row["name"],
        ingredients=_ingredients(row["ingredients"], row["strengths"]),
        dose_form=form,
        route=route,
        basis=Basis.CODE,
        form_basis=Basis.CODE if form is not None else None,
        code=f"{RXNORM}|{row['rxcui']}",
        brand=row.get("brand") or None,
    )


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@cache
def tables() -> Tables:
    products: dict[str, Product] = {}
    brand_sets: dict[str, set[frozenset[Substance]]] = {}
    for row in _rows("rxnorm-products.tsv") + _rows("rxnorm-components.tsv"):
        product = _product(row)
        products[row["rxcui"]] = product
        if product.brand:
            brand_sets.setdefault(normalise(product.brand), set()).add(product.substances)
    brands = {
        brand: tuple(sorted(next(iter(sets)), key=str))
        for brand, sets in brand_sets.items()
        if len(sets) == 1 and next(iter(sets))
    }
    return Tables(MappingProxyType(products), MappingProxyType(brands))
