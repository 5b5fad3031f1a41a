"""The hook catalog: `hooks/services` and `hooks/schemas`, loaded and checked once at start-up.

A bad service definition or schema stops the service before it answers anyone.
Schemas find each other by `$id` through one `referencing` registry, and every validator
is compiled here, so a hook call only runs precompiled checks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMA_BASE = "https://b12-cds.example.org/schemas/"
_MAX_MESSAGE = 300


class CatalogError(RuntimeError):
    """A file under hooks/ is missing, not JSON, or breaks its schema."""


@dataclass(frozen=True, slots=True)
class ServiceDefinition:
    id: str
    hook: str
    title: str
    description: str
    prefetch: Mapping[str, str]  # key -> template, in the order written
    document: Mapping[str, Any]  # the discovery entry exactly as written

    @property
    def is_order_hook(self) -> bool:
        return self.hook in ("order-select", "order-sign")


@dataclass(frozen=True, slots=True)
class Catalog:
    services: tuple[ServiceDefinition, ...]  # in file-name order
    request: Draft202012Validator
    response: Draft202012Validator
    feedback: Draft202012Validator
    discovery: Draft202012Validator

    def service(self, service_id: str) -> ServiceDefinition | None:
        return next((s for s in self.services if s.id == service_id), None)

    def service_for_hook(self, hook: str) -> ServiceDefinition | None:
        return next((s for s in self.services if s.hook == hook), None)

    def discovery_document(self) -> dict[str, Any]:
        return {"services": [dict(s.document) for s in self.services]}


def hooks_dir() -> Path:
    """`cds_service/_hooks` in an installed wheel, else the repository's `hooks/`."""
    packaged = Path(__file__).resolve().parents[1] / "_hooks"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "hooks"


def first_error(validator: Draft202012Validator, instance: Any, what: str) -> str | None:
    """The most relevant schema violation as one line naming the field, or None."""
    error: ValidationError | None = best_match(validator.iter_errors(instance))
    if error is None:
        return None
    where = "/" + "/".join(str(p) for p in error.absolute_path)
    message = error.message
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 3] + "..."
    return f"{what} field {where}: {message}"


@cache
def load_catalog(root: Path | None = None) -> Catalog:
    """Load, cross-check and compile everything under `root` (default: `hooks_dir()`)."""
    base = root or hooks_dir()
    registry, schemas = _load_schemas(base / "schemas")

    def compiled(name: str) -> Draft202012Validator:
        uri = SCHEMA_BASE + name
        if uri not in schemas:
            raise CatalogError(f"hooks/schemas/{name} is missing")
        return Draft202012Validator(schemas[uri], registry=registry)

    entry_validator = compiled("discovery-service.schema.json")
    services = tuple(_load_service(path, entry_validator) for path in _service_files(base))
    ids = [s.id for s in services]
    hooks = [s.hook for s in services]
    if len(set(ids)) != len(ids) or len(set(hooks)) != len(hooks):
        raise CatalogError("hooks/services: each service id and each hook must appear once")
    return Catalog(
        services=services,
        request=compiled("cds-request.schema.json"),
        response=compiled("cds-response.schema.json"),
        feedback=compiled("feedback.schema.json"),
        discovery=compiled("discovery.schema.json"),
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CatalogError(f"{path}: cannot be read as JSON: {exc}") from exc


def _load_schemas(folder: Path) -> tuple[Registry[Any], dict[str, Any]]:
    if not folder.is_dir():
        raise CatalogError(f"schema folder not found: {folder}")
    schemas: dict[str, Any] = {}
    for path in sorted(folder.rglob("*.json")):
        schema = _read_json(path)
        uri = schema.get("$id") if isinstance(schema, dict) else None
        if not isinstance(uri, str) or not uri.startswith(SCHEMA_BASE):
            raise CatalogError(f"{path}: needs an $id under {SCHEMA_BASE}")
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            raise CatalogError(f"{path}: not a valid draft 2020-12 schema: {exc.message}") from exc
        schemas[uri] = schema
    resources = [(uri, Resource.from_contents(s, DRAFT202012)) for uri, s in schemas.items()]
    registry: Registry[Any] = Registry().with_resources(resources).crawl()
    return registry, schemas


def _service_files(base: Path) -> list[Path]:
    files = sorted((base / "services").glob("*.json"))
    if not files:
        raise CatalogError(f"no service definitions in {base / 'services'}")
    return files


def _load_service(path: Path, validator: Draft202012Validator) -> ServiceDefinition:
    doc = _read_json(path)
    problem = first_error(validator, doc, path.name)
    if problem:
        raise CatalogError(f"hooks/services/{problem}")
    prefetch = doc.get("prefetch", {})
    return ServiceDefinition(
        id=doc["id"],
        hook=doc["hook"],
        title=doc["title"],
        description=doc["description"],
        prefetch=MappingProxyType(dict(prefetch)),
        document=MappingProxyType(doc),
    )
