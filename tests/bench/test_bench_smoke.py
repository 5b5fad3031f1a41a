"""`python -m bench --quick` runs end to end and prints every row (no timing assertions).

The benchmark starts the HTTP floor and the real `b12-cds serve --no-auth` on loopback,
so this also proves both servers answer every synthetic body with 200.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from bench.run import TARGETS
from bench.synthetic import HOOKS, SIZES

REPO = Path(__file__).resolve().parents[2]


def _run_module(*args: str) -> str:
    """stdout of `python -m ARGS` from the repository, without B12CDS_* settings; it must
    exit 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("B12CDS_")}
    done = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_quick_benchmark_prints_every_row(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    text = _run_module("bench", "--quick", "--json", str(out))
    assert re.search(r"nproc=\d+", text)
    for n in SIZES:
        for hook in HOOKS:
            in_process = rf"^\s*{n} {hook}\s+\d+\s+\d+(\s+[\d.]+){{5}}\s+\d+$"
            assert re.search(in_process, text, re.M), f"in-process row {n} {hook} missing"
            for server in ("floor", "service"):
                row = rf"^\s*{n} {hook}\s+{server}\s+\d+(\s+[\d.]+){{6}}$"
                assert re.search(row, text, re.M), f"HTTP row {n} {hook} {server} missing"
    for server in ("floor", "service"):
        assert re.search(rf"startup {server}\s+listening [\d.]+ s, first answer [\d.]+ s", text)
        assert re.search(rf"memory {server}\s+worker \d+: RSS [\d.]+ MB", text)
    verdicts = re.findall(r"^\s+(MET|NOT MET)\s+(.+?):", text, re.M)
    assert len(verdicts) == 7, text
    assert [name for _, name in verdicts][:1] == ["service p50 / HTTP-floor p50 at N=200"]

    result = json.loads(out.read_text())
    assert set(result["http"]) == {f"{n}/{h}" for n in SIZES for h in HOOKS}
    assert len(result["memory"]["service"]) == 2  # one row per gunicorn worker
    assert len(result["ratios"]) == 7
    assert len(TARGETS) == 6


def test_ablation_runs_every_variant_on_every_body() -> None:
    """`python -m bench.ablation` starts its four servers; each answers every body with 200
    (a non-200 answer stops the run with an error)."""
    text = _run_module("bench.ablation", "--rounds", "3")
    assert re.search(r"nproc=\d+", text)
    assert re.search(r"service\s+no-reader\s+edge-only\s+floor", text)
    for n in SIZES:
        for hook in HOOKS:
            row = rf"^{hook}\s+{n}(\s+[\d.]+ \(\s*[\d.]+\)){{4}}$"
            assert re.search(row, text, re.M), f"row {n} {hook} missing"
