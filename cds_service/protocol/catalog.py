"""The hook catalog: `hooks/services` and `hooks/schemas`, loaded and checked once at start-up.

A bad service definition or schema stops the service before it answers anyone.
Schemas find each other by `$id` through one `referencing` registry, and every validator
is compiled here, so a hook call only runs precompiled checks. Before compiling, every
`$ref` that does not recurse is replaced by what it points to: resolving a reference
through the registry on each call cost more than the checks it led to.

Each schema is compiled twice: by `jsonschema-rs` (Rust), which answers "valid?" for a
whole hook call in microseconds, and by `jsonschema`, which is asked only when that
answer is no, for the message it has always given (its `best_match`). A body is refused
only when `jsonschema` names an error, so the two must agree for a body to be refused;
tests/protocol check that they agree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urldefrag, urljoin

import jsonschema_rs
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

    @property
    def observation_keys(self) -> frozenset[str]:
        """Prefetch keys whose template searches Observations (decoded typed, `body`)."""
        return frozenset(k for k, v in self.prefetch.items() if v.startswith("Observation?"))


@dataclass(frozen=True, slots=True)
class CompiledSchema:
    """One schema, compiled for a fast yes/no (`fast`) and for its messages (`python`)."""

    python: Draft202012Validator
    fast: Any  # jsonschema_rs.Draft202012Validator (the package ships no type hints)


@dataclass(frozen=True, slots=True)
class Catalog:
    services: tuple[ServiceDefinition, ...]  # in file-name order
    request: CompiledSchema
    response: CompiledSchema
    feedback: CompiledSchema
    discovery: CompiledSchema

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


def first_error(compiled: CompiledSchema, instance: Any, what: str) -> str | None:
    """The most relevant schema violation as one line naming the field, or None."""
    try:
        if compiled.fast.is_valid(instance):
            return None
    except (ValueError, TypeError, OverflowError):
        pass  # e.g. an integer beyond 64 bits: let jsonschema judge it
    error: ValidationError | None = best_match(compiled.python.iter_errors(instance))
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

    def compiled(name: str) -> CompiledSchema:
        uri = SCHEMA_BASE + name
        if uri not in schemas:
            raise CatalogError(f"hooks/schemas/{name} is missing")
        inlined = _inline(schemas[uri], uri, schemas, ())
        fast = jsonschema_rs.Draft202012Validator(
            inlined, retriever=_local(schemas), validate_formats=False
        )
        return CompiledSchema(Draft202012Validator(inlined, registry=registry), fast)

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


def _inline(node: Any, base: str, schemas: Mapping[str, Any], seen: tuple[str, ...]) -> Any:
    """`node` with non-recursive `$ref`s replaced by their targets; recursive ones made
    absolute (the registry still resolves those). Validation means exactly the same."""
    if isinstance(node, list):
        return [_inline(item, base, schemas, seen) for item in node]
    if not isinstance(node, dict):
        return node
    rest = {
        key: value
        if key in ("const", "enum", "default", "examples")
        else _inline(value, base, schemas, seen)
        for key, value in node.items()
        if key not in ("$ref", "$id", "$schema")
    }
    if "$ref" not in node:
        return rest
    target = urljoin(base, node["$ref"])
    if target in seen:  # recursive: keep it a reference
        return {"$ref": target, **rest}
    document, fragment = urldefrag(target)
    if document not in schemas:
        raise CatalogError(f"{base}: $ref {node['$ref']!r} points outside hooks/schemas")
    found: Any = schemas[document]
    for part in (p for p in fragment.split("/") if p):
        found = found[part.replace("~1", "/").replace("~0", "~")]
    inlined = _inline(found, document, schemas, (*seen, target))
    return {"allOf": [inlined], **rest} if rest else inlined


def _local(schemas: Mapping[str, Any]) -> Any:
    """A retriever for jsonschema-rs that knows only hooks/schemas (never the network)."""

    def retrieve(uri: str) -> Any:
        if uri not in schemas:
            raise CatalogError(f"$ref to {uri!r}, which is not in hooks/schemas")
        return schemas[uri]

    return retrieve


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
        if not jsonschema_rs.meta.is_valid(schema):  # fast; jsonschema says why
            try:
                Draft202012Validator.check_schema(schema)
            except SchemaError as exc:
                raise CatalogError(
                    f"{path}: not a valid draft 2020-12 schema: {exc.message}"
                ) from exc
        schemas[uri] = schema
    resources = [(uri, Resource.from_contents(s, DRAFT202012)) for uri, s in schemas.items()]
    registry: Registry[Any] = Registry().with_resources(resources).crawl()
    return registry, schemas


def _service_files(base: Path) -> list[Path]:
    files = sorted((base / "services").glob("*.json"))
    if not files:
        raise CatalogError(f"no service definitions in {base / 'services'}")
    return files


def _load_service(path: Path, validator: CompiledSchema) -> ServiceDefinition:
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
