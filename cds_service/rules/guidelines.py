"""The guidelines cards cite: one place for labels and URLs, referred to by name."""

from cds_service.rules.base import Guideline

PROTOCOL_MAINTENANCE = Guideline(
    "Local B12 protocol; BNF/SmPC hydroxocobalamin (1 mg IM every 2-3 months)",
    "https://www.medicines.org.uk/emc/medicine/31182",
)
BNF_HYDROXOCOBALAMIN = Guideline(
    "BNF/SmPC hydroxocobalamin", "https://bnf.nice.org.uk/drugs/hydroxocobalamin/"
)
BNF_FOLIC_ACID = Guideline(
    "BNF/SmPC folic acid: not alone in B12 deficiency", "https://bnf.nice.org.uk/drugs/folic-acid/"
)
NICE_NG239 = Guideline(
    "NICE NG239 (2024) Vitamin B12 deficiency in over 16s", "https://www.nice.org.uk/guidance/ng239"
)
PROTOCOL_MONITORING = Guideline(
    "Local B12 protocol (B12 and homocysteine 3-monthly until stable, then yearly)",
    "https://www.nice.org.uk/guidance/ng239",
)
CKS_B12 = Guideline(
    "NICE CKS Anaemia: B12 and folate deficiency",
    "https://cks.nice.org.uk/topics/anaemia-b12-folate-deficiency/",
)
MHRA_METFORMIN = Guideline(
    "MHRA Drug Safety Update (June 2022): metformin and B12",
    "https://www.gov.uk/drug-safety-update/metformin-and-reduced-vitamin-b12-levels-new-advice-for-monitoring-patients-at-risk",
)
