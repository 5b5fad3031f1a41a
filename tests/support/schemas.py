"""The strict-writer check every 200 hook response in the suite goes through."""

from __future__ import annotations

from typing import Any

from cds_service.protocol.catalog import CompiledSchema, load_catalog


def _problems(compiled: CompiledSchema, body: Any) -> list[str]:
    """Every violation `jsonschema` finds; the fast validator must agree on valid or not."""
    problems = [
        f"/{'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in compiled.python.iter_errors(body)
    ]
    assert compiled.fast.is_valid(body) == (not problems), (
        f"jsonschema-rs and jsonschema disagree (jsonschema found {problems[:3]})"
    )
    return problems


def assert_valid_response(body: Any) -> None:
    """Fail unless `body` validates against hooks/schemas/cds-response.schema.json."""
    problems = _problems(load_catalog().response, body)
    assert not problems, "response breaks cds-response.schema.json:\n" + "\n".join(problems)


def assert_valid_discovery(body: Any) -> None:
    problems = _problems(load_catalog().discovery, body)
    assert not problems, "discovery breaks discovery.schema.json:\n" + "\n".join(problems)


def assert_operation_outcome(body: Any) -> str:
    """Check an error body is an OperationOutcome and return its diagnostics."""
    assert isinstance(body, dict), body
    assert body.get("resourceType") == "OperationOutcome", body
    issue = body["issue"][0]
    assert issue["severity"] == "error"
    diagnostics = issue["diagnostics"]
    assert isinstance(diagnostics, str) and diagnostics.strip()
    return diagnostics
