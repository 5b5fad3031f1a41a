"""`b12-cds worklist EXPORT_DIR`: the patient-view rules over a whole FHIR Bulk Data export.

`evaluate_patient` is the unit of work: a plain, picklable function of one patient's
resources that returns plain dicts, so Dask (`dask.bag`), Spark (`rdd.groupBy`) or a
process pool can run it unchanged (README: Population worklist). `run_worklist` is the
single-machine driver: stream the export into a patient index on disk (`bulk.py`), evaluate
patients one at a time, keep rows on disk too, then write `worklist.csv` and
`worklist.json` most urgent first. Nothing is logged but counts: rows are patient data.
"""

from __future__ import annotations

import csv
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
from tqdm import tqdm

from cds_service.policy import Policy, load_policy
from cds_service.population.bulk import LoadStats, PatientIndex, export_files, medication_refs
from cds_service.record import read_record
from cds_service.rules import run_rules
from cds_service.rules.base import SEVERITY, RuleInput

HOOK = "patient-view"
COLUMNS = ("patient_id", "rule_id", "indicator", "key_fact", "date")
RULE_FAILED = "error"  # indicator of a row saying a rule could not run for this patient
_RANK = {**SEVERITY, RULE_FAILED: 3}  # a patient the rules could not check comes first

PolicySource = Policy | str | Path | None


@lru_cache(maxsize=8)
def _load_policy(source: str | None) -> Policy:
    return load_policy(Path(source) if source is not None else None)


def resolve_policy(policy: PolicySource) -> Policy:
    """A Policy as is; a path, built-in name or None (the default) loaded once per process."""
    if isinstance(policy, Policy):
        return policy
    return _load_policy(str(policy) if policy is not None else None)


