"""Reading a FHIR Bulk Data export: NDJSON per resource type, grouped by patient on disk.

Why a SQLite temp index and not an in-memory dict or an external merge sort: a bulk export
is ordered by resource type, not by patient, so every patient's record is spread over all
files. Each line is parsed once to find its patient and written, as the raw bytes, to a
throw-away SQLite file; one index build then lets `groups()` stream patients in key order
with a cursor. Memory stays flat (one line, one patient's resources, and SQLite's bounded
page cache) whatever the export's size, the standard library does the sorting, and split
files (`Observation.001.ndjson`) or types in any order need no merge logic of ours.
`Medication` resources belong to no patient: they go into their own table and are looked up
by id (`MedicationLookup`) when a patient's order references one.
"""

from __future__ import annotations

import gzip
import itertools
import re
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from io import BufferedReader
from pathlib import Path
from typing import Any

import orjson

# Types the patient-view rules read (cds_service.record.reader.RECORD_TYPES).
RESOURCE_TYPES = (
    "Patient",
    "Observation",
    "Condition",
    "Procedure",
    "MedicationRequest",
    "MedicationStatement",
    "MedicationAdministration",
    "Medication",
)
_FILE_NAME = re.compile(r"^(?P<type>[A-Za-z]+)(?:[.\-_][\w.\-]*?)?\.ndjson(?:\.gz)?$")
_INSERT_BATCH = 5_000


class ExportError(ValueError):
    """The export folder is missing or holds no NDJSON for any type the rules read."""


def export_files(export_dir: Path) -> list[tuple[str, Path]]:
    """(resource type, file) for every NDJSON file of a type the rules read, in a stable order.

    `Observation.ndjson`, `Observation.001.ndjson`, `Observation-2.ndjson` and `.ndjson.gz`
    all count; other types (Encounter, ...) are ignored.
    """
    if not export_dir.is_dir():
        raise ExportError(f"no such export folder: {export_dir}")
    found: list[tuple[str, Path]] = []
    for path in sorted(export_dir.iterdir()):
        match = _FILE_NAME.match(path.name)
        if match and path.is_file() and match["type"] in RESOURCE_TYPES:
            found.append((match["type"], path))
    if not found:
        raise ExportError(
            f"{export_dir} holds no NDJSON file for {', '.join(RESOURCE_TYPES)} "
            "(expected names such as Patient.ndjson or Observation.001.ndjson)"
        )
    return found


def _open(path: Path) -> gzip.GzipFile | BufferedReader:
    return gzip.open(path, "rb") if path.name.endswith(".gz") else path.open("rb")


def _last_two(ref: str) -> tuple[str, str] | None:
    parts = ref.split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    return (parts[-2], parts[-1]) if len(parts) >= 2 and parts[-1] else None


def patient_of(resource: Mapping[str, Any]) -> str | None:
    """The patient id a resource belongs to ("Patient/x", an absolute URL, or Patient.id)."""
    if resource.get("resourceType") == "Patient":
        ident = resource.get("id")
        return ident if isinstance(ident, str) and ident else None
    for name in ("subject", "patient"):
        target = resource.get(name)
        ref = target.get("reference") if isinstance(target, dict) else None
        if isinstance(ref, str):
            found = _last_two(ref)
            return found[1] if found is not None and found[0] == "Patient" else None
    return None


def medication_refs(resources: list[Mapping[str, Any]]) -> set[str]:
    """Ids of the Medication resources these medication resources reference."""
    ids: set[str] = set()
    for resource in resources:
        target = resource.get("medicationReference")
        ref = target.get("reference") if isinstance(target, dict) else None
        if isinstance(ref, str) and not ref.startswith("#"):
            found = _last_two(ref)
            if found is not None and found[0] == "Medication":
                ids.add(found[1])
    return ids


@dataclass
class LoadStats:
    files: int = 0
    lines: int = 0
    resources: int = 0
    medications: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count (no content)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


class MedicationLookup(Mapping[str, Mapping[str, Any]]):
    """The export's Medication resources by id, read from the index on demand."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __getitem__(self, ident: str) -> Mapping[str, Any]:
        row = self._db.execute("SELECT body FROM medication WHERE id = ?", (ident,)).fetchone()
        if row is None:
            raise KeyError(ident)
        found: dict[str, Any] = orjson.loads(row[0])
        return found

    def __iter__(self) -> Iterator[str]:
        return (row[0] for row in self._db.execute("SELECT id FROM medication"))

    def __len__(self) -> int:
        count: int = self._db.execute("SELECT count(*) FROM medication").fetchone()[0]
        return count


class PatientIndex:
    """An export's resources on disk, keyed by patient; use as a context manager."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = sqlite3.connect(path)
        for pragma in (
            "journal_mode = OFF",  # a throw-away file: no crash safety needed
            "synchronous = OFF",
            "temp_store = FILE",
            "cache_size = -16384",  # 16 MiB page cache, whatever the export's size
        ):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute("CREATE TABLE resource (patient TEXT NOT NULL, body BLOB NOT NULL)")
        self._db.execute("CREATE TABLE medication (id TEXT PRIMARY KEY, body BLOB NOT NULL)")
        self.stats = LoadStats()
        self.medications = MedicationLookup(self._db)

    def __enter__(self) -> PatientIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def load(self, export_dir: Path, on_bytes: Any = None) -> LoadStats:
        """Stream every file line by line into the index; `on_bytes(n)` reports progress."""
        batch: list[tuple[str, bytes]] = []
        for resource_type, path in export_files(export_dir):
            self.stats.files += 1
            with _open(path) as stream:
                for line in stream:
                    if on_bytes is not None:
                        on_bytes(len(line))
                    self._take(line, resource_type, batch)
                    if len(batch) >= _INSERT_BATCH:
                        self._flush(batch)
        self._flush(batch)
        self._db.execute("CREATE INDEX resource_by_patient ON resource (patient)")
        self._db.commit()
        return self.stats

    def _take(self, line: bytes, file_type: str, batch: list[tuple[str, bytes]]) -> None:
        line = line.strip()
        if not line:
            return
        self.stats.lines += 1
        try:
            resource = orjson.loads(line)
        except orjson.JSONDecodeError:
            self.stats.skip("not JSON")
            return
        if not isinstance(resource, dict):
            self.stats.skip("not a JSON object")
            return
        resource_type = resource.get("resourceType")
        if resource_type not in RESOURCE_TYPES:
            self.stats.skip("resource type the rules do not read")
            return
        if resource_type == "Medication":
            ident = resource.get("id")
            if isinstance(ident, str) and ident:
                self._db.execute(
                    "INSERT OR REPLACE INTO medication (id, body) VALUES (?, ?)", (ident, line)
                )
                self.stats.medications += 1
            else:
                self.stats.skip("Medication without id")
            return
        patient = patient_of(resource)
        if patient is None:
            self.stats.skip("no patient reference")
            return
        batch.append((patient, line))
        self.stats.resources += 1

    def _flush(self, batch: list[tuple[str, bytes]]) -> None:
        if batch:
            self._db.executemany("INSERT INTO resource (patient, body) VALUES (?, ?)", batch)
            batch.clear()

    def patient_count(self) -> int:
        count: int = self._db.execute("SELECT count(DISTINCT patient) FROM resource").fetchone()[0]
        return count

    def groups(self) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """(patient id, that patient's resources) in patient-id order, one patient in memory."""
        cursor = self._db.execute("SELECT patient, body FROM resource ORDER BY patient")
        for patient, rows in itertools.groupby(cursor, key=lambda row: row[0]):
            yield patient, [orjson.loads(body) for _, body in rows]
