"""The fast validator (jsonschema-rs) and jsonschema must agree on valid or not.

A hook call is let through on the fast answer alone, so a body jsonschema would refuse
must never pass it; these run both over the fuzzers' requests and feedback bodies.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings

from cds_service.protocol.catalog import CompiledSchema, load_catalog
from tests.security.test_fuzz import (
    feedback_bodies,
    mutated_requests,
    scratch_requests,
)

CATALOG = load_catalog()
AGREE = settings(max_examples=300, deadline=None, database=None)


def assert_agree(compiled: CompiledSchema, body: Any) -> None:
    errors = [e.message for e in compiled.python.iter_errors(body)]
    try:
        fast = compiled.fast.is_valid(body)
    except (ValueError, TypeError, OverflowError):
        return  # first_error falls back to jsonschema for these
    assert fast == (not errors), f"jsonschema-rs says {fast}, jsonschema found {errors[:3]}"


@AGREE
@given(mutated_requests())
def test_they_agree_on_mutated_hook_requests(body: dict[str, Any]) -> None:
    assert_agree(CATALOG.request, body)


@AGREE
@given(scratch_requests)
def test_they_agree_on_hook_requests_from_scratch(body: dict[str, Any]) -> None:
    assert_agree(CATALOG.request, body)


@AGREE
@given(feedback_bodies)
def test_they_agree_on_feedback_bodies(body: Any) -> None:
    assert_agree(CATALOG.feedback, body)
