"""The guidelines cards cite: one place for labels and URLs, referred to by name.

A card cites what supports its advice: the local protocol for what only the protocol says
(the monitoring schedule, the homocysteine target: no national guideline sets them), a
national source where it says it. The local protocol's label and URL are the site's
(`local_protocol` in the policy).
"""

from cds_service.policy import Policy
from cds_service.rules.base import Guideline

BNF_HYDROXOCOBALAMIN = Guideline(
    "BNF/SmPC hydroxocobalamin (1 mg IM every 2-3 months; every 2 months with neurological involvement)",
    "https://bnf.nice.org.uk/drugs/hydroxocobalamin/",
)
BNF_FOLIC_ACID = Guideline(
    "BNF/SmPC folic acid: never alone or with inadequate B12 in B12 deficiency",
    "https://bnf.nice.org.uk/drugs/folic-acid/",
)
NICE_NG239 = Guideline(
    "NICE NG239 (2024) Vitamin B12 deficiency in over 16s", "https://www.nice.org.uk/guidance/ng239"
)
CKS_B12 = Guideline(
    "NICE CKS Anaemia: B12 and folate deficiency",
    "https://cks.nice.org.uk/topics/anaemia-b12-folate-deficiency/",
)
MHRA_METFORMIN = Guideline(
    "MHRA Drug Safety Update (June 2022): metformin and B12",
    "https://www.gov.uk/drug-safety-update/metformin-and-reduced-vitamin-b12-levels-new-advice-for-monitoring-patients-at-risk",
)
NICE_NG225_SELF_HARM = Guideline(
    "PHQ-9 item 9: a positive answer needs a risk assessment today (NICE NG225 self-harm)",
    "https://www.nice.org.uk/guidance/ng225",
)


# The default policy's `local_protocol`: what rule modules name as their GUIDELINE (the card
# itself cites the site's, from the policy).
LOCAL_PROTOCOL = Guideline(
    "Local B12 protocol (maintenance after loading)", "https://b12-cds.example.org/protocol"
)


def local_protocol(policy: Policy, what: str = "") -> Guideline:
    """The site's own protocol, e.g. "Local B12 protocol: B12 and homocysteine every 3
    months until stable, then yearly"."""
    label = policy.local_protocol["label"]
    return Guideline(f"{label}: {what}" if what else label, policy.local_protocol["url"])
