"""A synthetic FHIR Bulk Data export for the worklist: N patients as NDJSON per resource type.

All data is made up. Patient i is a copy of one of the bundled patient-view scenarios
(`fixtures/*/`, template i mod the number of scenarios) under new ids, so the rules it must
trip are known from that scenario's `expected.json` (dates are relative to the fixtures'
today, 2026-11-25: run the worklist with `--today 2026-11-25`). Every other copy names its
B12 drug through a shared `Medication` resource instead of a code, and every patient gets
unrelated chemistry results and conditions, as a real export carries far more than the
rules read. Observations are split across `Observation.NNN.ndjson` files, and an
`Encounter.ndjson` the rules never read is written too.

    python -m bench.worklist_export OUT_DIR [--patients 10000] [--split 200000] [--seed 7]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
FIXTURE_TODAY = date(2026, 11, 25)
PATIENT = "@@PATIENT@@"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
# Unrelated results a real export carries (never read by the rules): code, display, unit, range.
CHEMISTRY = (
    ("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", 70, 180),
    ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 4.5, 9.5),
    ("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", 120, 280),
    ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.5, 1.6),
    ("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 132, 146),
    ("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 3.3, 5.3),
    (
        "1742-6",
        "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
        "U/L",
        8,
        60,
    ),
    ("3016-3", "Thyrotropin [Units/volume] in Serum or Plasma", "m[IU]/L", 0.3, 5.0),
)
OTHER_CONDITIONS = (
    ("38341003", "Hypertensive disorder"),
    ("195967001", "Asthma"),
    ("69896004", "Rheumatoid arthritis"),
    ("35489007", "Depressive disorder"),
)


@dataclass(frozen=True, slots=True)
class Template:
    scenario: str
    fires: tuple[tuple[str, str], ...]  # (rule id, indicator) expected.json says must speak
    variants: tuple[tuple[tuple[str, str], ...], ...]  # per variant: (type, json with PATIENT)
    medications: tuple[dict[str, Any], ...]  # Medication resources variant 1 references


def _resources(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("resourceType") == "Bundle":
            for entry in node.get("entry") or ():
                yield from _resources(entry.get("resource"))
        elif "resourceType" in node:
            yield node
        else:  # the prefetch object: key -> resource or Bundle
            for value in node.values():
                yield from _resources(value)
    elif isinstance(node, list):
        for item in node:
            yield from _resources(item)


def _as_reference(resource: dict[str, Any], formulary: dict[str, dict[str, Any]]) -> bool:
    """Swap a coded medication for a reference to a shared Medication resource."""
    concept = resource.get("medicationCodeableConcept")
    if not isinstance(concept, dict) or not concept.get("coding"):
        return False
    key = hashlib.sha1(json.dumps(concept, sort_keys=True).encode()).hexdigest()[:16]  # noqa: S324
    formulary.setdefault(key, {"resourceType": "Medication", "id": f"med-{key}", "code": concept})
    del resource["medicationCodeableConcept"]
    resource["medicationReference"] = {"reference": f"Medication/med-{key}"}
    return True


def load_templates(root: Path = FIXTURES) -> list[Template]:
    """Every patient-view scenario, with its patient and resource ids made placeholders."""
    templates: list[Template] = []
    for folder in sorted(p.parent for p in root.glob("*/request.json")):
        request = json.loads((folder / "request.json").read_text(encoding="utf-8"))
        if request.get("hook") != "patient-view":
            continue
        expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
        patient_id = request["context"]["patientId"]
        resources = list(_resources(request.get("prefetch")))
        formulary: dict[str, dict[str, Any]] = {}
        variants = []
        # every id, replaced in every resource, so references between resources still resolve
        new_ids = {
            r["id"]: f"{PATIENT}-r{n}"
            for n, r in enumerate(resources)
            if r["resourceType"] != "Patient" and isinstance(r.get("id"), str)
        }
        for variant in range(2):
            items = []
            for resource in json.loads(json.dumps(resources)):
                if variant == 1 and resource["resourceType"].startswith("Medication"):
                    _as_reference(resource, formulary)
                text = json.dumps(resource, separators=(",", ":"))
                for old, new in new_ids.items():
                    text = text.replace(old, new)
                items.append((resource["resourceType"], text.replace(patient_id, PATIENT)))
            variants.append(tuple(items))
        fires = tuple((f["rule"], f["indicator"]) for f in expected.get("fires", ()))
        templates.append(Template(folder.name, fires, tuple(variants), tuple(formulary.values())))
    return templates


def patient_id(i: int) -> str:
    return f"synthetic-{i:07d}"


def template_for(i: int, templates: list[Template]) -> tuple[Template, int]:
    """The scenario patient i copies, and which variant (1: medication by reference)."""
    return templates[i % len(templates)], (i // len(templates)) % 2


def _noise(pid: str, rng: random.Random) -> Iterator[tuple[str, dict[str, Any]]]:
    for n in range(rng.randint(10, 20)):
        code, display, unit, low, high = rng.choice(CHEMISTRY)
        day = FIXTURE_TODAY - timedelta(days=rng.randint(1, 1500))
        yield (
            "Observation",
            {
                "resourceType": "Observation",
                "id": f"{pid}-x{n}",
                "status": "final",
                "category": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                "code": "laboratory",
                            }
                        ]
                    }
                ],
                "code": {
                    "coding": [{"system": LOINC, "code": code, "display": display}],
                    "text": display,
                },
                "subject": {"reference": f"Patient/{pid}"},
                "effectiveDateTime": day.isoformat(),
                "valueQuantity": {
                    "value": round(rng.uniform(low, high), 1),
                    "unit": unit,
                    "system": "http://unitsofmeasure.org",
                    "code": unit,
                },
            },
        )
    for n in range(rng.randint(0, 2)):
        code, display = rng.choice(OTHER_CONDITIONS)
        yield (
            "Condition",
            {
                "resourceType": "Condition",
                "id": f"{pid}-c{n}",
                "clinicalStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                            "code": "active",
                        }
                    ]
                },
                "code": {
                    "coding": [{"system": SNOMED, "code": code, "display": display}],
                    "text": display,
                },
                "subject": {"reference": f"Patient/{pid}"},
                "onsetDateTime": (
                    FIXTURE_TODAY - timedelta(days=rng.randint(100, 4000))
                ).isoformat(),
            },
        )
    yield (
        "Encounter",
        {
            "resourceType": "Encounter",
            "id": f"{pid}-e0",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": {"reference": f"Patient/{pid}"},
        },
    )


class _Writers:
    """One NDJSON stream per type; Observation rolls over to a new part every `split` lines."""

    def __init__(self, out: Path, stack: ExitStack, split: int) -> None:
        self.out, self.stack, self.split = out, stack, split
        self.streams: dict[str, IO[str]] = {}
        self.observations = 0
        self.lines = 0

    def write(self, resource_type: str, text: str) -> None:
        key = resource_type
        if resource_type == "Observation":
            key = f"Observation.{self.observations // self.split + 1:03d}"
            self.observations += 1
        stream = self.streams.get(key)
        if stream is None:
            stream = self.stack.enter_context(
                (self.out / f"{key}.ndjson").open("w", encoding="utf-8")
            )
            self.streams[key] = stream
        stream.write(text)
        stream.write("\n")
        self.lines += 1


def write_export(out: Path, patients: int, *, seed: int = 7, split: int = 200_000) -> int:
    """Write the export into `out` (created); returns the number of NDJSON lines."""
    out.mkdir(parents=True, exist_ok=True)
    templates = load_templates()
    rng = random.Random(seed)
    with ExitStack() as stack:
        writers = _Writers(out, stack, split)
        for i in range(patients):
            template, variant = template_for(i, templates)
            pid = patient_id(i)
            for resource_type, text in template.variants[variant]:
                writers.write(resource_type, text.replace(PATIENT, pid))
            for resource_type, resource in _noise(pid, rng):
                writers.write(resource_type, json.dumps(resource, separators=(",", ":")))
        seen: set[str] = set()
        for template in templates:
            for medication in template.medications:
                if medication["id"] not in seen:
                    seen.add(medication["id"])
                    writers.write("Medication", json.dumps(medication, separators=(",", ":")))
        return writers.lines


def expected_rows(patients: int) -> dict[str, set[tuple[str, str]]]:
    """Patient id -> the (rule id, indicator) pairs the worklist must list for it."""
    templates = load_templates()
    return {patient_id(i): set(template_for(i, templates)[0].fires) for i in range(patients)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.worklist_export")
    parser.add_argument("out", type=Path)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--split", type=int, default=200_000, help="Observation lines per file")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    lines = write_export(args.out, args.patients, seed=args.seed, split=args.split)
    print(f"wrote {lines} resources for {args.patients} patients to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
