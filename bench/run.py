"""`python -m bench [--quick] [--json PATH]`: the whole benchmark in one run, one table.

Both servers run side by side with the same worker settings and are measured body by
body, interleaved (latency call by call, throughput in alternating rounds), so a slow
spell of this machine hits both alike.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from bench import inprocess, load, servers
from bench.synthetic import HOOKS, SIZES, HookBody, bodies

CONCURRENCY = 8
TARGETS = {
    "p50_vs_floor": 1.5,
    "rps_vs_floor": 0.60,  # issue 19
    "evaluate_vs_loads": 1.5,  # issue 19
    "p50_2000_vs_200": 10.0,
    "startup_s": 1.5,
    "rss_mb": 150.0,
}


@dataclass(frozen=True, slots=True)
class Budget:
    lat_count: int
    lat_seconds: float
    warmup: int
    tput_count: int
    tput_seconds: float
    reps: int
    rep_seconds: float
    starts: int


FULL = Budget(300, 4.0, 5, 3000, 4.0, 60, 1.5, 3)
QUICK = Budget(3, 0.1, 1, 8, 0.2, 2, 0.05, 1)


def _path(item: HookBody) -> str:
    return f"/cds-services/{item.service_id}"


def _start_both(workers: int, probe: HookBody, db_dir: str) -> dict[str, servers.Server]:
    env = servers.clean_env({"B12CDS_DATABASE_URL": f"sqlite:///{db_dir}/bench.sqlite3"})
    return {
        "floor": servers.start(
            "floor", servers.floor_command(workers), env, _path(probe), probe.body
        ),
        "service": servers.start(
            "service", servers.service_command(workers), env, _path(probe), probe.body
        ),
    }


def measure(budget: Budget, workers: int, sizes: tuple[int, ...]) -> dict[str, Any]:
    items = bodies(sizes)
    probe = items[0]
    result: dict[str, Any] = {
        "nproc": os.cpu_count(),
        "load_before": os.getloadavg(),
        "python": platform.python_version(),
        "workers": workers,
        "threads_per_worker": _threads(),
        "concurrency": CONCURRENCY,
        "bodies": {
            f"{b.n_labs}/{b.hook}": {"kb": len(b.body) / 1024, "resources": b.resources}
            for b in items
        },
    }
    print(f"# in-process ({len(items)} bodies)...", file=sys.stderr, flush=True)
    timed = inprocess.measure(items, budget.reps, budget.rep_seconds)
    result["inprocess"] = {f"{n}/{h}": asdict(v) for (n, h), v in timed.items()}

    startups: dict[str, list[tuple[float, float]]] = {"floor": [], "service": []}
    with tempfile.TemporaryDirectory(prefix="bench-") as db_dir:
        for _ in range(budget.starts - 1):  # extra cold starts, for the start-up median only
            for name, server in _start_both(workers, probe, db_dir).items():
                startups[name].append((server.listening_s, server.first_answer_s))
                server.stop()
        running = _start_both(workers, probe, db_dir)
        try:
            for name, server in running.items():
                startups[name].append((server.listening_s, server.first_answer_s))
            http: dict[str, dict[str, Any]] = {f"{i.n_labs}/{i.hook}": {} for i in items}
            addresses = {name: (sv.host, sv.port) for name, sv in running.items()}
            for hook in HOOKS:
                # every size and both servers in one round-robin: the p50 ratios between
                # sizes and between servers all come from the same minutes
                print(f"# HTTP latency, {hook}...", file=sys.stderr, flush=True)
                targets = {
                    f"{item.n_labs}/{hook}/{name}": (host, port, _path(item), item.body)
                    for item in items
                    if item.hook == hook
                    for name, (host, port) in addresses.items()
                }
                lats = load.latencies(
                    targets,
                    count=budget.lat_count,
                    seconds=budget.lat_seconds,
                    warmup=budget.warmup,
                )
                for target, lat in lats.items():
                    size_hook, _, name = target.rpartition("/")
                    http[size_hook][name] = asdict(lat)
            for item in items:
                key = f"{item.n_labs}/{item.hook}"
                print(f"# HTTP throughput {key}...", file=sys.stderr, flush=True)
                tputs = load.throughputs(
                    addresses,
                    _path(item),
                    item.body,
                    concurrency=CONCURRENCY,
                    count=budget.tput_count,
                    seconds=budget.tput_seconds,
                )
                for name in running:
                    http[key][name] |= {"rps": tputs[name].rps, "tput_count": tputs[name].count}
            result["http"] = http
            result["memory"] = {
                name: [{"pid": p, "rss_mb": r, "pss_mb": s} for p, r, s in server.memory()]
                for name, server in running.items()
            }
        finally:
            for server in running.values():
                server.stop()
    result["startup"] = {
        name: {
            "listening_s": statistics.median(s[0] for s in runs),
            "first_answer_s": statistics.median(s[1] for s in runs),
            "runs": len(runs),
        }
        for name, runs in startups.items()
    }
    result["load_after"] = os.getloadavg()
    result["ratios"] = ratios(result, sizes)
    return result


def _threads() -> int:
    from cds_service.edge.server import THREADS_PER_WORKER

    return THREADS_PER_WORKER


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


def ratios(result: dict[str, Any], sizes: tuple[int, ...]) -> list[dict[str, Any]]:
    """Each target with its measured value per hook; met only if every hook meets it."""
    http, inproc = result["http"], result["inprocess"]
    rows: list[dict[str, Any]] = []

    def add(name: str, values: dict[str, float], target: float, higher_is_better: bool) -> None:
        worst = min(values.values()) if higher_is_better else max(values.values())
        met = worst >= target if higher_is_better else worst <= target
        rows.append(
            {
                "name": name,
                "values": values,
                "target": target,
                "higher": higher_is_better,
                "met": met,
            }
        )

    mid = 200 if 200 in sizes else sizes[len(sizes) // 2]
    top = max(sizes)
    add(
        f"service p50 / HTTP-floor p50 at N={mid}",
        {
            h: _ratio(
                http[f"{mid}/{h}"]["service"]["p50_ms"], http[f"{mid}/{h}"]["floor"]["p50_ms"]
            )
            for h in HOOKS
        },
        TARGETS["p50_vs_floor"],
        False,
    )
    add(
        f"service rps / HTTP-floor rps at N={mid}, c={CONCURRENCY}",
        {
            h: _ratio(http[f"{mid}/{h}"]["service"]["rps"], http[f"{mid}/{h}"]["floor"]["rps"])
            for h in HOOKS
        },
        TARGETS["rps_vs_floor"],
        True,
    )
    add(
        f"service p50(N={top}) / p50(N={mid})",
        {
            h: _ratio(
                http[f"{top}/{h}"]["service"]["p50_ms"], http[f"{mid}/{h}"]["service"]["p50_ms"]
            )
            for h in HOOKS
        },
        TARGETS["p50_2000_vs_200"],
        False,
    )
    for n in sorted({mid, top}):
        add(
            f"in-process evaluate / json.loads at N={n}",
            {
                h: inproc[f"{n}/{h}"]["evaluate_ms"] / inproc[f"{n}/{h}"]["json_loads_ms"]
                for h in HOOKS
            },
            TARGETS["evaluate_vs_loads"],
            False,
        )
    add(
        "service start-up to first answer (s)",
        {"service": result["startup"]["service"]["first_answer_s"]},
        TARGETS["startup_s"],
        False,
    )
    add(
        "service RSS per worker (MB, max)",
        {"service": max((w["rss_mb"] for w in result["memory"]["service"]), default=math.nan)},
        TARGETS["rss_mb"],
        False,
    )
    return rows


def render(result: dict[str, Any]) -> str:
    out: list[str] = []
    w = out.append
    w(
        f"b12-cds benchmark: nproc={result['nproc']}, python {result['python']}, gunicorn asyncio "
        f"worker (edge/worker.py) {result['workers']} workers x {result['threads_per_worker']} "
        "app threads, loopback, "
        f"load avg before {result['load_before'][0]:.2f} / after {result['load_after'][0]:.2f}"
    )
    w("")
    w(
        "In-process (median ms): json.loads = parse floor; admit = decode + limits + schema; "
        "evaluate = record + rules + cards"
    )
    w(
        f"{'N':>5} {'hook':<13} {'KB':>6} {'res':>5} {'json.loads':>10} {'admit':>8} "
        f"{'evaluate':>9} {'eval/loads':>10} {'us/res':>7} {'cards':>5}"
    )
    for key, v in result["inprocess"].items():
        n, hook = key.split("/")
        b = result["bodies"][key]
        w(
            f"{n:>5} {hook:<13} {b['kb']:>6.0f} {b['resources']:>5} {v['json_loads_ms']:>10.3f} "
            f"{v['admit_ms']:>8.3f} {v['evaluate_ms']:>9.3f} "
            f"{v['evaluate_ms'] / v['json_loads_ms']:>10.2f} "
            f"{1000 * v['evaluate_ms'] / b['resources']:>7.1f} {v['cards']:>5}"
        )
    w("")
    w(f"HTTP (ms at concurrency 1; requests/s at concurrency {result['concurrency']})")
    w(
        f"{'N':>5} {'hook':<13} {'server':<8} {'n':>4} {'p50':>8} {'p95':>8} {'p99':>8} "
        f"{'rps':>8} {'p50/floor':>9} {'rps/floor':>9}"
    )
    for key, per in result["http"].items():
        n, hook = key.split("/")
        floor = per["floor"]
        for name, v in per.items():
            rel = name != "floor"
            w(
                f"{n:>5} {hook:<13} {name:<8} {v['count']:>4} {v['p50_ms']:>8.2f} "
                f"{v['p95_ms']:>8.2f} {v['p99_ms']:>8.2f} {v['rps']:>8.1f} "
                f"{_ratio(v['p50_ms'], floor['p50_ms']) if rel else 1.0:>9.2f} "
                f"{_ratio(v['rps'], floor['rps']) if rel else 1.0:>9.2f}"
            )
    w("")
    w("Start-up (median of runs; spawn -> 'Serving on' printed, spawn -> first hook call answered)")
    for name, s in result["startup"].items():
        w(
            f"  startup {name:<8} listening {s['listening_s']:.3f} s, first answer "
            f"{s['first_answer_s']:.3f} s ({s['runs']} runs)"
        )
    w("Memory after the run, per worker")
    for name, workers in result["memory"].items():
        for v in workers:
            w(
                f"  memory {name:<8} worker {v['pid']}: RSS {v['rss_mb']:.1f} MB, PSS {v['pss_mb']:.1f} MB"
            )
    w("")
    w("Ratios against the targets")
    for row in result["ratios"]:
        values = ", ".join(f"{k} {v:.2f}" for k, v in row["values"].items())
        sign = ">=" if row["higher"] else "<="
        w(
            f"  {'MET    ' if row['met'] else 'NOT MET'} {row['name']}: {values} (target {sign} {row['target']})"
        )
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run (seconds)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    args = parser.parse_args(argv)
    result = measure(QUICK if args.quick else FULL, args.workers, SIZES)
    result["mode"] = "quick" if args.quick else "full"
    sys.stdout.write(render(result))
    if args.json is not None:
        args.json.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    return 0
