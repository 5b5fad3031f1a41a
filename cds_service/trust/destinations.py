"""Where a caller may make the service go: only to the FHIR servers allowed for that client.

A hook call names `fhirServer` and may carry `fhirAuthorization`. Without a check, any
trusted client could make the service carry an access token, or probe, anywhere. So
before the data layer sees the request, a `fhirServer` that is not on the client's
`fhir_servers` list (B12CDS_TRUSTED_CLIENTS) is removed together with the token: prefetch
still answers, and data that would need a fetch is a 412 that says why. Both sides are
compared normalised (scheme, host, port, percent-escapes, dot segments), so
`https://ehr.example/fhir/../other` is not `https://ehr.example/fhir`. With auth off
(`--no-auth`, loopback only) there is no list and nothing is removed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from cds_service.protocol.errors import DataUnavailable
from cds_service.protocol.request import HookRequest
from cds_service.trust.auth import Caller
from cds_service.trust.trusted_clients import normalise_base

log = logging.getLogger(__name__)

REFUSED_NOTE = (
    "; fhirServer is not among this client's allowed FHIR servers "
    "(fhir_servers in B12CDS_TRUSTED_CLIENTS), so nothing was fetched from it"
)


def confine(request: HookRequest, caller: Caller) -> tuple[HookRequest, bool]:
    """The request as the data layer may see it, and whether its fhirServer was removed."""
    if caller.fhir_servers is None or request.fhir_server is None:
        return request, False
    base = normalise_base(request.fhir_server)
    if base is not None and base in caller.fhir_servers:
        # the data layer sees the normalised base: the one compared is the one called
        return replace(request, fhir_server=base), False
    log.warning("fhir_server_not_allowed", extra={"client": caller.issuer})
    return replace(request, fhir_server=None, fhir_authorization=None), True


@contextmanager
def explained(refused: bool) -> Iterator[None]:
    """A 412 after a removed fhirServer says that the server was not allowed."""
    try:
        yield
    except DataUnavailable as exc:
        if not refused:
            raise
        raise DataUnavailable(exc.diagnostics + REFUSED_NOTE) from None
