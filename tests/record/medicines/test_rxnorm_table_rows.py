"""Every row of the shared RxNorm tables, classified from its code and, separately, from its
name alone: ingredients, strengths, dose form, route, and what the rules make of it.

The oracle is the table's own columns (parsed from RxNorm by the terminology review), never
the service's parser: `ingredients` / `strengths` (a pack lists one strength per component,
joined by "|"), `dose_form`, `route` and `target_ingredients` (RxNorm ingredient codes).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import pytest

from cds_service.policy import Policy, load_policy
from cds_service.record import read_record
from cds_service.record.index import index_for
from cds_service.record.medicines.model import Basis, Product, Route, Substance
from cds_service.record.medicines.rxnorm import DATA, RXNORM
from cds_service.record.model import Agent

SHARED = Path("/work/shared/reference")
POLICY = load_policy()
ROUTES = {
    "IM/injection": Route.INJECTION,
    "oral": Route.ORAL,
    "sublingual": Route.SUBLINGUAL,
    "nasal": Route.NASAL,
}
TARGETS = {
    "11248": Substance.CYANOCOBALAMIN,
    "5514": Substance.HYDROXOCOBALAMIN,
    "29421": Substance.METHYLCOBALAMIN,
    "21373": Substance.ADENOSYLCOBALAMIN,
    "4511": Substance.FOLIC_ACID,
    "6809": Substance.METFORMIN,
    "6313": Substance.FOLINIC_ACID,
    "877015": Substance.LEVOFOLINIC_ACID,
    "1592257": Substance.LEVOMEFOLATE,
}
_FLAG = re.compile(r"\s*\[flag:[^\]]*\]")
_STRENGTH = re.compile(r"^(\d+(?:\.\d+)?) ([A-Z]+)(?:/(ML|ACTUAT))?$")
_MG = {"MG": 1.0}


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


PRODUCTS = _rows("rxnorm-products.tsv")
COMPONENTS = _rows("rxnorm-components.tsv")
ROWS = PRODUCTS + COMPONENTS
IDS = [f"{r['tty']}-{r['rxcui']}" for r in ROWS]


@pytest.mark.skipif(not SHARED.exists(), reason="shared reference not present")
@pytest.mark.parametrize("name", ["rxnorm-products.tsv", "rxnorm-components.tsv"])
def test_the_shipped_tables_are_the_shared_reference_verbatim(name: str) -> None:
    assert (DATA / name).read_bytes() == (SHARED / name).read_bytes()


def test_the_tables_hold_what_the_issue_counts() -> None:
    assert len(PRODUCTS) == 372 and len(COMPONENTS) == 83


# --- what the table says -------------------------------------------------------------------


def _strength(text: str) -> tuple[float, str, str | None]:
    match = _STRENGTH.match(text.strip())
    assert match is not None, text
    per = {"ML": "mL", "ACTUAT": "actuation"}.get(match[3] or "")
    return float(match[1]), match[2].lower(), per


def expected_ingredients(row: dict[str, str]) -> dict[str, list[tuple[float, str, str | None]]]:
    """ingredient name -> its strengths, in the table's order."""
    out: dict[str, list[tuple[float, str, str | None]]] = {}
    for name, strengths in zip(
        row["ingredients"].split(";"), row["strengths"].split(";"), strict=True
    ):
        key = _FLAG.sub("", name).strip().lower()
        for each in strengths.split("|"):
            found = _strength(each)
            if found not in out.setdefault(key, []):
                out[key].append(found)
    return out


def expected_substances(row: dict[str, str]) -> set[Substance]:
    """From the RxNorm ingredient codes the row names (products: `target_ingredients`;
    components: the ingredient code their `source` ends with)."""
    if "target_ingredients" in row:
        codes = re.findall(r"\[(\d+)\]", row["target_ingredients"])
    else:
        codes = [row["source"].rsplit("/", 1)[1]]
    return {TARGETS[c] for c in codes}


def got_ingredients(product: Product) -> dict[str, list[tuple[float, str, str | None]]]:
    out: dict[str, list[tuple[float, str, str | None]]] = {}
    for ingredient in product.ingredients:
        strength = ingredient.strength
        assert strength is not None, (product.name, ingredient)
        found = (strength.value, strength.unit, strength.per)
        if found not in out.setdefault(ingredient.name.lower(), []):
            out[ingredient.name.lower()].append(found)
    return out