def evaluate_patient(
    patient_id: str,
    resources: Sequence[Mapping[str, Any]],
    today: date,
    policy: PolicySource = None,
    medications: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[dict[str, str]]:
    """Worklist rows for one patient: one per patient-view rule that speaks.

    `resources` are the patient's raw FHIR resources in any order; `medications` maps
    Medication ids to resources, for orders that reference one. Pass `policy` as a path
    or built-in name (or None) when the function is shipped to other processes: `Policy`
    holds mapping proxies, which do not pickle.
    """
    rules_policy = resolve_policy(policy)
    found = list(resources)
    if medications:
        for ident in sorted(medication_refs(found)):
            medication = medications.get(ident)
            if medication is not None:
                found.append(medication)
    record = read_record(patient_id, found, rules_policy)
    run = run_rules(RuleInput(record, rules_policy, today, HOOK))
    day = today.isoformat()
    rows = [
        {
            "patient_id": patient_id,
            "rule_id": finding.rule_id,
            "indicator": finding.indicator,
            "key_fact": finding.summary,
            "date": day,
        }
        for finding in run.findings
    ]
    rows.extend(
        {
            "patient_id": patient_id,
            "rule_id": failure.rule_id,
            "indicator": RULE_FAILED,
            "key_fact": f"rule could not run on this record ({failure.error}); review by hand",
            "date": day,
        }
        for failure in run.failures
    )
    return rows


def sort_key(row: Mapping[str, str]) -> tuple[int, str, str]:
    """Most urgent first, then by patient and rule: the order a clinic works through."""
    return (-_RANK.get(row["indicator"], 0), row["patient_id"], row["rule_id"])


@dataclass
class WorklistSummary:
    patients: int = 0
    patients_needing_action: int = 0
    rows: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    load: LoadStats = field(default_factory=LoadStats)
    seconds: float = 0.0
    csv_path: Path | None = None
    json_path: Path | None = None


def run_worklist(
    export_dir: Path,
    out_dir: Path,
    today: date,
    policy: Policy,
    *,
    progress: bool = True,
    evaluate: Callable[..., list[dict[str, str]]] = evaluate_patient,
) -> WorklistSummary:
    """Index the export, evaluate every patient, and write the worklist files."""
    started = time.perf_counter()
    export_files(export_dir)  # fail before any work if the folder is wrong
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = WorklistSummary()
    with tempfile.TemporaryDirectory(prefix="b12cds-worklist-") as scratch:
        with PatientIndex(Path(scratch) / "index.sqlite3") as index:
            total = sum(p.stat().st_size for _, p in export_files(export_dir))
            with _bar(total, "reading export", "B", progress) as bar:
                summary.load = index.load(export_dir, on_bytes=bar.update)
            results = _Results(Path(scratch) / "rows.sqlite3")
            try:
                patients = index.patient_count()
                with _bar(patients, "evaluating", " patients", progress) as bar:
                    for patient_id, resources in index.groups():
                        rows = evaluate(patient_id, resources, today, policy, index.medications)
                        results.add(rows)
                        summary.patients += 1
                        summary.patients_needing_action += bool(rows)
                        for row in rows:
                            summary.by_rule[row["rule_id"]] = (
                                summary.by_rule.get(row["rule_id"], 0) + 1
                            )
                        bar.update(1)
                summary.rows = results.count()
                summary.csv_path, summary.json_path = _write(
                    results, out_dir, today, policy, summary
                )
            finally:
                results.close()
    summary.seconds = time.perf_counter() - started
    return summary


def _bar(total: int, what: str, unit: str, enabled: bool) -> tqdm[Any]:
    return tqdm(
        total=total,
        desc=what,
        unit=unit,
        unit_scale=unit == "B",
        file=sys.stderr,
        disable=not enabled,
        mininterval=0.5,
        leave=True,
    )


class _Results:
    """Worklist rows on disk, so a big population never holds them all in memory."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path)
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute(
            "CREATE TABLE row (rank INTEGER, patient_id TEXT, rule_id TEXT, "
            "indicator TEXT, key_fact TEXT, date TEXT)"
        )

    def add(self, rows: list[dict[str, str]]) -> None:
        if rows:
            self._db.executemany(
                "INSERT INTO row VALUES (?, ?, ?, ?, ?, ?)",
                [(-sort_key(r)[0], *(r[c] for c in COLUMNS)) for r in rows],
            )

    def count(self) -> int:
        found: int = self._db.execute("SELECT count(*) FROM row").fetchone()[0]
        return found

    def ordered(self) -> Iterator[dict[str, str]]:
        cursor = self._db.execute(
            "SELECT patient_id, rule_id, indicator, key_fact, date FROM row "
            "ORDER BY rank DESC, patient_id, rule_id"
        )
        for values in cursor:
            yield dict(zip(COLUMNS, values, strict=True))

    def close(self) -> None:
        self._db.close()


def _write(
    results: _Results, out_dir: Path, today: date, policy: Policy, summary: WorklistSummary
) -> tuple[Path, Path]:
    csv_path = out_dir / "worklist.csv"
    json_path = out_dir / "worklist.json"
    with csv_path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(results.ordered())
    head = {
        "date": today.isoformat(),
        "hook": HOOK,
        "policy": policy.name,
        "patientsChecked": summary.patients,
        "patientsNeedingAction": summary.patients_needing_action,
    }
    with json_path.open("wb") as stream:  # streamed: rows are never all in memory
        stream.write(orjson.dumps(head, option=orjson.OPT_INDENT_2)[:-2] + b',\n  "rows": [')
        for n, row in enumerate(results.ordered()):
            stream.write(b"," if n else b"")
            stream.write(b"\n    " + orjson.dumps(row))
        stream.write(b"\n  ]\n}\n")
    return csv_path, json_path


# --- the `b12-cds worklist` subcommand (registered in cli.py) ------------------------------


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "worklist",
        help="run the patient-view rules over a FHIR Bulk Data export (NDJSON) into a worklist",
        description="Reads EXPORT_DIR/<Type>[.part].ndjson[.gz] for Patient, Observation, "
        "Condition, Procedure, Medication*, streaming; writes worklist.csv and worklist.json.",
    )
    parser.add_argument("export_dir", metavar="EXPORT_DIR", type=Path)
    parser.add_argument("--out", type=Path, default=Path("."), help="output folder (default .)")
    parser.add_argument("--today", help="evaluate as of this date, YYYY-MM-DD (default: today)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def command(args: Any) -> int:
    """Exit 0 with files written; 2 with a one-line reason on bad input."""
    from cds_service.policy import PolicyError
    from cds_service.population.bulk import ExportError
    from cds_service.settings import Settings, SettingsError

    def fail(message: str) -> int:
        sys.stderr.write(f"b12-cds: worklist: {message}\n")
        return 2

    try:
        today = date.fromisoformat(args.today) if args.today else datetime.now(UTC).date()
    except ValueError:
        return fail(f"--today {args.today!r} is not a date such as 2026-11-25")
    try:
        policy = load_policy(Settings.from_env().policy)
    except (SettingsError, PolicyError) as exc:
        return fail(str(exc))
    try:
        summary = run_worklist(args.export_dir, args.out, today, policy, progress=not args.quiet)
    except ExportError as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"{exc.strerror or exc}: {exc.filename or ''}".strip(": "))
    skipped = sum(summary.load.skipped.values())
    sys.stderr.write(
        f"b12-cds: worklist: {summary.patients} patients checked, "
        f"{summary.patients_needing_action} need action ({summary.rows} rows), "
        f"{skipped} lines skipped, {summary.seconds:.1f} s; "
        f"wrote {summary.csv_path} and {summary.json_path}\n"
    )
    return 0
