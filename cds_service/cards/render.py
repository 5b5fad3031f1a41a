"""Finding -> CDS Hooks 2.0 card JSON.

The card shape lives here; the clinical words live in the rules. Everything a rule quotes from
the record is escaped before it reaches markdown, because EHRs (the CDS Hooks sandbox among
them) render card detail as GFM with raw HTML allowed: a result like "<150 pg/mL" or a free-text
drug name must never become markup. Empty fields are left out, never sent as "", [] or null.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from cds_service.cards.profiles import GENERIC, CardProfile, fit
from cds_service.cards.suggestions import SuggestionWriter
from cds_service.rules.base import Finding

RULE_SYSTEM = "https://b12-cds.example.org/rules"
OVERRIDE_SYSTEM = "https://b12-cds.example.org/override-reasons"
SUMMARY_MAX = 139

RULE_TITLES: Mapping[str, str] = {
    "maintenance-not-started": "B12 maintenance not started after loading",
    "maintenance-injection-overdue": "B12 maintenance injection overdue",
    "b12-monitoring-overdue": "B12 and homocysteine monitoring overdue",
    "homocysteine-above-target": "Homocysteine above target",
    "b12-therapy-stopped": "Lifelong B12 therapy stopped or absent",
    "symptoms-recurring": "Symptoms recurring before the next B12 dose",
    "neurological-review": "New neurological involvement in B12 deficiency",
    "metformin-b12-check": "Long-term metformin without a B12 check",
    "folic-acid-without-b12": "Folic acid without B12 cover",
    "oral-b12-in-malabsorption": "Oral B12 in malabsorption",
    "maintenance-interval-too-long": "B12 maintenance interval longer than guideline",
}


@dataclass(frozen=True, slots=True)
class RenderContext:
    patient_id: str
    hook: str
    today: date
    encounter_id: str | None = None
    user_id: str | None = None
    # raw resources a suggestion may update, by "Type/id" (draft orders, record orders)
    resources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    drafts: frozenset[str] = frozenset()  # which of them are draft orders
    profile: CardProfile = GENERIC  # what the calling client can do with a card


def escape(text: str) -> str:
    """Plain text safe inside GFM-with-HTML: no tags, no entities, no emphasis surprises."""
    escaped = html.escape(text, quote=False)
    for ch in ("\\", "*", "_", "`", "[", "]", "|"):
        escaped = escaped.replace(ch, "\\" + ch)
    return escaped


def _summary(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1].rstrip() + "…"


def _detail(finding: Finding) -> str:
    parts: list[str] = []
    if finding.evidence:
        parts.append("**Evidence**\n\n" + "\n".join(f"- {escape(e)}" for e in finding.evidence))
    if finding.advice:
        parts.append(f"**What to do:** {escape(finding.advice)}")
    if finding.caveats:
        parts.append(
            "**Data incomplete:**\n\n" + "\n".join(f"- {escape(c)}" for c in finding.caveats)
        )
    return "\n\n".join(parts)  # the source is the card's own source link: not repeated


def render_card(finding: Finding, writer: SuggestionWriter) -> dict[str, Any]:
    card: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "summary": _summary(finding.summary),
        "indicator": finding.indicator,
        "detail": _detail(finding),
        "source": {
            "label": finding.guideline.label,
            "url": finding.guideline.url,
            "topic": {
                "system": RULE_SYSTEM,
                "code": finding.rule_id,
                "display": RULE_TITLES.get(finding.rule_id, finding.rule_id),
            },
        },
    }
    suggestions = [s for s in (writer.build(i) for i in finding.suggestions) if s is not None]
    if suggestions:
        if finding.selection == "at-most-one":
            _keep_one_recommended(suggestions)
        card["suggestions"] = suggestions
        card["selectionBehavior"] = finding.selection
    if finding.override_reasons:
        card["overrideReasons"] = [
            {"system": OVERRIDE_SYSTEM, "code": r.code, "display": r.display}
            for r in finding.override_reasons
        ]
    if finding.links:
        card["links"] = [
            {"label": label, "url": url, "type": "absolute"} for label, url in finding.links
        ]
    return card


def _keep_one_recommended(suggestions: list[dict[str, Any]]) -> None:
    seen = False
    for suggestion in suggestions:
        if suggestion.get("isRecommended"):
            if seen:
                del suggestion["isRecommended"]
            seen = True


def render_cards(findings: Sequence[Finding], ctx: RenderContext) -> list[dict[str, Any]]:
    """One card per finding, in the order the rules produced them (most urgent first), each
    fitted to the client's card profile (`cards.profiles`)."""
    writer = SuggestionWriter(
        ctx.patient_id,
        ctx.today,
        ctx.resources,
        ctx.encounter_id,
        ctx.user_id,
        drafts=ctx.drafts,
        update_orders=ctx.profile.update_orders,
    )
    return [fit(render_card(f, writer), ctx.profile) for f in findings]
