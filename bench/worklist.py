"""Benchmark: `b12-cds worklist` over a synthetic Bulk Data export, seconds and peak memory.

    python -m bench.worklist [--patients 10000] [--also 1000,2000] [--keep DIR]

For each size: write the export (`bench.worklist_export`, not timed), run the real command
`b12-cds worklist EXPORT --today 2026-11-25 --quiet` as a child process, and read its wall
time and peak resident memory (the child's ru_maxrss, via os.wait4). The worklist is then
checked row by row against the scenarios' expected.json, so a fast wrong answer fails.
Flat memory shows as a peak that does not grow with the number of patients.
Target (issue 9): 10,000 patients in under a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench.worklist_export import expected_rows, write_export

TODAY = "2026-11-25"
TARGET_SECONDS = 60


def _b12_cds() -> str:
    found = shutil.which("b12-cds")
    if found is None:
        raise SystemExit("b12-cds is not installed: pip install -e '.[dev]'")
    return found


def run_once(patients: int, workdir: Path) -> dict[str, float]:
    export = workdir / f"export-{patients}"
    out = workdir / f"out-{patients}"
    started = time.perf_counter()
    lines = write_export(export, patients)
    generated = time.perf_counter() - started
    size = sum(p.stat().st_size for p in export.iterdir())
    argv = [_b12_cds(), "worklist", str(export), "--out", str(out), "--today", TODAY, "--quiet"]
    started = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    stderr = child.stderr.read().decode() if child.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"worklist failed:\n{stderr}")
    _check(out / "worklist.csv", patients)
    return {
        "patients": patients,
        "resources": lines,
        "export_mb": size / 1e6,
        "generate_s": generated,
        "seconds": seconds,
        "peak_rss_mb": usage.ru_maxrss / 1024,  # Linux reports KiB
        "patients_per_s": patients / seconds,
    }


def _check(csv_path: Path, patients: int) -> None:
    got: dict[str, set[tuple[str, str]]] = defaultdict(set)
    with csv_path.open(encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            got[row["patient_id"]].add((row["rule_id"], row["indicator"]))
    wrong = [p for p, rows in expected_rows(patients).items() if got.get(p, set()) != rows]
    if wrong:
        raise SystemExit(
            f"worklist differs from expected.json for {len(wrong)} patients, e.g. {wrong[:3]}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.worklist")
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument(
        "--also", default="1000", help="smaller sizes, comma-separated, to show flat memory"
    )
    parser.add_argument("--keep", type=Path, help="write exports and worklists here and keep them")
    args = parser.parse_args(argv)
    sizes = sorted({int(n) for n in args.also.split(",") if n.strip()} | {args.patients})
    with tempfile.TemporaryDirectory(prefix="b12cds-bench-") as scratch:
        workdir = args.keep or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        results = [run_once(n, workdir) for n in sizes]
    print(f"cpu cores: {os.cpu_count()}; python {sys.version.split()[0]}")
    print(
        f"{'patients':>9} {'resources':>10} {'export MB':>10} {'seconds':>8} {'patients/s':>11} {'peak RSS MB':>12}"
    )
    for r in results:
        print(
            f"{r['patients']:>9,.0f} {r['resources']:>10,.0f} {r['export_mb']:>10.1f} "
            f"{r['seconds']:>8.2f} {r['patients_per_s']:>11,.0f} {r['peak_rss_mb']:>12.1f}"
        )
    largest = results[-1]
    verdict = "meets" if largest["seconds"] < TARGET_SECONDS else "MISSES"
    print(
        f"{largest['patients']:,.0f} patients in {largest['seconds']:.1f} s: {verdict} the {TARGET_SECONDS} s target; every row matched expected.json"
    )
    return 0 if verdict == "meets" else 1


if __name__ == "__main__":
    sys.exit(main())
