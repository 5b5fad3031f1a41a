"""The preview page's trend chart: B12 and homocysteine over time, with targets and injections.

Series come from the same tolerant reader the rules use (`read_record`), so the chart shows
exactly the results a card reasons about, already in one unit per analyte. The SVG is built
here, server-side, from numbers and escaped text only: the page inserts it as is, with no
chart library and no network. Presentation attributes (not `style=`) keep it within the
page's Content-Security-Policy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from markupsafe import escape

from cds_service.policy import Policy
from cds_service.record import read_record
from cds_service.record.model import Analyte, LabResult
from cds_service.rules.facts.therapy import injections as b12_injections

WIDTH = 720
PANEL_HEIGHT = 150
LEFT, RIGHT, TOP, GAP, BOTTOM = 64, 16, 28, 40, 44
B12_COLOUR = "#1f5fa8"
HCY_COLOUR = "#8a3ab9"
TARGET_COLOUR = "#2e7d32"
LOW_COLOUR = "#c62828"
INJECTION_COLOUR = "#c25400"


@dataclass(frozen=True, slots=True)
class Point:
    day: date
    value: float
    comparator: str | None
    label: str  # date as recorded and value as reported, for the tooltip

    def as_json(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "value": round(self.value, 2),
            "comparator": self.comparator,
            "label": self.label,
        }


@dataclass(frozen=True, slots=True)
class Trend:
    patient_id: str
    today: date
    b12: tuple[Point, ...]  # oldest first, pmol/L
    homocysteine: tuple[Point, ...]  # oldest first, umol/L
    injections: tuple[date, ...]  # oldest first
    b12_adequate: float  # pmol/L
    b12_deficient: float  # pmol/L
    homocysteine_target: float  # umol/L

    @property
    def empty(self) -> bool:
        return not (self.b12 or self.homocysteine or self.injections)

    def as_json(self) -> dict[str, Any]:
        return {
            "patientId": self.patient_id,
            "today": self.today.isoformat(),
            "units": {"b12": "pmol/L", "homocysteine": "umol/L"},
            "targets": {"b12": self.b12_adequate, "homocysteine": self.homocysteine_target},
            "b12Deficient": self.b12_deficient,
            "b12": [p.as_json() for p in self.b12],
            "homocysteine": [p.as_json() for p in self.homocysteine],
            "injections": [d.isoformat() for d in self.injections],
        }


def resources_of(body: Mapping[str, Any]) -> list[Any]:
    """Everything prefetched in a CDS Hooks request (the reader opens Bundles itself)."""
    prefetch = body.get("prefetch")
    return [v for v in prefetch.values() if v is not None] if isinstance(prefetch, dict) else []


def build_trend(patient_id: str, resources: Sequence[Any], policy: Policy, today: date) -> Trend:
    record = read_record(patient_id, resources, policy)
    injections = sorted({d.when.earliest for d in b12_injections(record)})
    return Trend(
        patient_id=patient_id,
        today=today,
        b12=_points(record.results(Analyte.B12)),
        homocysteine=_points(record.results(Analyte.HOMOCYSTEINE)),
        injections=tuple(injections),
        b12_adequate=policy.threshold("b12_adequate_pmol_l"),
        b12_deficient=policy.threshold("b12_deficient_pmol_l"),
        homocysteine_target=policy.threshold("homocysteine_target_umol_l"),
    )


def _points(results: tuple[LabResult, ...]) -> tuple[Point, ...]:
    points = [
        Point(r.when.earliest, r.value, r.comparator, f"{r.when.text}: {r.shown}") for r in results
    ]
    return tuple(sorted(points, key=lambda p: p.day))


# --- SVG -----------------------------------------------------------------------------------


def render_svg(trend: Trend) -> str:
    """Two panels sharing a time axis: B12 on top, homocysteine below."""
    days = [p.day for p in (*trend.b12, *trend.homocysteine)] + list(trend.injections)
    start = min(days)
    end = max([*days, trend.today])
    if (end - start).days < 30:
        start = date.fromordinal(end.toordinal() - 30)
    pad = max(3, (end - start).days // 25)  # keep edge points off the frame
    start = date.fromordinal(start.toordinal() - pad)
    end = date.fromordinal(end.toordinal() + pad)
    span = (end - start).days
    plot_w = WIDTH - LEFT - RIGHT
    height = TOP + 2 * PANEL_HEIGHT + GAP + BOTTOM

    def x(day: date) -> float:
        return LEFT + plot_w * (day - start).days / span

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="trend" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'font-family="system-ui, sans-serif" font-size="11">',
        "<title>B12 and homocysteine results over time, with targets and injection dates</title>",
    ]
    b12_lines = (
        (trend.b12_adequate, f"adequate ≥ {trend.b12_adequate:g}", TARGET_COLOUR),
        (trend.b12_deficient, f"deficient < {trend.b12_deficient:g}", LOW_COLOUR),
    )
    hcy_lines = (
        (trend.homocysteine_target, f"target < {trend.homocysteine_target:g}", TARGET_COLOUR),
    )
    parts.extend(_panel("b12", "B12 (pmol/L)", trend.b12, b12_lines, B12_COLOUR, TOP, x))
    parts.extend(
        _panel(
            "homocysteine",
            "Homocysteine (µmol/L)",
            trend.homocysteine,
            hcy_lines,
            HCY_COLOUR,
            TOP + PANEL_HEIGHT + GAP,
            x,
        )
    )
    bottom = TOP + 2 * PANEL_HEIGHT + GAP
    for day in trend.injections:
        px = x(day)
        parts.append(
            f'<g class="injection" data-date="{day.isoformat()}">'
            f"<title>B12 injection {day.isoformat()}</title>"
            f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{TOP}" y2="{bottom}" '
            f'stroke="{INJECTION_COLOUR}" stroke-width="1" stroke-dasharray="2 3" opacity="0.7"/>'
            f'<path d="M{px - 5:.1f},{bottom + 10} L{px + 5:.1f},{bottom + 10} L{px:.1f},{bottom + 2} Z" '
            f'fill="{INJECTION_COLOUR}"/></g>'
        )
    tx = x(trend.today)
    parts.append(
        f'<g class="today"><line x1="{tx:.1f}" x2="{tx:.1f}" y1="{TOP}" y2="{bottom}" '
        f'stroke="#444" stroke-width="1"/><text x="{tx - 3:.1f}" y="{bottom + 34}" '
        f'text-anchor="end" fill="#444">today {trend.today.isoformat()}</text></g>'
    )
    parts.extend(_time_axis(start, end, x, bottom))
    parts.append(_legend(bool(trend.injections)))
    parts.append("</svg>")
    return "".join(parts)


def _panel(
    name: str,
    title: str,
    points: tuple[Point, ...],
    lines: tuple[tuple[float, str, str], ...],  # (value, label, colour) reference lines
    colour: str,
    top: int,
    x: Any,
) -> list[str]:
    values = [p.value for p in points]
    high = _nice_ceiling(max([*values, *(line[0] for line in lines)]) * 1.15)

    def y(value: float) -> float:
        return top + PANEL_HEIGHT - PANEL_HEIGHT * min(value, high) / high

    out = [
        f'<g class="panel" data-series="{name}">',
        f'<text x="{LEFT}" y="{top - 8}" font-weight="600" fill="#222">{escape(title)}</text>',
        f'<rect x="{LEFT}" y="{top}" width="{WIDTH - LEFT - RIGHT}" height="{PANEL_HEIGHT}" '
        f'fill="#fafafa" stroke="#ccc"/>',
    ]
    for i in range(5):
        value = high * i / 4
        py = y(value)
        out.append(
            f'<line x1="{LEFT - 4}" x2="{LEFT}" y1="{py:.1f}" y2="{py:.1f}" stroke="#888"/>'
            f'<text x="{LEFT - 7}" y="{py + 4:.1f}" text-anchor="end" fill="#555">{value:g}</text>'
        )
    for value, label, line_colour in lines:
        ty = y(value)
        out.append(
            f'<g class="target"><line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" '
            f'y2="{ty:.1f}" stroke="{line_colour}" stroke-width="1.5" stroke-dasharray="6 4"/>'
            f'<text x="{WIDTH - RIGHT - 4}" y="{ty - 5:.1f}" text-anchor="end" '
            f'fill="{line_colour}">{escape(label)}</text></g>'
        )
    if not points:
        out.append(
            f'<text x="{LEFT + 10}" y="{top + 18}" fill="#777">no results in this request</text>'
        )
    if len(points) > 1:
        coords = " ".join(f"{x(p.day):.1f},{y(p.value):.1f}" for p in points)
        out.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')
    for p in points:
        fill = "#fff" if p.comparator else colour  # hollow: a censored value such as "<150"
        out.append(
            f'<circle class="point" cx="{x(p.day):.1f}" cy="{y(p.value):.1f}" r="4" '
            f'fill="{fill}" stroke="{colour}" stroke-width="2" '
            f'data-date="{p.day.isoformat()}" data-value="{p.value:g}">'
            f"<title>{escape(p.label)}</title></circle>"
        )
    out.append("</g>")
    return out


def _time_axis(start: date, end: date, x: Any, bottom: int) -> list[str]:
    """Month ticks, thinned to at most eight labels."""
    months = []
    year, month = start.year, start.month
    while date(year, month, 1) <= end:
        if date(year, month, 1) >= start:
            months.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    step = max(1, -(-len(months) // 8))
    out = []
    for day in months[::step]:
        px = x(day)
        out.append(
            f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{bottom}" y2="{bottom + 4}" stroke="#888"/>'
            f'<text x="{px:.1f}" y="{bottom + 22}" text-anchor="middle" fill="#555">'
            f"{day.strftime('%b %Y')}</text>"
        )
    return out


def _legend(with_injections: bool) -> str:
    y = 12
    items = [
        (f'<circle cx="{LEFT + 4}" cy="{y - 4}" r="4" fill="{B12_COLOUR}"/>', "B12"),
        (f'<circle cx="{LEFT + 4}" cy="{y - 4}" r="4" fill="{HCY_COLOUR}"/>', "homocysteine"),
        (
            f'<line x1="{LEFT}" x2="{LEFT + 14}" y1="{y - 4}" y2="{y - 4}" stroke="{TARGET_COLOUR}" '
            f'stroke-width="1.5" stroke-dasharray="6 4"/>',
            "target",
        ),
    ]
    if with_injections:
        items.append(
            (
                f'<path d="M{LEFT - 1},{y} L{LEFT + 9},{y} L{LEFT + 4},{y - 8} Z" '
                f'fill="{INJECTION_COLOUR}"/>',
                "B12 injection",
            )
        )
    out = ['<g class="legend">']
    offset = WIDTH - RIGHT - 110 * len(items) - LEFT + 20
    for i, (mark, label) in enumerate(items):
        out.append(
            f'<g transform="translate({offset + i * 110},0)">{mark}'
            f'<text x="{LEFT + 20}" y="{y}" fill="#333">{label}</text></g>'
        )
    out.append("</g>")
    return "".join(out)


def _nice_ceiling(value: float) -> float:
    """A round axis maximum: 1, 2, 2.5 or 5 times a power of ten."""
    if value <= 0:
        return 1.0
    power = 10 ** (len(str(int(value))) - 1) if value >= 1 else 1
    for factor in (1, 2, 2.5, 5, 10):
        if value <= factor * power:
            return float(factor * power)
    return float(10 * power)
