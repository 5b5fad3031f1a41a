"""`b12-cds report [--since DATE] [--json]`: what clinicians did with each rule's cards.

Reads the database named by B12CDS_DATABASE_URL (the same one `serve` writes). The
figures are of cards: issued, accepted, overridden (and by which reason code), and the
acceptance rate, accepted over issued. No patient data is in the store to print.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from cds_service.store import Store
from cds_service.store.stats import RuleFigures, rule_figures

HEADERS = ("rule", "issued", "accepted", "overridden", "acceptance", "override reasons")


def parse_since(text: str) -> datetime:
    """A date (YYYY-MM-DD, midnight UTC) or an ISO date-time; ValueError otherwise."""
    try:
        day = date.fromisoformat(text)
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    except ValueError:
        moment = datetime.fromisoformat(text)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def build_report(store: Store, since: datetime | None) -> dict[str, Any]:
    figures = rule_figures(store, since)
    return {
        "since": since.isoformat() if since else None,
        "rules": [_as_json(f) for f in figures],
        "total": _as_json(_total(figures)),
    }


def render_table(report: dict[str, Any]) -> str:
    rows = [[*_cells(r)] for r in report["rules"]]
    rows.append([*_cells(report["total"])])
    widths = [max(len(str(c)) for c in col) for col in zip(HEADERS, *rows, strict=False)]
    lines = [_line(HEADERS, widths), _line(["-" * w for w in widths], widths)]
    lines += [_line(r, widths) for r in rows[:-1]]
    lines.append(_line(["-" * w for w in widths], widths))
    lines.append(_line(rows[-1], widths))
    since = report["since"] or "the beginning"
    return f"Cards issued since {since}\n" + "\n".join(lines) + "\n"


def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2) + "\n"


def _total(figures: Sequence[RuleFigures]) -> RuleFigures:
    total = RuleFigures("(all rules)")
    for f in figures:
        total.issued += f.issued
        total.accepted += f.accepted
        total.overridden += f.overridden
        for reason, count in f.override_reasons.items():
            total.override_reasons[reason] = total.override_reasons.get(reason, 0) + count
    return total


def _as_json(f: RuleFigures) -> dict[str, Any]:
    rate = f.acceptance_rate
    return {
        "rule_id": f.rule_id,
        "issued": f.issued,
        "accepted": f.accepted,
        "overridden": f.overridden,
        "overridden_by_reason": dict(sorted(f.override_reasons.items())),
        "acceptance_rate": round(rate, 4) if rate is not None else None,
    }


def _cells(row: dict[str, Any]) -> tuple[str, ...]:
    rate = row["acceptance_rate"]
    reasons = ", ".join(f"{k} {v}" for k, v in row["overridden_by_reason"].items())
    return (
        row["rule_id"],
        str(row["issued"]),
        str(row["accepted"]),
        str(row["overridden"]),
        f"{rate:.0%}" if rate is not None else "-",
        reasons or "-",
    )


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    first, *numbers, last = cells
    parts = [first.ljust(widths[0])]
    parts += [c.rjust(w) for c, w in zip(numbers, widths[1:-1], strict=True)]
    parts.append(last)
    return "  ".join(parts).rstrip()
