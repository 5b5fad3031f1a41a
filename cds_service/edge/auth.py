"""Who may call a hook: the client JWT check (placeholder until JWT checking exists).

`authenticate` is the single seam: it returns when the caller is allowed and raises
`Unauthorized` otherwise. With `B12CDS_AUTH=none` (loopback only) everyone is allowed;
in `jwt` mode nobody is yet, and the 401 says how to get a working set-up.
"""

from __future__ import annotations

from flask import Request

from cds_service.protocol.errors import Unauthorized
from cds_service.settings import Settings


def authenticate(request: Request, settings: Settings) -> None:
    if not settings.auth_required:
        return
    raise Unauthorized(
        "this service requires a CDS Hooks client JWT, and client JWT checking is not "
        "available in this version: list trusted issuers in B12CDS_TRUSTED_CLIENTS once it is, "
        "or for local testing run 'b12-cds serve --no-auth' on a loopback address"
    )
