"""Medicine names -> ingredients, strengths, dose form and route.

RxNorm writes normalised names in a grammar: `[24 HR ]ingredient strength / ingredient
strength dose form [Brand]`, packs as `{N (name) / M (name) } Pack [Brand]`, components as
`ingredient strength`. Older names and free text differ ("Vitamin B 12 1 MG Oral Tablet
[B-12 Resin]", "Hydroxocobalamin 1mg/1ml solution for injection ampoules", "B12 1000mcg
tabs", "ferrous sulfate with folic acid"), so the parser reads both: it takes a brand
suffix, a pack, a release or volume prefix, the dose-form words, then splits the rest into
ingredients, each a name and an optional strength. It never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cds_service.record.medicines.forms import find_form
from cds_service.record.medicines.model import Ingredient, Route, Strength, Substance
from cds_service.record.medicines.substances import normalise, substances_in

MAX_NAME = 1000  # the longest RxNorm names (multivitamins, packs) are about 600 characters

_BRAND = re.compile(r"\s*\[([^\[\]]{1,80})\]\s*$")
_PACK = re.compile(r"^\{(.+)\}\s*pack$")
_PACK_PART = re.compile(r"^(\d+)\s*\((.+)\)$")
# "24 HR ", "Modified 24 HR ", "Osmotic 24 HR ", "12 HR "; a volume "10 ML " before an injectable
_PREFIX = re.compile(r"^(?:(?:modified|osmotic)\s+)?\d+\s*hr\s+|^\d+(?:\.\d+)?\s*ml\s+(?=\D)")
_UNIT = r"mcg|ug|micrograms?|mg|milligrams?|g|grams?|gm|unt|units?|iu|meq|%"
_PER = r"ml|millilit(?:re|er)s?|actuat(?:ion)?s?|sprays?|doses?|l"
_STRENGTH = re.compile(
    rf"(?<![a-z0-9.\-])(\d{{1,3}}(?:,\d{{3}})+|\d+(?:\.\d+)?)\s*({_UNIT})(?![a-z])"
    rf"(?:\s*(?:/|per)\s*(\d+(?:\.\d+)?)?\s*({_PER})(?![a-z]))?"
)
_UNIT_WORDS = {
    "microgram": "mcg",
    "micrograms": "mcg",
    "ug": "mcg",
    "milligram": "mg",
    "milligrams": "mg",
    "gram": "g",
    "grams": "g",
    "gm": "g",
    "unit": "unt",
    "units": "unt",
    "iu": "unt",
}
# Ingredient separators: RxNorm's " / ", free text's "+", "&", " and ", " with ", ", "
_SPLIT = re.compile(r"\s+/\s+|\s*\+\s*|\s*&\s*|\s+and\s+|\s+with\s+|\s+plus\s+|\s*,\s+|\s*;\s*")
# A "/" between two words ("B12/folic acid"), not inside a strength ("1mg/ml")
_WORD_SLASH = re.compile(rf"\s*/\s*(?!(?:{_PER})(?![a-z]))(?=[a-z])")
# Words that are not part of an ingredient's name
_NOISE = re.compile(
    r"\b(?:daily|once|twice|weekly|monthly|every|each|per|dose|doses|strength|"
    r"solution|for|oral|by|mouth|im|iv|sc|po|sl|otc|generic|supplement|x|"
    r"intramuscular|subcutaneous|intravenous|prefilled|syringe|pen|kit|"
    r"\d+\s*(?:ml|days?|weeks?|months?))\b"
)
_EMPTY_BRACKETS = re.compile(r"\(\s*\)")


@dataclass(frozen=True, slots=True)
class ParsedName:
    """What a name says. `grammar` is True when every ingredient has a strength and a
    known dose form follows them, as in RxNorm's normalised names."""

    ingredients: tuple[Ingredient, ...]
    dose_form: str | None
    route: Route
    brand: str | None
    grammar: bool

    @property
    def substances(self) -> frozenset[Substance]:
        return frozenset(i.substance for i in self.ingredients if i.substance is not None)


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def strength_of(match: re.Match[str]) -> Strength:
    value, unit, per_value, per_unit = match.groups()
    amount = _number(value)
    unit = _UNIT_WORDS.get(unit, unit)
    per: str | None = None
    if per_unit is not None:
        if per_unit.startswith(("actuat", "spray", "dose")):
            per = "actuation"
        else:
            per = "mL"
            divisor = float(per_value) if per_value else 1.0
            if per_unit == "l":
                divisor *= 1000
            if divisor > 0:
                amount = amount / divisor
    return Strength(round(amount, 9), unit, per)


