"""The protocol layer: CDS Hooks schemas, request parsing and the error tree."""

from cds_service.protocol.catalog import Catalog, CatalogError, ServiceDefinition, load_catalog
from cds_service.protocol.errors import (
    BadRequest,
    ClientError,
    DataUnavailable,
    MethodNotAllowed,
    NotFound,
    ServiceError,
    TooLarge,
    Unauthorized,
)
from cds_service.protocol.request import FhirAuthorization, HookRequest, parse_hook_request

__all__ = [
    "BadRequest",
    "Catalog",
    "CatalogError",
    "ClientError",
    "DataUnavailable",
    "FhirAuthorization",
    "HookRequest",
    "MethodNotAllowed",
    "NotFound",
    "ServiceDefinition",
    "ServiceError",
    "TooLarge",
    "Unauthorized",
    "load_catalog",
    "parse_hook_request",
]
