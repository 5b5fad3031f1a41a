"""Whether a patient is in B12 deficiency care: what makes a B12 regimen "maintenance".

An over-the-counter B12 tablet in a patient never shown deficient is not B12 maintenance:
the maintenance rules (monitoring, symptom recurrence, a rising homocysteine) speak only
for a treated deficiency, a deficiency shown now or before, or a cause of malabsorption.
"""

from __future__ import annotations

from datetime import date

from cds_service.policy import Policy
from cds_service.record.model import PatientRecord
from cds_service.rules.facts.causes import irreversible_causes, other_malabsorption
from cds_service.rules.facts.deficiency import deficiency_history, known_deficiency
from cds_service.rules.facts.memo import per_record
from cds_service.rules.facts.therapy import maintenance_in_place, treated_deficiency


@per_record
def in_b12_care(record: PatientRecord, policy: Policy) -> bool:
    return bool(
        treated_deficiency(record)
        or known_deficiency(record, policy)
        or deficiency_history(record, policy)
        or irreversible_causes(record, policy)
        or other_malabsorption(record)
    )


@per_record
def on_b12_maintenance(record: PatientRecord, policy: Policy, today: date) -> bool:
    """A maintenance regimen in place for a B12 deficiency (not a supplement)."""
    return maintenance_in_place(record, policy, today) and in_b12_care(record, policy)