def _clean_name(text: str) -> str:
    """The ingredient's name as written, without dosing and route words ("(USP)" stays)."""
    words = _EMPTY_BRACKETS.sub(" ", _NOISE.sub(" ", text))
    return " ".join(words.split()).strip(" -.,:")


def _ingredient(piece: str) -> list[Ingredient]:
    """One ingredient (or several, when free text names more than one without a separator)."""
    strengths = list(_STRENGTH.finditer(piece))
    match = strengths[-1] if strengths else None  # the last strength belongs to this one
    strength = strength_of(match) if match is not None else None
    name_part = piece[: match.start()] + " " + piece[match.end() :] if match else piece
    if match is not None and not piece[: match.start()].strip():
        name_part = piece[match.end() :]  # "1000 mcg cyanocobalamin"
    name = _clean_name(name_part)
    if not name:
        return []
    found = substances_in(name)
    if len(found) <= 1:
        return [Ingredient(name, found[0] if found else None, strength)]
    # "b12 folic acid combo": several substances, no separator, no way to place the strength
    return [Ingredient(name, substance, None) for substance in found]


def _split(body: str) -> list[str]:
    body = _WORD_SLASH.sub(" / ", body)
    return [p for p in (s.strip() for s in _SPLIT.split(body)) if p]


def _pack(inner: str) -> list[tuple[int, str]]:
    """The "N (name)" parts of a pack, split on " / " outside parentheses."""
    parts: list[str] = []
    depth, start = 0, 0
    for i, ch in enumerate(inner):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "/" and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
    parts.append(inner[start:])
    found: list[tuple[int, str]] = []
    for part in parts:
        match = _PACK_PART.match(part.strip())
        if match is not None:
            found.append((int(match[1]), match[2]))
    return found


def parse_name(text: str) -> ParsedName | None:
    """Read a medicine name; None when nothing in it looks like an ingredient."""
    if not isinstance(text, str):
        return None
    low = normalise(text[:MAX_NAME])
    if not low:
        return None
    brand = None
    found_brand = _BRAND.search(low)
    if found_brand is not None:
        low = low[: found_brand.start()].strip()
        original = _BRAND.search(text[:MAX_NAME].strip())
        brand = (original[1] if original is not None else found_brand[1]).strip()
    pack = _PACK.match(low)
    if pack is not None:
        return _parse_pack(pack[1], brand)
    low = _PREFIX.sub("", low, count=1)
    form = find_form(low)
    dose_form, route = (form[0], form[1]) if form is not None else (None, Route.UNKNOWN)
    if form is not None:
        body = (low[: form[2]] + " " + low[form[3] :]).strip()
        tail_is_form = not low[form[3] :].strip()
    else:
        body, tail_is_form = low, False
    ingredients: list[Ingredient] = []
    for piece in _split(body):
        ingredients.extend(_ingredient(piece))
    if not ingredients:
        return None
    # RxNorm's product grammar ends in a dose form; a component's ("vitamin B12 1 MG") has none
    grammar = (tail_is_form or form is None) and all(i.strength is not None for i in ingredients)
    return ParsedName(tuple(ingredients), dose_form, route, brand, grammar)


def _parse_pack(inner: str, brand: str | None) -> ParsedName | None:
    ingredients: list[Ingredient] = []
    routes: set[Route] = set()
    for _count, name in _pack(inner):
        part = parse_name(name)
        if part is None:
            continue
        ingredients.extend(part.ingredients)
        routes.add(part.route)
    if not ingredients:
        return None
    known = routes - {Route.UNKNOWN}
    route = known.pop() if len(known) == 1 else Route.UNKNOWN
    return ParsedName(tuple(ingredients), "Pack", route, brand, grammar=True)
