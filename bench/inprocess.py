"""In-process timings: `json.loads` of a body (the parse floor) against the service's work.

`evaluate` is `Evaluator.evaluate` on an already-validated request without a store: the
record view, every rule for the hook, and card rendering (with FHIR suggestions). `admit`
is what the edge does before it: orjson decode, the shape limits and schema validation.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from bench.synthetic import HookBody
from cds_service.edge.evaluation import Evaluator, utc_today
from cds_service.policy import load_policy
from cds_service.protocol.catalog import ServiceDefinition, load_catalog
from cds_service.protocol.limits import check_request_shape
from cds_service.protocol.request import HookRequest, decode_json, hook_request_from
from cds_service.settings import Settings


@dataclass(frozen=True, slots=True)
class InProcess:
    json_loads_ms: float
    admit_ms: float
    evaluate_ms: float
    cards: int

    @property
    def evaluate_over_loads(self) -> float:
        return self.evaluate_ms / self.json_loads_ms


def _median_ms(call: Callable[[], Any], reps: int, seconds: float) -> float:
    call()  # warm caches (policy index, pydantic models)
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(samples) < reps and (len(samples) < 3 or time.perf_counter() < deadline):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def measure(bodies: list[HookBody], reps: int, seconds: float) -> dict[tuple[int, str], InProcess]:
    catalog = load_catalog()
    settings = Settings()
    evaluator = Evaluator(catalog, load_policy(settings.policy), settings, utc_today, None)
    found: dict[tuple[int, str], InProcess] = {}
    for item in bodies:
        service = catalog.service(item.service_id)
        if service is None:
            raise LookupError(item.service_id)
        body = item.body

        def admit(body: bytes = body, service: ServiceDefinition = service) -> HookRequest:
            data = decode_json(body, observation_keys=service.observation_keys)
            check_request_shape(data)
            return hook_request_from(data, service, catalog)

        def evaluate(r: HookRequest, service: ServiceDefinition = service) -> Any:
            return evaluator.evaluate(service, r)

        request = admit()
        loads = _median_ms(partial(json.loads, body), reps, seconds)
        admitted = _median_ms(admit, reps, seconds)
        evaluated = _median_ms(partial(evaluate, request), reps, seconds)
        cards = evaluate(request).card_count
        found[(item.n_labs, item.hook)] = InProcess(loads, admitted, evaluated, cards)
    return found
