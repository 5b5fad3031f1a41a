"""Dose forms and routes: RxNorm's dose-form words, the English ones EHRs write, route words.

A product's route follows from its dose form (RxNorm's own route for "Injection" is
"IM/injection"); an order's route is read from its dosage route, which wins. Words are
matched on normalised (lower-case) text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from cds_service.record.medicines.model import Route

# normalised words -> (RxNorm dose form, route). Longest match wins.
FORMS: Mapping[str, tuple[str, Route]] = {
    # RxNorm dose forms (every one in the shipped table, and common others)
    "injectable solution": ("Injectable Solution", Route.INJECTION),
    "injectable suspension": ("Injectable Suspension", Route.INJECTION),
    "injection": ("Injection", Route.INJECTION),
    "prefilled syringe": ("Prefilled Syringe", Route.INJECTION),
    "auto-injector": ("Auto-Injector", Route.INJECTION),
    "oral tablet": ("Oral Tablet", Route.ORAL),
    "oral capsule": ("Oral Capsule", Route.ORAL),
    "chewable tablet": ("Chewable Tablet", Route.ORAL),
    "disintegrating oral tablet": ("Disintegrating Oral Tablet", Route.ORAL),
    "extended release oral tablet": ("Extended Release Oral Tablet", Route.ORAL),
    "extended release oral capsule": ("Extended Release Oral Capsule", Route.ORAL),
    "delayed release oral tablet": ("Delayed Release Oral Tablet", Route.ORAL),
    "delayed release oral capsule": ("Delayed Release Oral Capsule", Route.ORAL),
    "extended release suspension": ("Extended Release Suspension", Route.ORAL),
    "oral lozenge": ("Oral Lozenge", Route.ORAL),
    "oral solution": ("Oral Solution", Route.ORAL),
    "oral suspension": ("Oral Suspension", Route.ORAL),
    "oral powder": ("Oral Powder", Route.ORAL),
    "powder for oral solution": ("Powder for Oral Solution", Route.ORAL),
    "powder for oral suspension": ("Powder for Oral Suspension", Route.ORAL),
    "effervescent oral tablet": ("Effervescent Oral Tablet", Route.ORAL),
    "buccal tablet": ("Buccal Tablet", Route.ORAL),
    "oral spray": ("Oral Spray", Route.ORAL),
    "oral film": ("Oral Film", Route.ORAL),
    "oral gel": ("Oral Gel", Route.ORAL),
    "sublingual tablet": ("Sublingual Tablet", Route.SUBLINGUAL),
    "sublingual film": ("Sublingual Film", Route.SUBLINGUAL),
    "nasal spray": ("Nasal Spray", Route.NASAL),
    "nasal solution": ("Nasal Solution", Route.NASAL),
    "nasal gel": ("Nasal Gel", Route.NASAL),
    "pack": ("Pack", Route.UNKNOWN),  # the route is the components'
    # English / dm+d wording
    "solution for injection ampoules": ("Injectable Solution", Route.INJECTION),
    "solution for injection vials": ("Injectable Solution", Route.INJECTION),
    "solution for injection": ("Injectable Solution", Route.INJECTION),
    "injection solution": ("Injectable Solution", Route.INJECTION),
    "ampoules": ("Injectable Solution", Route.INJECTION),
    "ampoule": ("Injectable Solution", Route.INJECTION),
    "ampule": ("Injectable Solution", Route.INJECTION),
    "amp": ("Injectable Solution", Route.INJECTION),
    "vials": ("Injectable Solution", Route.INJECTION),
    "vial": ("Injectable Solution", Route.INJECTION),
    "inj": ("Injection", Route.INJECTION),
    "injectable": ("Injection", Route.INJECTION),
    "shot": ("Injection", Route.INJECTION),
    "tablets": ("Oral Tablet", Route.ORAL),
    "tablet": ("Oral Tablet", Route.ORAL),
    "tabs": ("Oral Tablet", Route.ORAL),
    "tab": ("Oral Tablet", Route.ORAL),
    "caplets": ("Oral Tablet", Route.ORAL),
    "caplet": ("Oral Tablet", Route.ORAL),
    "capsules": ("Oral Capsule", Route.ORAL),
    "capsule": ("Oral Capsule", Route.ORAL),
    "caps": ("Oral Capsule", Route.ORAL),
    "cap": ("Oral Capsule", Route.ORAL),
    "softgels": ("Oral Capsule", Route.ORAL),
    "softgel": ("Oral Capsule", Route.ORAL),
    "chewable tablets": ("Chewable Tablet", Route.ORAL),
    "chewable": ("Chewable Tablet", Route.ORAL),
    "gummies": ("Chewable Tablet", Route.ORAL),
    "gummy": ("Chewable Tablet", Route.ORAL),
    "orodispersible tablets": ("Disintegrating Oral Tablet", Route.ORAL),
    "orodispersible tablet": ("Disintegrating Oral Tablet", Route.ORAL),
    "modified-release tablets": ("Extended Release Oral Tablet", Route.ORAL),
    "modified-release tablet": ("Extended Release Oral Tablet", Route.ORAL),
    "prolonged-release tablets": ("Extended Release Oral Tablet", Route.ORAL),
    "gastro-resistant tablets": ("Delayed Release Oral Tablet", Route.ORAL),
    "gastro-resistant capsules": ("Delayed Release Oral Capsule", Route.ORAL),
    "lozenges": ("Oral Lozenge", Route.ORAL),
    "lozenge": ("Oral Lozenge", Route.ORAL),
    "oral liquid": ("Oral Solution", Route.ORAL),
    "liquid": ("Oral Solution", Route.ORAL),
    "syrup": ("Oral Solution", Route.ORAL),
    "oral drops": ("Oral Solution", Route.ORAL),
    "drops": ("Oral Solution", Route.ORAL),
    "sublingual tablets": ("Sublingual Tablet", Route.SUBLINGUAL),
    "sublingual": ("Sublingual Tablet", Route.SUBLINGUAL),
    "nasal": ("Nasal Spray", Route.NASAL),
    "spray": ("Nasal Spray", Route.NASAL),
}

_FORM_WORDS = re.compile(
    r"(?<![a-z0-9\-])(?:"
    + "|".join(re.escape(w) for w in sorted(FORMS, key=len, reverse=True))
    + r")(?![a-z0-9])"
)

# Route words in directions and route concepts, strongest first. Abbreviations only in
# upper case in the original text (so "im" inside a word or "sc" in prose cannot match).
_ROUTE_WORDS: tuple[tuple[re.Pattern[str], Route], ...] = (
    (re.compile(r"intra-?venous|\bi\.v\.|\binfusion\b"), Route.INTRAVENOUS),
    (
        re.compile(
            r"intra-?muscular|\bi\.m\.|subcutaneous|\bsubcut\b|\binjection\b|\binjectable\b|"
            r"parenteral|\binj\b"
        ),
        Route.INJECTION,
    ),
    (re.compile(r"sublingual|under the tongue"), Route.SUBLINGUAL),
    (re.compile(r"intra-?nasal|\bnasal\b|\bnostril"), Route.NASAL),
    (
        re.compile(r"\boral\b|\borally\b|by mouth|\bp\.o\.|\bbuccal\b|\btablets?\b|\bcapsules?\b"),
        Route.ORAL,
    ),
)
_ROUTE_ABBREVIATIONS: tuple[tuple[re.Pattern[str], Route], ...] = (
    (re.compile(r"\bIV\b"), Route.INTRAVENOUS),
    (re.compile(r"\b(?:IM|SC|SQ|SUBCUT|INJ)\b"), Route.INJECTION),
    (re.compile(r"\bSL\b"), Route.SUBLINGUAL),
    (re.compile(r"\b(?:PO|NG)\b"), Route.ORAL),
)


def find_form(low: str) -> tuple[str, Route, int, int] | None:
    """(dose form, route, start, end) of the last dose-form words in normalised text."""
    found = None
    for match in _FORM_WORDS.finditer(low):
        before = low[: match.start()].rstrip()
        if before.endswith("/") or before.endswith(" per"):
            continue  # "500 mcg/spray": a strength's denominator, not the dose form
        found = match
    if found is None:
        return None
    form, route = FORMS[found.group(0)]
    return form, route, found.start(), found.end()


def route_of_form(form: str | None) -> Route:
    if form is None:
        return Route.UNKNOWN
    found = FORMS.get(form.lower())
    return found[1] if found is not None else Route.UNKNOWN


def route_of_words(text: str) -> Route | None:
    """A route named in free text ("1 mg IM every 3 months", "Intramuscular route")."""
    head = text[:300]
    for pattern, route in _ROUTE_ABBREVIATIONS:
        if pattern.search(head):
            return route
    low = head.lower()
    for pattern, route in _ROUTE_WORDS:
        if pattern.search(low):
            return route
    return None
