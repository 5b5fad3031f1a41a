"""Prometheus metrics, correct under gunicorn's several worker processes.

Single process (tests, `create_app` alone): a private registry. Under `b12-cds serve`,
`server.py` calls `enable_multiprocess()` before workers fork: every process then
writes its samples to files in PROMETHEUS_MULTIPROC_DIR, `GET /metrics` (any worker)
sums them, and a worker's live files are retired when it exits.

Helpers for other parts of the edge: `hook_call`, `cards_issued`, `card_suppressed`,
`rule_failed`, `feedback_outcome`, and `fhir_fetch(outcome)` for the FHIR fallback
(the data layer sits below the edge, so it reports fetch outcomes back and the edge
records them; see `fhir_fetch`). Labels are ids and statuses only, never patient data.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, values
from prometheus_client import multiprocess as prom_multiprocess

ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UP = b"# HELP b12cds_up Whether the B12 CDS service is up.\n# TYPE b12cds_up gauge\nb12cds_up 1.0\n"
FHIR_OUTCOMES = frozenset(
    {"ok", "error", "timeout", "unauthorized", "not-found", "bad-response", "busy"}
)


@dataclass(frozen=True, slots=True)
class _Instruments:
    registry: CollectorRegistry | None  # None: multiprocess, read from files instead
    hook_calls: Counter
    hook_seconds: Histogram
    cards: Counter
    suppressed: Counter
    rule_failures: Counter
    feedback: Counter
    fhir_fetches: Counter


def _build(registry: CollectorRegistry | None) -> _Instruments:
    return _Instruments(
        registry=registry,
        hook_calls=Counter(
            "b12cds_hook_calls",
            "Hook calls answered, by service and HTTP status.",
            ["service", "status"],
            registry=registry,
        ),
        hook_seconds=Histogram(
            "b12cds_hook_duration_seconds",
            "Time to answer a hook call, by service.",
            ["service"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        cards=Counter(
            "b12cds_cards",
            "Cards returned, by rule and indicator.",
            ["rule", "indicator"],
            registry=registry,
        ),
        suppressed=Counter(
            "b12cds_cards_suppressed",
            "Cards held back by the alert-fatigue policy, by rule and why.",
            ["rule", "reason"],
            registry=registry,
        ),
        rule_failures=Counter(
            "b12cds_rule_failures",
            "Rules that raised instead of answering, by rule.",
            ["rule"],
            registry=registry,
        ),
        feedback=Counter(
            "b12cds_feedback",
            "Feedback outcomes stored (duplicates not counted), by rule and outcome.",
            ["rule", "outcome"],
            registry=registry,
        ),
        fhir_fetches=Counter(
            "b12cds_fhir_fetches",
            "FHIR fallback requests, by outcome (ok or a failure kind).",
            ["outcome"],
            registry=registry,
        ),
    )


_state: dict[str, _Instruments] = {}
_state_dirs: list[tuple[int, Path]] = []  # (creator pid, directory) to remove at exit


def _instruments() -> _Instruments:
    found = _state.get("i")
    if found is None:
        found = _state["i"] = _build(None if os.environ.get(ENV) else CollectorRegistry())
    return found


def enable_multiprocess(directory: Path | None = None) -> Path:
    """Switch to file-backed samples; call in the parent before workers fork.

    Uses PROMETHEUS_MULTIPROC_DIR when the operator set it (emptied first: samples of
    an earlier run would be summed in), else a fresh temporary directory.
    Returns the directory; `cleanup_multiprocess` removes one this function created.
    """
    preset = os.environ.get(ENV)
    if directory is None and preset:
        directory = Path(preset)
        for stale in directory.glob("*.db"):
            stale.unlink()
    elif directory is None:
        directory = Path(tempfile.mkdtemp(prefix="b12cds-metrics-"))
        _state_dirs.append((os.getpid(), directory))
    directory.mkdir(parents=True, exist_ok=True)
    os.environ[ENV] = str(directory)
    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
    _state.pop("i", None)  # rebuild on first use, now file-backed
    return directory


def worker_exited(pid: int) -> None:
    """gunicorn `child_exit`: retire the worker's live files (its counters stay summed)."""
    if os.environ.get(ENV):
        prom_multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def cleanup_multiprocess() -> None:
    """Server exit: remove the directory `enable_multiprocess` created.

    Only in the process that created it: a gunicorn worker unwinds through the same
    `serve()` call when it exits, and must leave the directory to its siblings.
    """
    while _state_dirs:
        pid, directory = _state_dirs.pop()
        if pid == os.getpid():
            shutil.rmtree(directory, ignore_errors=True)


def exposition() -> bytes:
    """The Prometheus text of every process's samples (plus `b12cds_up`, so a scrape
    before the first call still shows a series)."""
    instruments = _instruments()
    if instruments.registry is not None:
        return generate_latest(instruments.registry) + UP
    registry = CollectorRegistry()
    prom_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry) + UP


def hook_call(service_id: str, status: int, seconds: float) -> None:
    instruments = _instruments()
    instruments.hook_calls.labels(service_id, str(status)).inc()
    instruments.hook_seconds.labels(service_id).observe(seconds)


def cards_issued(rule_id: str, indicator: str) -> None:
    _instruments().cards.labels(rule_id, indicator).inc()


def card_suppressed(rule_id: str, reason: str) -> None:
    _instruments().suppressed.labels(rule_id, reason).inc()


def rule_failed(rule_id: str) -> None:
    _instruments().rule_failures.labels(rule_id).inc()


def feedback_outcome(rule_id: str, outcome: str) -> None:
    _instruments().feedback.labels(rule_id, outcome).inc()


def fhir_fetch(outcome: str, count: int = 1) -> None:
    """Count FHIR fallback requests: `outcome` is "ok" or a failure kind ("error",
    "timeout", "unauthorized", "not-found", "bad-response", "busy": refused by the
    bulkhead, B12CDS_FHIR_CONCURRENCY); others count as "error"
    so the label set stays small."""
    if count > 0:
        label = outcome if outcome in FHIR_OUTCOMES else "error"
        _instruments().fhir_fetches.labels(label).inc(count)
