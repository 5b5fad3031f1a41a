"""Each shared clinical question answered once per hook call, not once per rule.

The record is immutable and every fact is a pure function of (record, policy, today), so a
fact's answer is kept in the record's own `memo` under its name and arguments (the policy by
identity: policies are frozen). Nothing outlives the record, so nothing can go stale.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from typing import Any, ParamSpec, TypeVar

from cds_service.policy import Policy
from cds_service.record.model import PatientRecord

P = ParamSpec("P")
R = TypeVar("R")


def _key(value: Any) -> Any:
    if isinstance(value, Policy):
        return ("policy", id(value))
    if isinstance(value, date | bool | int | str | None):
        return value
    raise TypeError(f"per_record: unsupported argument {type(value).__name__}")


def per_record(fn: Callable[P, R]) -> Callable[P, R]:
    """Keep `fn(record, ...)`'s answer in `record.memo` (arguments: policy, date, flags)."""
    name = f"{fn.__module__}.{fn.__qualname__}"

    @functools.wraps(fn)
    def remembered(*args: P.args, **kwargs: P.kwargs) -> R:
        record = args[0]
        assert isinstance(record, PatientRecord)  # noqa: S101 (a programming error)
        key = (name, *(_key(a) for a in args[1:]), *sorted((k, _key(v)) for k, v in kwargs.items()))
        memo = record.memo
        try:
            found: R = memo[key]
            return found
        except KeyError:
            pass
        result = fn(*args, **kwargs)
        memo[key] = result
        return result

    return remembered
