"""One result against a threshold, in the unit the lab reported (names no analyte, so a rule
that only compares results reads no more labs than it asks for)."""

from __future__ import annotations

from datetime import date

from cds_service.policy import Policy
from cds_service.record.model import LabResult


def b12_deficient(result: LabResult, policy: Policy) -> bool:
    """Below 133 pmol/L (180 ng/L), judged in the unit the lab reported."""
    return result.b12_below(
        policy.threshold("b12_deficient_pmol_l"), policy.threshold("b12_deficient_ng_l")
    )


def b12_adequate(result: LabResult, policy: Policy) -> bool:
    """At least 258 pmol/L (350 ng/L), judged in the unit the lab reported."""
    return result.b12_at_or_above(
        policy.threshold("b12_adequate_pmol_l"), policy.threshold("b12_adequate_ng_l")
    )


def holotc_adequate(result: LabResult, policy: Policy) -> bool:
    return result.comparator is None and result.value > policy.threshold("holotc_adequate_pmol_l")


def recent(result: LabResult | None, today: date, days: int) -> LabResult | None:
    if result is None or result.when.days_before(today) > days:
        return None
    return result
