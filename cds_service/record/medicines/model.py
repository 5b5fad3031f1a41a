"""What a medicine is, as a pharmacist reads it: substances with strengths, a dose form, a route.

Plain, immutable data with no FHIR and no policy: `Product` says what the order names
(whatever it is used for), and how sure the service is of each part (`Basis`). How much of
it the patient gets, and whether that is B12 therapy, is the reader's and the rules' work.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Substance(StrEnum):
    """The substances the rules tell apart (salts and hydrates are the same substance)."""

    CYANOCOBALAMIN = "cyanocobalamin"  # RxNorm "vitamin B12"
    HYDROXOCOBALAMIN = "hydroxocobalamin"
    METHYLCOBALAMIN = "methylcobalamin"  # mecobalamin
    ADENOSYLCOBALAMIN = "adenosylcobalamin"  # cobamamide
    FOLIC_ACID = "folic-acid"
    FOLINIC_ACID = "folinic-acid"  # leucovorin, calcium folinate
    LEVOFOLINIC_ACID = "levofolinic-acid"  # levoleucovorin, calcium levofolinate
    LEVOMEFOLATE = "levomefolate"  # L-methylfolate, 5-MTHF
    METFORMIN = "metformin"
    OMEPRAZOLE = "omeprazole"
    ESOMEPRAZOLE = "esomeprazole"
    LANSOPRAZOLE = "lansoprazole"
    DEXLANSOPRAZOLE = "dexlansoprazole"
    PANTOPRAZOLE = "pantoprazole"
    RABEPRAZOLE = "rabeprazole"


COBALAMINS = frozenset(
    {
        Substance.CYANOCOBALAMIN,
        Substance.HYDROXOCOBALAMIN,
        Substance.METHYLCOBALAMIN,
        Substance.ADENOSYLCOBALAMIN,
    }
)
# Reduced folates: they are not folic acid (different substances, different orders), though
# a site may choose to treat them as folic acid for the masking risk (policy option).
FOLATE_ANALOGUES = frozenset(
    {Substance.FOLINIC_ACID, Substance.LEVOFOLINIC_ACID, Substance.LEVOMEFOLATE}
)
PROTON_PUMP_INHIBITORS = frozenset(
    {
        Substance.OMEPRAZOLE,
        Substance.ESOMEPRAZOLE,
        Substance.LANSOPRAZOLE,
        Substance.DEXLANSOPRAZOLE,
        Substance.PANTOPRAZOLE,
        Substance.RABEPRAZOLE,
    }
)


class Route(StrEnum):
    INJECTION = "injection"  # intramuscular or deep subcutaneous (RxNorm "IM/injection")
    INTRAVENOUS = "intravenous"  # never B12 maintenance (cyanide antidote, or a misuse)
    ORAL = "oral"  # oral, chewable, lozenge, buccal
    SUBLINGUAL = "sublingual"
    NASAL = "nasal"
    UNKNOWN = "unknown"


# Routes that depend on absorption from the gut: no use in malabsorption.
ENTERAL = frozenset({Route.ORAL, Route.SUBLINGUAL})
PARENTERAL = frozenset({Route.INJECTION, Route.INTRAVENOUS})


class Basis(StrEnum):
    """Where a fact about a product came from, most trusted first."""

    CODE = "code"  # a product code from the shipped RxNorm table, or a structured Medication
    NAME = "name"  # parsed from a name written in RxNorm's grammar, or a substance code
    TEXT = "text"  # free text read by synonyms (no recognised code)
    DOSAGE = "dosage"  # the order's own dosage instruction (route, dose)
    ASSUMED = "assumed"  # not stated: a stated default (one tablet per dose...)


MASS_MG = {"mg": 1.0, "mcg": 0.001, "ug": 0.001, "g": 1000.0}


@dataclass(frozen=True, slots=True)
class Strength:
    """An amount per unit of the product: 1 MG (per tablet), 1 MG/ML, 0.5 MG/ACTUAT.

    `per` is None for a unit-dose form (tablet, capsule, lozenge), "mL" for a liquid,
    "actuation" for a spray. `unit` is lower case: mg, mcg, g, unt (units), or as written.
    """

    value: float
    unit: str
    per: str | None = None

    @property
    def mg(self) -> float | None:
        """The amount in mg, when the unit is a mass."""
        factor = MASS_MG.get(self.unit)
        return None if factor is None else round(self.value * factor, 9)

    def __str__(self) -> str:
        per = {"mL": "/ML", "actuation": "/ACTUAT"}.get(self.per or "", "")
        return f"{self.value:g} {self.unit.upper()}{per}"


@dataclass(frozen=True, slots=True)
class Ingredient:
    """One active ingredient as named (`name`), the substance it is (None: not one the
    rules tell apart, e.g. ascorbic acid), and its strength when known."""

    name: str
    substance: Substance | None
    strength: Strength | None = None


@dataclass(frozen=True, slots=True)
class Product:
    """A medicine as ordered: `name` as the order names it, for cards.

    `basis` says how the ingredients were found, `form_basis` the dose form (and so the
    product's route). A pack lists every component's ingredients in order (an ingredient
    in two components appears twice, with each strength). `conflict` is set when the code
    and the order's own text name different substances; the code was used.
    """

    name: str
    ingredients: tuple[Ingredient, ...]
    dose_form: str | None = None  # RxNorm's words where known: "Oral Tablet", "Pack"
    route: Route = Route.UNKNOWN
    basis: Basis = Basis.TEXT
    form_basis: Basis | None = None
    code: str | None = None  # "system|code" that identified it
    brand: str | None = None
    conflict: str | None = None

    @property
    def substances(self) -> frozenset[Substance]:
        return frozenset(i.substance for i in self.ingredients if i.substance is not None)

    def contains(self, group: frozenset[Substance]) -> bool:
        return any(i.substance in group for i in self.ingredients)

    def of(self, group: frozenset[Substance]) -> tuple[Ingredient, ...]:
        return tuple(i for i in self.ingredients if i.substance in group)

    @property
    def single_ingredient(self) -> bool:
        return len({i.name.lower() for i in self.ingredients}) == 1

    @property
    def is_pack(self) -> bool:
        return self.dose_form == "Pack"


UNKNOWN_PRODUCT = Product(name="", ingredients=())
