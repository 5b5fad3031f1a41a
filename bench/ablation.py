"""Where a hook call's time goes beyond the HTTP floor: the service with parts taken away.

`python -m bench.ablation [--rounds 60]` runs four servers side by side, measured call by
call in turn (as `python -m bench` does), on the benchmark's own bodies:

- `service`: `b12-cds serve`, unchanged;
- `no-reader`: the same app, but each worker reads the record of a body once and reuses it
  for every later call with that body (rules, cards, suppression and ledger still run);
- `edge-only`: the same app, but each worker evaluates a body once and answers every later
  call with that body from memory: what is left is the edge and protocol (auth, request
  id, the body's parse and shape check, the request model, the log line, metrics, headers);
- `floor`: the bare app of `bench.floor`.

It prints p50 per body and its ratio to the floor. It is a diagnostic, not a target: the
memoised variants are right only because every call of one body is the same call. A
server variant is started as `python -m bench.ablation --serve no-reader|edge-only`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Any

from bench import load, servers
from bench.synthetic import SIZES, bodies

VARIANTS = ("service", "no-reader", "edge-only", "floor")


def _serve(variant: str, workers: int) -> int:
    from cds_service.edge import evaluation, server
    from cds_service.edge.app import create_app
    from cds_service.settings import Settings

    if variant == "no-reader":
        read = evaluation.read_record  # type: ignore[attr-defined]
        records: dict[Any, Any] = {}

        def remembered_record(patient_id: str, resources: Any, *args: Any) -> Any:
            key = (len(resources), *args[2:])  # one bench body per hook and size
            if key not in records:
                records[key] = read(patient_id, resources, *args)
            return records[key]

        evaluation.read_record = remembered_record  # type: ignore[attr-defined,assignment]
    elif variant == "edge-only":
        evaluate = evaluation.Evaluator.evaluate
        answers: dict[Any, Any] = {}

        def remembered_answer(self: Any, service: Any, request: Any, *args: Any) -> Any:
            labs = (request.prefetch or {}).get("labs") or {}
            key = (service.id, len(labs.get("entry") or ()))
            if key not in answers:
                answers[key] = evaluate(self, service, request, *args)
            return answers[key]

        evaluation.Evaluator.evaluate = remembered_answer  # type: ignore[method-assign]
    else:
        raise SystemExit(f"unknown variant {variant!r}")
    settings = Settings.from_env(os.environ, auth="none", port=0, workers=workers)
    return server.serve(create_app(settings), settings)


def _command(variant: str, workers: int) -> list[str]:
    if variant == "service":
        return servers.service_command(workers)
    if variant == "floor":
        return servers.floor_command(workers)
    return [sys.executable, "-m", "bench.ablation", "--serve", variant, "--workers", str(workers)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.ablation", description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=60, help="measured calls per body")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--serve", choices=("no-reader", "edge-only"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return _serve(args.serve, args.workers)
    items = bodies(SIZES)
    probe = next(i for i in items if i.n_labs == SIZES[1])
    probe_path = f"/cds-services/{probe.service_id}"
    started: dict[str, servers.Server] = {}
    with tempfile.TemporaryDirectory() as folder:
        try:
            for n, variant in enumerate(VARIANTS):
                env = servers.clean_env({"B12CDS_DATABASE_URL": f"sqlite:///{folder}/{n}.db"})
                command = _command(variant, args.workers)
                started[variant] = servers.start(variant, command, env, probe_path, probe.body)
            print(f"p50 ms (ratio to floor), {args.rounds} calls per body, nproc={os.cpu_count()}")
            print(f"{'hook':13} {'N':>5} " + " ".join(f"{v:>16}" for v in VARIANTS))
            for item in items:
                path = f"/cds-services/{item.service_id}"
                targets = {v: (s.host, s.port, path, item.body) for v, s in started.items()}
                found = load.latencies(targets, count=args.rounds, seconds=60.0, warmup=5)
                floor = found["floor"].p50_ms
                cells = " ".join(
                    f"{found[v].p50_ms:>8.2f} ({found[v].p50_ms / floor:4.2f})" for v in VARIANTS
                )
                print(f"{item.hook:13} {item.n_labs:>5} {cells}", flush=True)
        finally:
            for server in started.values():
                server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