def _check(row: dict[str, str], product: Product | None) -> None:
    assert product is not None, row["name"]
    assert got_ingredients(product) == expected_ingredients(row)
    # every substance the table names by its RxNorm code, and no other substance we read
    assert product.substances == expected_substances(row)
    form = row["dose_form"] if row["dose_form"] != "?" else None
    assert product.dose_form == form
    if row["route"] != "?":  # '?' (components; one ER suspension): the table does not say
        assert product.route is ROUTES[row["route"]]


# --- from the code, and from the name --------------------------------------------------------


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_every_row_is_classified_from_its_code(row: dict[str, str]) -> None:
    concept = {"coding": [{"system": RXNORM, "code": row["rxcui"]}]}
    product = index_for(POLICY).medicines.classify(concept)
    _check(row, product)
    assert product is not None and product.basis is Basis.CODE


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_every_row_is_classified_from_its_name_alone(row: dict[str, str]) -> None:
    product = index_for(POLICY).medicines.classify({"text": row["name"]})
    _check(row, product)
    assert product is not None and product.code is None  # no code was used
    assert product.basis is Basis.NAME  # RxNorm's grammar was recognised


# --- what the rules see ------------------------------------------------------------------------


def _b12_mg_per_unit(row: dict[str, str]) -> float | None:
    """The table's cobalamin amount per unit (the largest pack component's)."""
    total = 0.0
    seen = False
    for name, strengths in zip(
        row["ingredients"].split(";"), row["strengths"].split(";"), strict=True
    ):
        key = _FLAG.sub("", name).strip().lower()
        if key in ("vitamin b12", "hydroxocobalamin", "mecobalamin", "cobamamide"):
            amounts = [_strength(s) for s in strengths.split("|")]
            total += max(a[0] for a in amounts if a[1] == "mg")
            seen = True
    return total if seen else None


def expected_agents(row: dict[str, str], policy: Policy) -> set[Agent]:
    agents: set[Agent] = set()
    substances = expected_substances(row)
    b12 = _b12_mg_per_unit(row)
    if b12 is not None and (
        policy.threshold("b12_replacement_min_mg") <= b12 < policy.threshold("b12_antidote_min_mg")
    ):
        agents.add(Agent.B12)
    if Substance.FOLIC_ACID in substances:
        agents.add(Agent.FOLIC_ACID)
    if Substance.METFORMIN in substances:
        agents.add(Agent.METFORMIN)
    return agents


def _agents(policy: Policy, medication: dict[str, Any]) -> set[Agent]:
    request = {
        "resourceType": "MedicationRequest",
        "id": "mr1",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "authoredOn": "2026-11-01",
        "medicationCodeableConcept": medication,
    }
    record = read_record("p1", [request], policy)
    return set().union(*(m.agents for m in record.medications))


@pytest.mark.parametrize("row", PRODUCTS, ids=[f"{r['tty']}-{r['rxcui']}" for r in PRODUCTS])
def test_every_product_means_the_same_to_the_rules_by_code_and_by_name(
    row: dict[str, str],
) -> None:
    """B12 therapy only from a replacement strength up to the antidote's; folic acid whenever
    the product contains it; folate analogues never folic acid (the default policy)."""
    wanted = expected_agents(row, POLICY)
    assert _agents(POLICY, {"coding": [{"system": RXNORM, "code": row["rxcui"]}]}) == wanted
    assert _agents(POLICY, {"text": row["name"]}) == wanted


def test_the_counts_the_closing_note_reports() -> None:
    """How many shared products the rules take as each agent (for the issue's closing note)."""
    counts: dict[str, int] = {}
    for row in PRODUCTS:
        for agent in expected_agents(row, POLICY):
            counts[agent.value] = counts.get(agent.value, 0) + 1
    b12_rows = [r for r in PRODUCTS if _b12_mg_per_unit(r) is not None]
    replacement = [r for r in b12_rows if (_b12_mg_per_unit(r) or 0) >= 0.5]
    assert len(b12_rows) == 163 and len(replacement) == 73
    assert counts == {"b12": 89, "folic-acid": 146, "metformin": 132}
