"""`b12-cds worklist` over FHIR Bulk Data exports, run as a user runs it (a real process).

The export is the synthetic one the benchmark uses (bench/worklist_export.py): every
patient-view scenario copied twice under new ids (once naming its drug through a shared
Medication resource), with unrelated results around it, so each patient's rows must be
exactly what the scenario's expected.json says fires, as of the fixtures' 2026-11-25.
"""

from __future__ import annotations

import csv
import gzip
import json
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from bench.worklist_export import expected_rows, load_templates, write_export
from cds_service.population.bulk import PatientIndex, patient_of
from cds_service.population.worklist import evaluate_patient, sort_key
from tests.support.live import REPO, b12_cds, service_env

TODAY = "2026-11-25"
RANK = {"error": 3, "critical": 2, "warning": 1, "info": 0}


def _run(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [b12_cds(), "worklist", *map(str, args)],
        cwd=REPO,
        env=service_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _by_patient(rows: list[dict[str, str]]) -> dict[str, set[tuple[str, str]]]:
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for row in rows:
        found[row["patient_id"]].add((row["rule_id"], row["indicator"]))
    return found


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    patients = 2 * len(load_templates())  # every scenario, both medication styles
    folder = tmp_path_factory.mktemp("export")
    write_export(folder, patients, split=400)  # several Observation.NNN.ndjson parts
    return folder, patients


@pytest.fixture(scope="module")
def worklist(export: tuple[Path, int], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder, _ = export
    out = tmp_path_factory.mktemp("worklist")
    result = _run(folder, "--out", out, "--today", TODAY)
    assert result.returncode == 0, result.stderr
    with (out / "worklist.csv").open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    document = json.loads((out / "worklist.json").read_text(encoding="utf-8"))
    return {"rows": rows, "json": document, "result": result}


def test_every_patient_gets_exactly_the_rules_its_scenario_fires(
    export: tuple[Path, int], worklist: dict[str, Any]
) -> None:
    folder, patients = export
    assert len(list(folder.glob("Observation.*.ndjson"))) > 1
    expected = {p: rows for p, rows in expected_rows(patients).items() if rows}
    assert _by_patient(worklist["rows"]) == expected
    assert all(row["date"] == TODAY for row in worklist["rows"])
    assert all(0 < len(row["key_fact"]) < 140 for row in worklist["rows"])


def test_csv_and_json_agree_and_the_most_urgent_come_first(
    export: tuple[Path, int], worklist: dict[str, Any]
) -> None:
    _, patients = export
    rows, document = worklist["rows"], worklist["json"]
    assert list(rows[0]) == ["patient_id", "rule_id", "indicator", "key_fact", "date"]
    assert document["rows"] == rows
    assert document["date"] == TODAY and document["hook"] == "patient-view"
    assert document["patientsChecked"] == patients
    assert document["patientsNeedingAction"] == len({r["patient_id"] for r in rows})
    ranks = [RANK[r["indicator"]] for r in rows]
    assert ranks == sorted(ranks, reverse=True) and ranks[0] == 2
    assert rows == sorted(rows, key=sort_key)


def test_progress_goes_to_stderr_and_nothing_to_stdout(worklist: dict[str, Any]) -> None:
    result = worklist["result"]
    assert result.stdout == ""
    assert "evaluating" in result.stderr and "patients" in result.stderr
    assert "patients checked" in result.stderr


def test_odd_exports_are_read_line_by_line_and_bad_lines_skipped(tmp_path: Path) -> None:
    """gzip parts, blank and broken lines, absolute references, other types, no Patient file."""
    template = next(t for t in load_templates() if t.scenario == "fires-homocysteine-at-target-10")
    export = tmp_path / "export"
    export.mkdir()
    lines: dict[str, list[str]] = defaultdict(list)
    for resource_type, text in template.variants[0]:
        if resource_type != "Patient":
            text = text.replace(
                '"Patient/@@PATIENT@@"', '"https://ehr.example.org/fhir/Patient/@@PATIENT@@"'
            )
            lines[resource_type].append(text.replace("@@PATIENT@@", "p-abs"))
    observations = lines.pop("Observation")
    (export / "Observation.000.ndjson").write_text(observations[0] + "\n\n{not json\n[1, 2]\n")
    with gzip.open(export / "Observation.001.ndjson.gz", "wt") as stream:
        stream.write("\n".join(observations[1:]) + "\n")
    for resource_type, items in lines.items():
        (export / f"{resource_type}.ndjson").write_text("\n".join(items) + "\n")
    (export / "Encounter.ndjson").write_text(
        '{"resourceType": "Encounter", "subject": {"reference": "Patient/p-abs"}}\n'
    )
    (export / "Condition.002.ndjson").write_text('{"resourceType": "Condition", "id": "orphan"}\n')

    with PatientIndex(tmp_path / "index.sqlite3") as index:
        stats = index.load(export)
        groups = list(index.groups())
    assert [pid for pid, _ in groups] == ["p-abs"]
    assert stats.skipped == {"not JSON": 1, "not a JSON object": 1, "no patient reference": 1}

    out = tmp_path / "out"
    result = _run(export, "--out", out, "--today", TODAY, "--quiet")
    assert result.returncode == 0, result.stderr
    assert "3 lines skipped" in result.stderr
    rows = list(csv.DictReader((out / "worklist.csv").open(encoding="utf-8")))
    assert [(r["patient_id"], r["rule_id"]) for r in rows] == [
        ("p-abs", "homocysteine-above-target")
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("no-such-folder",), "no such export folder"),
        (("{empty}",), "holds no NDJSON file"),
        (("{empty}", "--today", "25/11/2026"), "is not a date"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not an export")
    result = _run(*(a.replace("{empty}", str(empty)) for a in args), "--out", tmp_path / "out")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert result.stderr.startswith("b12-cds: worklist: ")


def test_the_same_per_patient_function_runs_unchanged_on_dask(
    export: tuple[Path, int], worklist: dict[str, Any]
) -> None:
    """The README's Dask recipe, verbatim in substance: dask.bag over the NDJSON parts."""
    from datetime import date

    import dask
    import dask.bag as db
    import orjson

    folder, _ = export
    today = date(2026, 11, 25)
    with dask.config.set(scheduler="processes", num_workers=2):
        resources = db.read_text(f"{folder}/*.ndjson", blocksize="256KiB").map(orjson.loads)
        assert resources.npartitions > 2
        medications = dict(
            resources.filter(lambda r: r["resourceType"] == "Medication")
            .map(lambda r: (r["id"], r))
            .compute()
        )
        rows = (
            resources.filter(lambda r: patient_of(r) is not None)
            .groupby(patient_of, shuffle="tasks")
            .map(lambda group: evaluate_patient(group[0], group[1], today, None, medications))
            .flatten()
            .compute()
        )
    assert medications, "the export names drugs through Medication resources too"
    rows.sort(key=sort_key)
    assert rows == worklist["rows"]
