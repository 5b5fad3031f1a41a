"""The README's worked trust-file example is a valid trust file, and its sandbox key is the
one the sandbox signs with (kid from the recorded sandbox JWT header)."""

from __future__ import annotations

import json
import re

from cds_service.trust.trusted_clients import parse_trusted_clients
from tests.support.live import REPO

SANDBOX_KID = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"


def test_readme_trust_file_example_loads() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Configuring a trusted client", 1)[1]
    example = re.search(r"```json\n(.*?)```", section, flags=re.DOTALL)
    assert example is not None
    clients = parse_trusted_clients(json.loads(example.group(1)))
    sandbox = clients.get("https://sandbox.cds-hooks.org")
    assert sandbox is not None and SANDBOX_KID in sandbox.keys
    assert sandbox.jku_allowed("https://sandbox.cds-hooks.org/.well-known/jwks.json")
    assert sandbox.fhir_servers == ()
    ehr = clients.get("https://ehr.hospital.example/cds-client")
    assert ehr is not None and ehr.fhir_servers == ("https://ehr.hospital.example/fhir/r4",)
    assert ehr.tenant == "hospital-1"
